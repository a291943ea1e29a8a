#pragma once
// The master's command line (HAProxy-compatible subset). Pure: no I/O.
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace proxyd::master {

struct Options {
    std::vector<std::string> config_paths;   // -f (repeatable)
    std::vector<std::string> master_sockets; // -S specs (repeatable)
    std::string pidfile;                     // -p
    bool daemon = false;                     // -D
    bool systemd = false;                    // -Ws
    bool master_worker_flag = false;         // -W or -Ws given explicitly
    bool check_only = false;                 // -c
    bool debug = false;                      // -d
    bool quiet = false;                      // -q
    int version = 0;                         // -v = 1, -vv = 2
    std::vector<pid_t> soft_stop_pids;       // -sf
    std::vector<pid_t> hard_stop_pids;       // -st
    std::string local_peer;                  // -L (accepted; proxyd has no peers)
    // -cc EXPR: evaluate a condition expression (common/cond_expr.h) and exit 0 (true),
    // 1 (false) or 2 (error). The argument may be empty or start with '-' ("-1 && 1").
    std::optional<std::string> check_condition;
};

struct ParsedArgs {
    Options opts;
    std::string error;  // non-empty: print it with the usage, exit 1
};

ParsedArgs parse_args(const std::vector<std::string>& args);  // args without argv[0]
std::string usage_text(const char* argv0);

}  // namespace proxyd::master
