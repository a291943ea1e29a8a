#pragma once
// The worker's log lines: one syslog datagram per finished stream of a frontend with `log`
// targets, built from the frontend's compiled log format and sent without blocking on the
// sockets the master opened and passed with the listeners (keys "log:..."; workers never open
// a log path themselves, so /dev/log keeps working after chroot and privilege drop).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "common/stream_info.h"
#include "common/unique_fd.h"

namespace proxyd::worker {

class Logger {
public:
    // Logs nothing (no configuration).
    Logger();
    // For the proxies of `cfg` (kept alive by the caller: ProxyConf pointers are used as keys).
    explicit Logger(std::shared_ptr<const common::Config> cfg);
    ~Logger();
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    // True for the keys of log sockets in a Listeners message ("log:...").
    static bool is_log_key(std::string_view key) { return key.substr(0, 4) == "log:"; }
    // Adopts the socket the master opened for LogTarget::key() `key` (made non-blocking).
    // Targets whose socket never arrives (the master could not connect, e.g. no /dev/log) are
    // skipped silently.
    void add_socket(const std::string& key, common::UniqueFd fd);

    // One line for a finished stream of frontend `fe`: nothing if `fe` has no log target;
    // httplog/tcplog/log-format, or HAProxy's "Connect from" line when no format was chosen;
    // `option dontlognull` drops streams with no byte from the client and no request;
    // `option dontlog-normal` drops those without error; errors go at level "err" with
    // `option log-separate-errors`, the rest at "info". Never blocks, never throws.
    void log_stream(const common::ProxyConf& fe, const common::StreamInfo& s) noexcept;

    // A message of `px` (or of the global section when null) at syslog `level` (0..7), e.g.
    // "Server be/s1 is DOWN". Never blocks.
    void log_message(const common::ProxyConf* px, int level, std::string_view msg) noexcept;

    // Datagrams not sent because the socket buffer was full (EAGAIN/ENOBUFS): show info's
    // DroppedLogs.
    uint64_t dropped() const noexcept { return dropped_; }
    // Lines sent (every target counts).
    uint64_t sent() const noexcept { return sent_; }

private:
    struct Sink;   // one socket (or fd 1/2) shared by every target with the same key
    struct Route;  // a target of a proxy and its sink
    void send(const std::vector<Route>& routes, std::string_view tag, int level, std::string_view msg) noexcept;
    const std::vector<Route>* routes_of(const common::ProxyConf* px);

    std::shared_ptr<const common::Config> cfg_;
    std::unordered_map<std::string, std::unique_ptr<Sink>> sinks_;
    std::unordered_map<const common::ProxyConf*, std::vector<Route>> routes_;  // built on first use
    std::vector<Route> global_routes_;
    bool global_built_ = false;
    std::unordered_map<const common::ProxyConf*, uint64_t> log_counts_;  // %lc
    std::string hostname_, pid_;
    int pid_num_ = 0;
    std::string line_, dgram_;  // reused buffers
    uint64_t dropped_ = 0, sent_ = 0;
};

// The worker's logger, installed by worker_main before the loop runs (a Logger that logs
// nothing until then). The data path calls process_logger().log_stream(...).
Logger& process_logger();
// The pid written in log lines (default: the worker's own). The master passes its pid when it
// was started without -W/-Ws/master-worker, like a single-process HAProxy.
void set_log_pid(int pid);
void set_process_logger(std::unique_ptr<Logger> l);

}  // namespace proxyd::worker
