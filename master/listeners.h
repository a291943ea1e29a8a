#pragma once
// The master's listening sockets, owned for its whole life and keyed by identity
// (BindConf::key()). A reload that keeps an address keeps the very same socket and accept
// queue; new addresses are bound before the new generation starts; removed ones are closed
// only when no live generation uses them any more.
// It also holds the log sockets (keys "log:..."): a SOCK_DGRAM socket connected to each UDP or
// UNIX datagram log target, opened afresh at every load (a restarted syslog daemon's /dev/log
// is picked up by the next reload) and sent to the workers with the listeners.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/unique_fd.h"

namespace proxyd::master {

class ListenerRegistry {
public:
    // Makes sure every bind of `cfg` has a socket: binds the missing ones, re-applies the
    // backlog of kept ones. On failure, closes what this call bound, appends one message per
    // failing bind ("[file:line] : cannot bind '...': ...") and returns false.
    bool acquire(const common::Config& cfg, std::vector<std::string>* errors);
    // The keys and fds a worker of `cfg` needs, deduplicated, in configuration order; then the
    // log sockets of its targets (those the master could open).
    std::vector<std::pair<std::string, int>> fds_for(const common::Config& cfg) const;
    // Closes every listener whose key is not in `keep` (UNIX paths are unlinked unless a kept
    // socket now owns the same path).
    void retain(const std::set<std::string>& keep);
    // Keys of the listeners and log sockets of `cfg`.
    static std::set<std::string> keys_of(const common::Config& cfg);
    size_t size() const { return by_key_.size(); }
    // Closes everything and removes UNIX socket files (master exit).
    void close_all();

private:
    // (Re)opens a log socket for every distinct datagram target of `cfg`; a target that cannot
    // be reached (no /dev/log yet) is skipped with a warning.
    void open_log_sockets(const common::Config& cfg);
    std::map<std::string, common::UniqueFd> logs_by_key_;

    struct Entry {
        common::UniqueFd fd;
        common::BindConf conf;
    };
    std::map<std::string, Entry> by_key_;
};

}  // namespace proxyd::master
