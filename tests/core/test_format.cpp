// Thousands separators as people write them.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "core/format.h"

TEST(Format, WithCommas) {
  EXPECT_EQ(packbench::with_commas(0), "0");
  EXPECT_EQ(packbench::with_commas(999), "999");
  EXPECT_EQ(packbench::with_commas(1000), "1,000");
  EXPECT_EQ(packbench::with_commas(8030261248), "8,030,261,248");
  EXPECT_EQ(packbench::with_commas(-1234567), "-1,234,567");
  EXPECT_EQ(packbench::with_commas(std::numeric_limits<int64_t>::min()), "-9,223,372,036,854,775,808");
}
