#pragma once
// Process log in HAProxy's stderr format: "[NOTICE]   (1234) : message".
// Each process (master, worker) writes to stderr; the master also keeps a ring of
// the lines of the current load attempt (the "startup logs" of a reload).
#include <cstdarg>
#include <functional>
#include <string>

#include "common/result.h"

namespace proxyd::common {

enum class LogLevel { Debug = 0, Diag, Notice, Warning, Alert };

// "NOTICE", "WARNING", ...
const char* log_level_name(LogLevel l);

struct LogSettings {
    LogLevel min_level = LogLevel::Notice;  // -q raises it to Warning, -d lowers it to Debug
    bool to_stderr = true;
};
LogSettings& log_settings();

// Called for every line that passes the level filter (formatted, without newline).
// The master uses it to capture the lines of a load attempt; nullptr to remove.
void set_log_sink(std::function<void(LogLevel, const std::string&)> sink);

// Formats one line as HAProxy does: label padded to 10, "(pid) : ", message.
std::string format_log_line(LogLevel level, int pid, const std::string& msg);

void log_msg(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void vlog_msg(LogLevel level, const char* fmt, va_list ap);
#define PROXYD_LOG_FN(name, lvl) \
    inline void name(const char* fmt, ...) __attribute__((format(printf, 1, 2))); \
    inline void name(const char* fmt, ...) { va_list ap; va_start(ap, fmt); vlog_msg(lvl, fmt, ap); va_end(ap); }
PROXYD_LOG_FN(log_debug, LogLevel::Debug)
PROXYD_LOG_FN(log_notice, LogLevel::Notice)
PROXYD_LOG_FN(log_warning, LogLevel::Warning)
PROXYD_LOG_FN(log_alert, LogLevel::Alert)
#undef PROXYD_LOG_FN

// Logs "<message>: <strerror>" as an alert and returns the Errno, for `return log_errno(...)`.
Errno log_errno(Errno e, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// printf into a std::string.
std::string strprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace proxyd::common
