// proxyd entry point: the master, or (argv[1] == "__worker") a worker exec'd by the master.
#include <openssl/crypto.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <fcntl.h>
#include <pwd.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "config.h"
#include "common/cli.h"
#include "common/cond_expr.h"
#include "common/config.h"
#include "common/log.h"
#include "master/master.h"
#include "master/options.h"
#include "master/privileges.h"
#include "worker/worker.h"

namespace proxyd::master {

using namespace proxyd::common;

namespace {

void print_version(int level) {
    std::printf("proxyd version %s %s\n", PROXYD_VERSION, PROXYD_RELEASE_DATE);
    if (level < 2)
        return;
    // For scripts that grep HAProxy's -vv (e.g. HAProxy's run-regtests.sh): the HAProxy
    // version whose configuration and CLI subset proxyd follows.
    std::printf("HAProxy version 2.6 compatible (proxyd %s implements the subset in docs/)\n", PROXYD_VERSION);
    char pcre_ver[64] = "";
    pcre2_config(PCRE2_CONFIG_VERSION, pcre_ver);
    uint32_t jit = 0;
    pcre2_config(PCRE2_CONFIG_JIT, &jit);
    std::printf("Build options :\n  TARGET  = linux-glibc\n  CXX     = %s\n  BUILD   = %s\n  SANITIZE= %s\n\n",
                PROXYD_COMPILER, PROXYD_BUILD_TYPE, PROXYD_SANITIZE);
    // The same list answers feature(NAME) in '.if' and -cc.
    std::printf("Feature list : %s\n\n", build_features().c_str());
    std::printf("Built with OpenSSL version : %s\n", OPENSSL_VERSION_TEXT);
    std::printf("Running on OpenSSL version : %s\n", OpenSSL_version(OPENSSL_VERSION));
    std::printf("Built with PCRE2 version : %s\n", pcre_ver);
    std::printf("PCRE2 library supports JIT : %s\n", jit ? "yes" : "no (USE_PCRE2_JIT not set)");
    std::printf("Built with libcap-ng version : %s\n", PROXYD_CAPNG_VERSION);
    std::printf("Built with libsystemd version : %s\n", PROXYD_HAVE_SYSTEMD ? PROXYD_SYSTEMD_VERSION : "(none)");
    std::printf("Available multi-processing : master-worker, single-threaded workers (nbproc)\n");
    std::printf("Available polling systems : epoll (edge-triggered)\n");
}

std::string self_exe_path(const char* argv0) {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0)
        return std::string(buf, static_cast<size_t>(n));
    return argv0;
}

// -c: everything that can be checked without binding.
int check_config(const Options& o) {
    std::vector<ConfigSource> sources;
    if (!load_configuration(o.config_paths, &sources))
        return 1;
    if (!o.quiet)
        std::printf("Configuration file is valid\n");
    return 0;
}

// -cc EXPR (HAProxy's management.txt §3): 0 true, 1 false, 2 error (with a message).
int check_condition(const std::string& expr) {
    CondOutcome r = eval_condition_line(expr, default_cond_context());
    if (!r.error.empty()) {
        log_alert("failed to evaluate condition: %s", r.error.c_str());
        return 2;
    }
    return r.value ? 0 : 1;
}

// -D: the parent waits until the daemon reports that it serves (or failed).
int daemonize(int* report_fd) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) {
        log_errno(last_errno(), "cannot create the daemon pipe");
        return -1;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        log_errno(last_errno(), "cannot fork the daemon");
        return -1;
    }
    if (pid > 0) {
        ::close(p[1]);
        std::string got;
        char buf[256];
        ssize_t n;
        while ((n = ::read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
            if (n > 0)
                got.append(buf, static_cast<size_t>(n));
        if (got.rfind("READY", 0) == 0)
            ::_exit(0);
        std::fprintf(stderr, "proxyd: the daemon failed to start%s%s\n", got.size() > 6 ? ": " : "",
                     got.size() > 6 ? got.substr(6, got.find('\n') - 6).c_str() : "");
        ::_exit(1);
    }
    ::close(p[0]);
    ::setsid();
    *report_fd = p[1];
    return 0;
}

}  // namespace

int master_main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    ParsedArgs pa = parse_args(args);
    if (!pa.error.empty()) {
        std::fprintf(stderr, "proxyd: %s\n%s", pa.error.c_str(), usage_text(argv[0]).c_str());
        return 1;
    }
    Options& o = pa.opts;
    if (o.version) {
        print_version(o.version);
        return 0;
    }
    if (o.check_condition)
        return check_condition(*o.check_condition);
    if (o.quiet)
        log_settings().min_level = LogLevel::Warning;
    if (o.debug)
        log_settings().min_level = LogLevel::Debug;
    if (o.check_only)
        return check_config(o);
    for (auto& spec : o.master_sockets) {
        std::string err;
        if (!parse_master_socket_spec(spec, &err)) {
            std::fprintf(stderr, "proxyd: -S '%s': %s\n", spec.c_str(), err.c_str());
            return 1;
        }
    }

    // Validate before anything is started, so -D reports configuration errors directly.
    // (Warnings are printed once, by the first load.)
    {
        std::vector<ConfigSource> sources;
        auto cfg = load_configuration(o.config_paths, &sources, false);
        if (!cfg)
            return 1;
        if (cfg->global.daemon)
            o.daemon = true;
    }
    int report_fd = -1;
    if (o.daemon && !o.debug && daemonize(&report_fd) < 0)
        return 1;
    drop_master_capabilities();
    Master m(o, self_exe_path(argv[0]));
    int code = m.run(report_fd);
    if (m.stop_signal() && !o.master_worker_flag) {
        // Started without -W: behave as HAProxy's standalone process, which dies from the
        // signal itself (VTest and shells check that); with -W the status is 128 + signal.
        int sig = m.stop_signal();
        std::signal(sig, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, nullptr);
        ::raise(sig);
    }
    return code;
}

}  // namespace proxyd::master

int main(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "__worker") == 0)
        return proxyd::worker::worker_main(argc, argv);
    return proxyd::master::master_main(argc, argv);
}
