// Puts a finished folder in place of another by rename, so readers see the old or the new one whole.
#pragma once

#include <string>

namespace packbench {

// Renames the finished folder `tmp` to `target`, replacing an existing folder (moved aside first,
// restored if the rename fails, removed after), then fsyncs the parent folder. Throws
// packbench::Error naming the paths.
void replace_folder(const std::string& tmp, const std::string& target);

}  // namespace packbench
