#pragma once
// The master process: owns listeners, starts and supervises generations of workers,
// reloads without dropping a connection, talks to systemd. Never touches client traffic.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/unique_fd.h"
#include "master/listeners.h"
#include "master/options.h"

namespace proxyd::master {

using Clock = std::chrono::steady_clock;

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

private:
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
        Clock::time_point ready_deadline;
        bool failed = false;
    };
    struct Respawn {
        uint32_t gen;
        uint32_t index;
        Clock::time_point at;
    };
    enum class Stop { None, Soft, Hard };

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
    int daemon_pipe_ = -1;
    std::vector<std::string> load_log_;  // lines of the current/last load attempt
    bool capturing_ = false;
    Clock::time_point start_time_;
};

int master_main(int argc, char** argv);

}  // namespace proxyd::master
