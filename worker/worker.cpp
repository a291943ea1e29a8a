#include "worker/worker.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/config.h"
#include "common/control.h"
#include "common/log.h"
#include "worker/logger.h"
#include "worker/privileges.h"
#include "worker/runtime.h"

namespace proxyd::worker {

using namespace proxyd::common;

namespace {

bool parse_u32(const char* s, uint32_t* out) {
    auto e = s + std::strlen(s);
    auto [p, ec] = std::from_chars(s, e, *out);
    return ec == std::errc() && p == e;
}

// Receives one message, blocking (startup only: the master sends everything at once).
std::optional<ReceivedMessage> recv_blocking(int fd, std::string* err) {
    for (;;) {
        RecvOutcome r = recv_message(fd);
        if (r.kind == RecvOutcome::Kind::Message)
            return std::move(r.message);
        if (r.kind == RecvOutcome::Kind::WouldBlock) {
            fd_set rs;
            FD_ZERO(&rs);
            FD_SET(fd, &rs);
            timeval tv{10, 0};
            if (::select(fd + 1, &rs, nullptr, nullptr, &tv) <= 0) {
                *err = "timed out waiting for the master";
                return std::nullopt;
            }
            continue;
        }
        *err = r.kind == RecvOutcome::Kind::Eof ? "the master closed the control channel" : r.error;
        return std::nullopt;
    }
}

int fatal(int ctl, const std::string& msg) {
    log_alert("%s", msg.c_str());
    (void)send_message(ctl, FatalMsg{msg});
    return 1;
}

}  // namespace

int worker_main(int argc, char** argv) {
    uint32_t ctl = 0, gen = 0, idx = 0;
    if (argc < 5 || !parse_u32(argv[2], &ctl) || !parse_u32(argv[3], &gen) || !parse_u32(argv[4], &idx) || ctl < 3) {
        std::fprintf(stderr, "proxyd: '__worker' is internal: proxyd starts its workers itself\n");
        return 1;
    }
    for (int i = 5; i < argc; ++i) {
        if (std::strcmp(argv[i], "-d") == 0)
            log_settings().min_level = LogLevel::Debug;
        else if (std::strcmp(argv[i], "-q") == 0)
            log_settings().min_level = LogLevel::Warning;
        else if (std::strcmp(argv[i], "--log-pid") == 0 && i + 1 < argc)
            set_log_pid(std::atoi(argv[++i]));
    }
    int cfd = static_cast<int>(ctl);
    // The inherited control fd is the only one exec left open: make it CLOEXEC again.
    int fl = ::fcntl(cfd, F_GETFD);
    if (fl < 0) {
        std::fprintf(stderr, "proxyd: worker: bad control fd %d\n", cfd);
        return 1;
    }
    ::fcntl(cfd, F_SETFD, fl | FD_CLOEXEC);
    ::prctl(PR_SET_NAME, "proxyd-worker", 0, 0, 0);

    std::string err;
    auto init = recv_blocking(cfd, &err);
    if (!init || !std::holds_alternative<InitMsg>(init->msg))
        return fatal(cfd, "worker startup: expected the initial message from the master: " +
                              (err.empty() ? std::string("wrong message type") : err));
    auto sources = read_config_bundle(init->fds[0].get(), &err);
    UniqueFd shared = std::move(init->fds[1]);
    init->fds.clear();
    if (!sources)
        return fatal(cfd, "worker startup: " + err);
    ParseResult pr = parse_config(*sources, {}, false);
    if (!pr.config) {
        std::string first = pr.errors.empty() ? "unknown error"
                                              : strprintf("parsing [%s:%d] : %s", pr.errors[0].loc.file.c_str(),
                                                          pr.errors[0].loc.line, pr.errors[0].message.c_str());
        return fatal(cfd, "worker startup: configuration rejected: " + first);
    }
    auto cfg = std::make_shared<const Config>(std::move(*pr.config));
    Runtime rt(cfg, cfd, gen, idx);
    auto logger = std::make_unique<Logger>(cfg);
    for (;;) {
        auto m = recv_blocking(cfd, &err);
        if (!m || !std::holds_alternative<ListenersMsg>(m->msg))
            return fatal(cfd, "worker startup: expected the listening sockets from the master: " +
                                  (err.empty() ? std::string("wrong message type") : err));
        auto& lm = std::get<ListenersMsg>(m->msg);
        for (size_t i = 0; i < lm.keys.size(); ++i) {
            if (Logger::is_log_key(lm.keys[i]))
                logger->add_socket(lm.keys[i], std::move(m->fds[i]));
            else
                rt.add_listener_fd(lm.keys[i], std::move(m->fds[i]));
        }
        if (lm.last)
            break;
    }
    set_process_logger(std::move(logger));
    if (auto e = rt.prepare(); !e.empty())
        return fatal(cfd, "worker startup: " + e);
    if (auto e = rt.attach_shared(std::move(shared)); !e.empty())
        return fatal(cfd, "worker startup: " + e);
    Identity id;
    if (auto e = resolve_identity(cfg->global, &id); !e.empty())
        return fatal(cfd, e);
    if (auto e = drop_privileges(cfg->global, id); !e.empty())
        return fatal(cfd, e);
    return rt.run();
}

}  // namespace proxyd::worker
