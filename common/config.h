#pragma once
// Configuration model and parser (HAProxy syntax, the documented subset).
// The master parses and validates; each worker parses the very same text again (sent to it
// by the master), so the model needs no serialisation. Nothing here opens a socket or file
// except read_config_paths().
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/address.h"
#include "common/cli.h"
#include "common/log_conf.h"
#include "common/rules.h"

namespace proxyd::common {

struct SourceLoc {
    std::string file;
    int line = 0;
};

// One diagnostic: "parsing [file:line] : message".
struct Diag {
    SourceLoc loc;
    std::string message;
};

enum class ProxyMode { Tcp, Http };

// balance ALGO [args]; hash-type map-based|consistent.
enum class BalanceAlgo { RoundRobin, StaticRR, LeastConn, First, Source, Uri, UrlParam, Hdr, Random };
struct BalanceConf {
    BalanceAlgo algo = BalanceAlgo::RoundRobin;
    std::string param;        // url_param NAME, hdr(NAME)
    bool uri_whole = false;   // balance uri whole
    int uri_len = 0;          // balance uri len N (0: all)
    int uri_depth = 0;        // balance uri depth N (0: all)
    bool uri_path_only = false;  // balance uri path-only
    bool hdr_use_domain_only = false;  // balance hdr(NAME) use_domain_only
    int random_draws = 2;     // balance random(N)
    bool consistent = false;  // hash-type consistent
};

// How HTTP connections are handled (option http-keep-alive|http-server-close|httpclose).
enum class HttpConnMode { KeepAlive, ServerClose, Close };
// http-reuse never|safe|aggressive|always
enum class HttpReuse { Never, Safe, Aggressive, Always };

// `option forwardfor [except NET] [header NAME] [if-none]`
struct ForwardFor {
    bool enabled = false;
    std::string header = "X-Forwarded-For";
    int except_family = 0;               // AF_INET/AF_INET6 when "except NET" is given
    unsigned char except_addr[16]{};     // network address (4 or 16 bytes)
    int except_prefix = -1;              // prefix length of NET
    bool if_none = false;
};

// Durations in milliseconds; nullopt = not set (no timeout).
struct Timeouts {
    std::optional<uint64_t> connect, client, server, tunnel, queue, http_request, http_keep_alive,
        client_fin, server_fin;
};

struct BindConf {
    SourceLoc loc;
    std::string spec;   // the address as written, e.g. "*:80", "unix@/run/x.sock"
    SockAddr addr;
    bool v4v6 = false;   // IPv6 wildcard accepting IPv4 too (IPV6_V6ONLY=0)
    bool v6only = false; // IPV6_V6ONLY=1
    std::optional<mode_t> mode;  // UNIX sockets: permissions
    std::optional<uid_t> uid;    // UNIX sockets: owner ("uid N" or "user NAME")
    std::optional<gid_t> gid;    // UNIX sockets: group ("gid N" or "group NAME")
    int backlog = 0;     // 0: use the frontend's maxconn (HAProxy's default)
    int maxconn = 0;     // 0: no per-bind limit
    std::string name;

    // Identity of the socket: family, address, port, v4v6/v6only, UNIX path/mode/owner.
    // Two binds with equal keys share one listening socket (and reloads keep it).
    std::string key() const;
};

struct ServerConf {
    SourceLoc loc;
    std::string name;
    std::string addr_spec;  // as written
    SockAddr addr;
    int weight = 1;         // 0..256
    int maxconn = 0;        // 0: unlimited
    bool disabled = false;
    bool backup = false;
    int pool_max_conn = -2;            // idle connections kept per worker: -1 no limit, -2 proxyd's default (64)
    uint64_t pool_purge_delay = 5000;  // ms an idle connection is kept
};

// A frontend, backend, or listen section (listen = both).
struct ProxyConf {
    SourceLoc loc;
    std::string name;
    bool is_frontend = false;
    bool is_backend = false;
    ProxyMode mode = ProxyMode::Tcp;
    Timeouts timeouts;
    int maxconn = 0;        // frontend maxconn; 0 = global maxconn
    int retries = 3;
    bool redispatch = false;              // option redispatch
    BalanceConf balance;
    // HTTP (mode http).
    HttpConnMode http_conn_mode = HttpConnMode::KeepAlive;
    HttpReuse http_reuse = HttpReuse::Safe;
    ForwardFor forwardfor;
    std::map<int, std::string> errorfiles;  // status -> whole HTTP response as read from the file
    ProxyRules rules;                     // acl, use_backend, http-request/response, redirect
    ProxyLogConf log;                     // log, log-format, option httplog/tcplog
    std::vector<BindConf> binds;          // frontend/listen
    std::string default_backend;          // frontend: name of a backend/listen
    std::vector<ServerConf> servers;      // backend/listen
};

// `stats socket ADDR [level L] [mode M] [uid|user ..] [gid|group ..]` in global: the worker
// CLI for the whole generation, served by the master (see docs/management.md).
struct StatsSocketConf {
    SourceLoc loc;
    std::string spec;
    SockAddr addr;
    std::optional<mode_t> mode;
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    CliLevel level = CliLevel::Operator;  // HAProxy's default
    // Identity of the socket (address, mode, owner); the level may change on reload.
    std::string key() const;
};

enum class ExitOnFailure { No, Yes };  // master-worker [no-]exit-on-failure

struct GlobalConf {
    bool daemon = false;
    bool master_worker = false;
    ExitOnFailure exit_on_failure = ExitOnFailure::No;
    std::string pidfile;
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::string user;     // name as written, if given by name
    std::string group;
    std::string chroot;
    int nbproc = 0;       // 0: one worker per online CPU
    int maxconn = 0;      // 0: derived from the fd limit
    std::vector<int> setcap;  // capability numbers (CAP_*) workers keep
    bool insecure_setuid_wanted = false;
    bool insecure_fork_wanted = false;
    std::optional<uint64_t> hard_stop_after;  // ms
    int mworker_max_reloads = 50;
    uint64_t mworker_start_timeout = 30000;  // ms a new generation has to report READY
    bool noreuseport = false;
    std::vector<StatsSocketConf> stats_sockets;
    size_t tune_bufsize = 16384;   // tune.bufsize
    int tune_maxhdr = 101;         // tune.http.maxhdr
    GlobalLogConf log;             // log ... lines of the global section
};

struct Config {
    GlobalConf global;
    std::vector<ProxyConf> proxies;  // in file order; names are unique per side

    const ProxyConf* find_backend(const std::string& name) const;
    // Number of workers to start (nbproc, or the number of online CPUs).
    int worker_count() const;
};

// A configuration file's name and text. The master reads the files once and sends the
// very same sources to its workers.
struct ConfigSource {
    std::string name;
    std::string text;
};

struct ParseResult {
    std::optional<Config> config;  // set only when errors is empty
    std::vector<Diag> errors;      // every error found, in order
    std::vector<Diag> warnings;    // and notices
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Parses and validates. `env` resolves ${VAR}; the default reads the process environment.
// Resolves user/group names and server host names; `check_paths` also checks that the
// chroot directory exists (the master and -c do; workers skip it).
ParseResult parse_config(std::span<const ConfigSource> sources, const EnvLookup& env = {},
                         bool check_paths = true);

// Reads -f arguments: a file, or a directory whose "*.cfg" files are read in lexical order.
// On failure returns false and appends one message per problem to *errors.
bool read_config_paths(const std::vector<std::string>& paths, std::vector<ConfigSource>* out,
                       std::vector<std::string>* errors);

// Durations as HAProxy writes them: "5000" (ms), "5s", "100ms", "2m", "1h", "1d", "10us".
std::optional<uint64_t> parse_duration_ms(std::string_view s);

}  // namespace proxyd::common
