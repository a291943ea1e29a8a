#pragma once
#include <string>
#include <sys/types.h>

#include "common/config.h"

namespace proxyd::worker {

// The identity a worker will take: resolved before chroot (NSS does not work inside it).
struct Identity {
    bool change = false;  // false when not started as root: nothing to switch
    uid_t uid = 0;
    gid_t gid = 0;
};

// From `user`/`uid`/`group`/`gid`; a root-started worker with no user runs as 'nobody'.
// Returns an error message, or "" on success.
std::string resolve_identity(const common::GlobalConf& g, Identity* out);

// In this order: chroot + chdir("/"), drop supplementary groups, setgid, setuid, keep only
// the `setcap` capabilities with empty bounding and ambient sets (libcap-ng, v3 ABI),
// PR_SET_NO_NEW_PRIVS unless insecure-setuid-wanted, RLIMIT_NPROC 0 unless
// insecure-fork-wanted. Returns "" or a message naming the failed step; after a failure
// the process is half-dropped and must exit.
std::string drop_privileges(const common::GlobalConf& g, const Identity& id);

}  // namespace proxyd::worker
