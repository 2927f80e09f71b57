// Default locations: environment overrides win over the cache defaults.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/paths.h"

TEST(Paths, TokenizerDirHonoursEnvironment) {
  setenv("PACKBENCH_TOKENIZER", "/tmp/some-tokenizer", 1);
  EXPECT_EQ(packbench::default_tokenizer_dir(), "/tmp/some-tokenizer");
  unsetenv("PACKBENCH_TOKENIZER");
  setenv("PACKBENCH_CACHE", "/tmp/pbcache", 1);
  EXPECT_EQ(packbench::default_tokenizer_dir(), "/tmp/pbcache/tokenizers/llama3");
  unsetenv("PACKBENCH_CACHE");
}
