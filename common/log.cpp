#include "common/log.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace proxyd::common {

std::string Errno::message() const { return std::strerror(value); }

namespace {
std::function<void(LogLevel, const std::string&)>& sink_ref() {
    static std::function<void(LogLevel, const std::string&)> s;
    return s;
}
std::string vformat(const char* fmt, va_list ap) {
    va_list cp;
    va_copy(cp, ap);
    char small[512];
    int n = std::vsnprintf(small, sizeof small, fmt, cp);
    va_end(cp);
    if (n < 0)
        return {};
    if (static_cast<size_t>(n) < sizeof small)
        return std::string(small, static_cast<size_t>(n));
    std::string out(static_cast<size_t>(n), '\0');
    std::vsnprintf(out.data(), out.size() + 1, fmt, ap);
    return out;
}
}  // namespace

const char* log_level_name(LogLevel l) {
    switch (l) {
    case LogLevel::Debug: return "DEBUG";
    case LogLevel::Diag: return "DIAG";
    case LogLevel::Notice: return "NOTICE";
    case LogLevel::Warning: return "WARNING";
    case LogLevel::Alert: return "ALERT";
    }
    return "?";
}

LogSettings& log_settings() {
    static LogSettings s;
    return s;
}

void set_log_sink(std::function<void(LogLevel, const std::string&)> sink) { sink_ref() = std::move(sink); }

std::string format_log_line(LogLevel level, int pid, const std::string& msg) {
    char label[16];
    std::snprintf(label, sizeof label, "[%s]", log_level_name(level));
    return strprintf("%-10s (%d) : %s", label, pid, msg.c_str());
}

void vlog_msg(LogLevel level, const char* fmt, va_list ap) {
    if (level < log_settings().min_level && level != LogLevel::Alert)
        return;
    std::string line = format_log_line(level, static_cast<int>(::getpid()), vformat(fmt, ap));
    if (auto& s = sink_ref())
        s(level, line);
    if (log_settings().to_stderr) {
        line.push_back('\n');
        // One write per line so lines from several processes do not interleave.
        ssize_t r = ::write(STDERR_FILENO, line.data(), line.size());
        (void)r;
    }
}

void log_msg(LogLevel level, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog_msg(level, fmt, ap);
    va_end(ap);
}

Errno log_errno(Errno e, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string m = vformat(fmt, ap);
    va_end(ap);
    log_msg(LogLevel::Alert, "%s: %s", m.c_str(), e.message().c_str());
    return e;
}

std::string strprintf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string s = vformat(fmt, ap);
    va_end(ap);
    return s;
}

}  // namespace proxyd::common
