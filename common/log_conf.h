#pragma once
// Logging configuration (HAProxy's `log`, `log-format`, `option httplog|tcplog`, ...): the model
// filled by config_log.cpp. Plain values (copyable: a defaults section is copied into proxies);
// the compiled log format is shared, immutable.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/address.h"
#include "common/syslog.h"

namespace proxyd::common {

class LogFormat;  // common/logformat.h

// One `log ADDR [len N] [format F] FACILITY [LEVEL [MINLEVEL]]` line.
struct LogTarget {
    enum class Kind : uint8_t {
        Dgram,  // UDP (ip:port, default port 514) or UNIX datagram socket (path, abns@): opened by the master
        Fd,     // stdout / stderr / fd@N: the worker writes to its own fd N
    };
    std::string file;  // where it was written
    int line = 0;
    std::string spec;  // the address as written ("127.0.0.1", "/dev/log", "stdout")
    Kind kind = Kind::Dgram;
    SockAddr addr;     // Dgram: where to connect (port set)
    int fd = -1;       // Fd: 1 (stdout), 2 (stderr) or N
    size_t maxlen = 1024;  // len N: whole datagram (header + message) before the trailing LF
    SyslogFormat format = SyslogFormat::Unspec;
    int facility = 16;     // local0
    int level = 7;         // messages above this level (less severe) are not sent
    int minlevel = 0;      // messages are sent at least at this level

    // Identity of the socket the master opens for it: "log:127.0.0.1:514", "log:unix@/dev/log",
    // "log:fd@1". Equal keys share one socket.
    std::string key() const;
};

struct GlobalLogConf {
    std::vector<LogTarget> targets;  // `log` lines of the global section
    std::string tag = "proxyd";      // log-tag (HAProxy: the program name)
    std::string send_hostname;       // log-send-hostname [NAME]: "" = not sent
};

// What a proxy logs. The format fields are only used by frontends.
struct ProxyLogConf {
    // `log` lines in order; an entry with `global_ref` set stands for every global target
    // (`log global`), expanded by log_validate (after which no entry has it set).
    struct Entry {
        bool global_ref = false;
        std::string file;  // of the `log global` line
        int line = 0;
        LogTarget target;
    };
    std::vector<Entry> entries;

    enum class Format : uint8_t { None, Tcp, Http, HttpClf, Custom };
    Format format = Format::None;  // None: HAProxy's "Connect from" line
    std::string format_string;     // Custom (log-format); other formats are built in
    std::string format_file;       // where the format was chosen
    int format_line = 0;
    bool dontlognull = false;          // option dontlognull
    bool log_separate_errors = false;  // option log-separate-errors: errors at level err
    bool dontlog_normal = false;       // option dontlog-normal
    std::string tag;                   // log-tag: "" = the global one

    // Set by log_validate for frontends: the format to render (null for Format::None).
    std::shared_ptr<const LogFormat> compiled;

    bool has_targets() const { return !entries.empty(); }
};

}  // namespace proxyd::common
