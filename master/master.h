#pragma once
// The master process: owns listeners, starts and supervises generations of workers,
// reloads without dropping a connection, talks to systemd. Never touches client traffic.
#include <sys/types.h>

#include <chrono>
#include <deque>
#include <set>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/config.h"
#include "common/control.h"
#include "common/unique_fd.h"
#include "master/listeners.h"
#include "master/options.h"

namespace proxyd::master {

using Clock = std::chrono::steady_clock;

// Reads the -f paths and parses them, logging every warning and error as HAProxy does
// ("config : parsing [file:line] : ..."). Returns nullptr if the configuration is invalid.
std::shared_ptr<const common::Config> load_configuration(const std::vector<std::string>& paths,
                                                         std::vector<common::ConfigSource>* sources,
                                                         bool warnings = true);

// Delay before respawning a worker that crashed `crashes` times in a row (crash-loop back-off).
std::chrono::milliseconds respawn_delay(unsigned crashes);

// "Exit" or the signal's description ("Killed", "Terminated"), and HAProxy's exit code
// convention (status, or 128 + signal).
std::pair<int, std::string> describe_wait_status(int status);

class Master {
public:
    Master(Options opts, std::string self_exe);
    ~Master();
    // Loads the configuration, binds, starts the first generation and runs until stopped.
    // Returns the process exit status.
    int run(int daemon_pipe);
    // The signal that stopped the master (SIGTERM/SIGINT hard stop), 0 otherwise.
    int stop_signal() const { return stop_signal_; }

private:
    // epoll data tags: high byte says what the low bits are.
    static constexpr uint64_t kTagMask = 0xffULL << 56;
    static constexpr uint64_t kTagSignal = 0;
    static constexpr uint64_t kTagWorker = 1ULL << 56;       // | pid
    static constexpr uint64_t kTagCliListener = 2ULL << 56;  // | index
    static constexpr uint64_t kTagSession = 3ULL << 56;      // | session id

    enum class WState { Starting, Ready, Stopping };
    struct Worker {
        pid_t pid = 0;
        uint32_t gen = 0;
        uint32_t index = 0;
        common::UniqueFd ctl;
        WState state = WState::Starting;
        uint32_t reloads = 0;
        Clock::time_point started;
        std::optional<Clock::time_point> hard_deadline;  // hard-stop-after
        std::optional<Clock::time_point> kill_deadline;  // SIGKILL after SIGTERM
        bool failed = false;  // belonged to a failed load: its death is expected
    };
    struct Generation {
        uint32_t id = 0;
        std::shared_ptr<const common::Config> cfg;
        common::UniqueFd bundle;
        common::UniqueFd shared;  // memfd: per-backend round-robin tickets shared by the workers
        Clock::time_point ready_deadline;
        bool failed = false;
    };
    struct Respawn {
        uint32_t gen;
        uint32_t index;
        Clock::time_point at;
    };
    enum class Stop { None, Soft, Hard };

    // Master CLI (-S) and stats sockets: master_cli.cpp.
    struct CliListener {
        common::UniqueFd fd;
        common::MasterSocketSpec spec;
        bool stats = false;  // `stats socket`: worker commands only, sent to the whole generation
        std::string key;     // StatsSocketConf::key() for stats sockets
    };
    struct RoutedCommand {
        std::string command;            // without prefix
        std::set<pid_t> waiting;        // workers that have not finished replying
        std::map<pid_t, std::string> replies;
        std::vector<pid_t> order;       // reply order (worker index order)
        bool merge = false;             // '@*' show info / show stat: one merged reply
        bool first_only = false;        // '@*' on a command whose answer is the same everywhere
        Clock::time_point deadline;
    };
    struct CliSession {
        uint64_t id = 0;
        common::UniqueFd fd;
        common::CliLevel level = common::CliLevel::Admin;
        bool stats = false;
        bool interactive = false;
        bool rd_eof = false;
        bool close_after_flush = false;
        std::string in, out;
        std::deque<std::string> cmds;   // "\x01" marks the end of an input line (prompt)
        common::CliTarget sticky;       // Default: the master (stats sockets: All)
        std::optional<RoutedCommand> routed;
        bool waiting_reload = false;
        bool dead = false;              // closed; freed after the current event (deferred)
        bool waiting_workers = false;   // a routed command waits for the first generation
    };
    void cli_open_listeners();
    bool cli_add_listener(const common::BindConf& b, const common::MasterSocketSpec& spec, bool stats,
                          const std::string& key, std::string* err);
    bool cli_stats_acquire(const common::Config& cfg, std::vector<std::string>* errs);
    void cli_stats_retain();
    void cli_accept(uint64_t idx);
    void cli_on_session(uint64_t id, uint32_t events);
    void cli_advance(CliSession& s);
    void cli_run(CliSession& s, const std::string& cmd);
    bool cli_master_command(CliSession& s, const std::vector<std::string>& w, const std::string& cmd);
    void cli_route(CliSession& s, const common::CliTarget& t, const std::string& cmd, const std::string& prefix);
    void cli_on_reply(pid_t pid, const common::CliReplyMsg& m);
    void cli_finish_routed(CliSession& s);
    void cli_flush(CliSession& s);
    void cli_close(uint64_t id);
    void cli_reap_sessions();
    void cli_timers();
    void cli_reload_done(bool ok);
    std::string cli_prompt(const CliSession& s) const;
    std::string show_proc(bool json) const;
    void replay_state(int ctl_fd);
    std::string help_text(const CliSession& s) const;
    void dispatch(uint64_t tag, uint32_t events);

    bool load_config(std::shared_ptr<const common::Config>* cfg, std::vector<common::ConfigSource>* sources);
    void start_load(bool first);
    void commit_load();
    void fail_load(const std::string& why);
    bool spawn_worker(Generation& g, uint32_t index);
    void on_signal();
    void on_worker_message(pid_t pid);
    void reap();
    void on_worker_exit(Worker& w, int status);
    void run_timers();
    std::optional<Clock::time_point> next_deadline() const;
    void begin_stop(Stop how, int code);
    void kill_worker(Worker& w, int sig);
    void drop_generation_if_empty(uint32_t gen);
    void retain_listeners();
    void notify(const std::string& msg);
    void adjust_fd_limit(const common::Config& cfg);
    std::string status_line() const;
    void daemon_report(bool ok, const std::string& msg);

    Options opts_;
    std::string self_exe_;
    std::vector<std::string> child_env_;  // environment for workers (no NOTIFY_SOCKET)
    common::UniqueFd epfd_;
    common::UniqueFd sigfd_;
    ListenerRegistry listeners_;
    std::map<uint32_t, Generation> gens_;
    std::map<pid_t, Worker> workers_;
    std::vector<Respawn> respawns_;
    std::map<uint32_t, unsigned> crashes_;  // per worker index, current generation
    uint32_t next_gen_ = 1;
    uint32_t current_gen_ = 0;
    uint32_t pending_gen_ = 0;
    bool reload_queued_ = false;
    unsigned reloads_ = 0;
    unsigned failed_reloads_ = 0;
    bool first_ready_ = false;
    Stop stop_ = Stop::None;
    int exit_code_ = 0;
    int stop_signal_ = 0;
    int daemon_pipe_ = -1;
    std::vector<std::string> load_log_;  // lines of the current/last load attempt
    bool capturing_ = false;
    Clock::time_point start_time_;

    std::map<uint64_t, CliListener> cli_listeners_;
    uint64_t next_listener_ = 1;
    std::map<uint64_t, CliSession> sessions_;
    std::vector<uint64_t> dead_sessions_;
    std::map<uint32_t, uint64_t> req_session_;  // routed request id -> session
    uint32_t next_req_ = 1;
    uint64_t next_session_ = 1;
    std::vector<uint64_t> reload_waiters_;       // replied when the load in flight ends
    std::vector<uint64_t> reload_waiters_next_;  // replied when the queued reload ends
    bool hard_reload_ = false, hard_reload_queued_ = false;
    bool last_load_failed_ = false;
    std::vector<std::string> startup_log_;       // lines of the last load attempt, kept
    // Runtime server state changed through the CLI ("disable server be/s1", ...), replayed into
    // every new generation so a reload does not undo an operator's action.
    std::vector<std::string> state_commands_;
};

int master_main(int argc, char** argv);

}  // namespace proxyd::master
