#pragma once
// Syslog datagrams as HAProxy 2.6 builds them (src/log.c, build_log_header): a header chosen by
// the target's `format`, the message, truncated to the target's `len`, then one LF.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace proxyd::common {

enum class SyslogFormat : uint8_t {
    Unspec,    // no `format`: "local" (no hostname) unless log-send-hostname is set, then rfc3164
    Local,     // <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG
    Rfc3164,   // <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG  (HOSTNAME "localhost" if not sent)
    Rfc5424,   // <PRI>1 YYYY-MM-DDThh:mm:ss.uuuuuu+hh:mm HOSTNAME TAG PID - - MSG  ("-" for no hostname)
    Priority,  // <PRI>MSG
    Short,     // <LEVEL>MSG (no facility)
    Timed,     // <LEVEL>ISO-TIMESTAMP MSG
    Iso,       // ISO-TIMESTAMP MSG
    Raw,       // MSG
};

// "local", "rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw"; nullopt otherwise.
std::optional<SyslogFormat> parse_syslog_format(std::string_view name);
const char* syslog_format_name(SyslogFormat f);

// "kern" .. "local7" -> 0..23; "emerg" .. "debug" -> 0..7; -1 when unknown.
int syslog_facility(std::string_view name);
int syslog_level(std::string_view name);
const char* syslog_facility_name(int facility);  // "?" when out of range
const char* syslog_level_name(int level);

inline constexpr int kLogEmerg = 0, kLogAlert = 1, kLogCrit = 2, kLogErr = 3, kLogWarning = 4, kLogNotice = 5,
                     kLogInfo = 6, kLogDebug = 7;

struct SyslogMeta {
    std::string_view hostname;  // log-send-hostname; "" when not sent
    std::string_view tag;       // log-tag
    std::string_view pid;       // decimal
};

// Appends the header of a message at `level` with `facility` to *out, for time `unix_us`
// (local time, as HAProxy). Unspec is resolved as described above.
void append_syslog_header(std::string* out, SyslogFormat f, int facility, int level, const SyslogMeta& meta,
                          int64_t unix_us);

// Replaces *out with one whole datagram: header + msg, cut to `maxlen` bytes, then "\n".
// Trailing LFs and NULs of `msg` are dropped first.
void build_syslog_datagram(std::string* out, SyslogFormat f, int facility, int level, const SyslogMeta& meta,
                           int64_t unix_us, std::string_view msg, size_t maxlen);

// Time helpers shared with log formats (local time unless said otherwise).
// "Jan  2 03:04:05" (15 chars, rfc3164).
void append_legacy_time(std::string* out, int64_t unix_us);
// "2024-01-02T03:04:05.123456+01:00" (32 chars).
void append_iso_time(std::string* out, int64_t unix_us);
// "+0100": local offset from GMT at `unix_s`.
void append_gmt_offset(std::string* out, int64_t unix_s, bool colon);

}  // namespace proxyd::common
