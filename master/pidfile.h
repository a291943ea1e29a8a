#pragma once
// Atomic pidfile: temp file in the same directory (O_EXCL|O_NOFOLLOW), fsync, rename over
// the target, fsync of the directory. A symlink at the path is replaced, never followed.
#include <string>
#include <sys/types.h>

#include "common/result.h"

namespace proxyd::master {

common::Result<void> write_pidfile(const std::string& path, pid_t pid);
// Removes the file if it still holds `pid` (another instance may have taken it over).
void remove_pidfile_if_ours(const std::string& path, pid_t pid);

}  // namespace proxyd::master
