#pragma once
// Thin socket wrappers shared by master and worker. Every fd is born CLOEXEC.
#include <string>

#include "common/address.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace proxyd::common {

struct BindConf;

struct ListenOptions {
    int backlog = 1024;
    bool reuseport = true;  // SO_REUSEPORT, as HAProxy does unless 'noreuseport'
};

// Creates, binds and listens. UNIX sockets are created atomically: bound under
// "<path>.<pid>.tmp", given their mode and owner, then renamed over <path>, so a client
// never sees a missing or half-set-up socket. "fd@N" adopts an inherited listening socket
// after checking that it is one (SOCK_STREAM, listening); the fd is made CLOEXEC.
// On failure *what names the step ("bind", "listen", "chmod", ...).
Result<UniqueFd> open_listener(const BindConf& b, const ListenOptions& o, std::string* what);

// Re-applies the backlog of an existing listener (listen(2) on a listening socket does that).
Result<void> relisten(int fd, int backlog);

Result<void> set_nonblock(int fd, bool on);
Result<void> set_cloexec(int fd, bool on);

}  // namespace proxyd::common
