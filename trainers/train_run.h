// `packbench train`: configuration, process group, data, model, training loop, outputs.
#pragma once

#include <string>
#include <vector>

#include "datasets/types.h"
#include "trainers/train_config.h"

namespace packbench::train {

// Runs one training as the command line asks (this process is one rank when RANK/WORLD_SIZE
// are set). Throws packbench::Error for bad input or a failed run.
void run_train_command(const std::string& config_path, const std::vector<std::string>& overrides);

// Reads rows from a JSONL file: one {"input_ids": [...], "labels": [...], optional
// "segment_offsets": [...], optional "position_ids": [...]} object per line. Missing positions
// are 0..L-1 (cross) or restart per segment (block).
std::vector<data::Row> read_rows_jsonl(const std::string& path, bool block);

}  // namespace packbench::train
