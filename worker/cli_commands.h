#pragma once
// Worker CLI commands (HAProxy's stats socket commands): pure formatting and state changes over a
// WorkerView; no I/O. The master relays commands here from the master CLI (`@1 show info`) or a
// `stats socket`, with the session's level, and relays the reply back verbatim.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "worker/stats.h"

namespace proxyd::worker {

enum class CliLevel { User = 0, Operator = 1, Admin = 2 };

struct ServerView {
    const common::ServerConf* conf = nullptr;
    Counters* counters = nullptr;
    AdminState* admin = nullptr;  // runtime admin state (config 'disabled' starts as Maint)
    int* weight = nullptr;        // runtime weight (0..256)
    int cur_conns = 0;            // connections established or connecting
};

struct ProxyView {
    const common::ProxyConf* conf = nullptr;
    bool is_frontend = false, is_backend = false;
    Counters* fe = nullptr;       // frontend counters (frontend/listen)
    Counters* be = nullptr;       // backend counters (backend/listen)
    int fe_maxconn = 0;           // effective frontend limit (slim)
    bool fe_paused = false;       // listeners paused (maxconn reached or stopping)
    std::vector<ServerView> servers;
};

struct SessionView {  // one line of `show sess`
    uint64_t id = 0;
    std::string frontend, backend, server, src, phase;
    int64_t age_sec = 0;
    uint64_t bytes_in = 0, bytes_out = 0;
};

struct ProcessInfo {
    int pid = 0;
    uint32_t generation = 0, index = 0, worker_count = 0;
    int64_t start_time_sec = 0;   // unix time
    int64_t uptime_sec = 0;
    int ulimit_n = 0, maxsock = 0, maxconn = 0, hard_maxconn = 0;
    uint64_t cur_conns = 0, cum_conns = 0, cum_req = 0;
    uint64_t conn_rate = 0, max_conn_rate = 0, sess_rate = 0, max_sess_rate = 0;
    bool stopping = false;
    int run_queue = 0;
    int idle_pct = 100;
    uint64_t memmax_mb = 0;
    std::string node;
    uint64_t jobs = 0, listeners = 0;
    uint64_t total_bytes_out = 0;
    uint64_t dropped_logs = 0;
};

// What the commands see of the worker. The runtime implements it.
class WorkerView {
public:
    virtual ~WorkerView() = default;
    virtual ProcessInfo info() const = 0;
    virtual std::vector<ProxyView> proxies() = 0;
    virtual std::vector<SessionView> sessions() const = 0;
    // Called after a server's admin state or weight changed, so the runtime can requeue or
    // rebalance (e.g. dequeue waiting connections when a server becomes READY).
    virtual void server_changed(const std::string& backend, const std::string& server) = 0;
};

// Runs one command line (a single command, no ';'; already stripped of any '@' prefix).
// Returns the full reply text (ending with "\n" as HAProxy's CLI does; an empty reply is
// allowed for successful state changes). Enforces levels: a command above `level` answers
// "Permission denied\n".
std::string run_worker_command(WorkerView& w, std::string_view line, CliLevel level);

// For the master's '@*' (whole generation) replies: merge several workers' outputs of the
// same command into one, as if one process had answered.
std::string merge_show_info(const std::vector<std::string>& replies);
std::string merge_show_stat(const std::vector<std::string>& replies);

}  // namespace proxyd::worker
