#include "common/syslog.h"

#include <ctime>

namespace proxyd::common {

namespace {

constexpr const char* kFormatNames[] = {"", "local", "rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw"};
constexpr const char* kFacilities[] = {"kern",   "user",   "mail",   "daemon", "auth",   "syslog", "lpr",    "news",
                                       "uucp",   "cron",   "auth2",  "ftp",    "ntp",    "audit",  "alert",  "cron2",
                                       "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"};
constexpr const char* kLevels[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void append_uint(std::string* out, uint64_t v, int width) {
    char buf[24];
    int n = 0;
    do {
        buf[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        buf[n++] = '0';
    while (n)
        out->push_back(buf[--n]);
}

tm local_tm(int64_t unix_s) {
    time_t t = static_cast<time_t>(unix_s);
    tm r{};
    localtime_r(&t, &r);
    return r;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

std::optional<SyslogFormat> parse_syslog_format(std::string_view name) {
    for (size_t i = 1; i < std::size(kFormatNames); ++i)
        if (name == kFormatNames[i])
            return static_cast<SyslogFormat>(i);
    return std::nullopt;
}

const char* syslog_format_name(SyslogFormat f) { return kFormatNames[static_cast<size_t>(f)]; }

int syslog_facility(std::string_view name) {
    for (size_t i = 0; i < std::size(kFacilities); ++i)
        if (name == kFacilities[i])
            return static_cast<int>(i);
    return -1;
}

int syslog_level(std::string_view name) {
    for (size_t i = 0; i < std::size(kLevels); ++i)
        if (name == kLevels[i])
            return static_cast<int>(i);
    return -1;
}

const char* syslog_facility_name(int f) { return f >= 0 && f < 24 ? kFacilities[f] : "?"; }
const char* syslog_level_name(int l) { return l >= 0 && l < 8 ? kLevels[l] : "?"; }

void append_gmt_offset(std::string* out, int64_t unix_s, bool colon) {
    tm t = local_tm(unix_s);
    long off = t.tm_gmtoff;
    out->push_back(off < 0 ? '-' : '+');
    if (off < 0)
        off = -off;
    append_uint(out, static_cast<uint64_t>(off / 3600), 2);
    if (colon)
        out->push_back(':');
    append_uint(out, static_cast<uint64_t>(off % 3600 / 60), 2);
}

void append_legacy_time(std::string* out, int64_t unix_us) {
    tm t = local_tm(floor_div(unix_us, 1000000));
    out->append(kMonths[t.tm_mon]);
    out->push_back(' ');
    if (t.tm_mday < 10)
        out->push_back(' ');
    append_uint(out, static_cast<uint64_t>(t.tm_mday), 1);
    out->push_back(' ');
    append_uint(out, static_cast<uint64_t>(t.tm_hour), 2);
    out->push_back(':');
    append_uint(out, static_cast<uint64_t>(t.tm_min), 2);
    out->push_back(':');
    append_uint(out, static_cast<uint64_t>(t.tm_sec), 2);
}

void append_iso_time(std::string* out, int64_t unix_us) {
    int64_t s = floor_div(unix_us, 1000000);
    int64_t us = unix_us - s * 1000000;
    tm t = local_tm(s);
    append_uint(out, static_cast<uint64_t>(t.tm_year + 1900), 4);
    out->push_back('-');
    append_uint(out, static_cast<uint64_t>(t.tm_mon + 1), 2);
    out->push_back('-');
    append_uint(out, static_cast<uint64_t>(t.tm_mday), 2);
    out->push_back('T');
    append_uint(out, static_cast<uint64_t>(t.tm_hour), 2);
    out->push_back(':');
    append_uint(out, static_cast<uint64_t>(t.tm_min), 2);
    out->push_back(':');
    append_uint(out, static_cast<uint64_t>(t.tm_sec), 2);
    out->push_back('.');
    append_uint(out, static_cast<uint64_t>(us), 6);
    append_gmt_offset(out, s, true);
}

void append_syslog_header(std::string* out, SyslogFormat f, int facility, int level, const SyslogMeta& meta,
                          int64_t unix_us) {
    if (f == SyslogFormat::Unspec)
        f = !meta.hostname.empty() ? SyslogFormat::Rfc3164 : !meta.tag.empty() ? SyslogFormat::Local : SyslogFormat::Raw;
    // Priority.
    switch (f) {
    case SyslogFormat::Local:
    case SyslogFormat::Rfc3164:
    case SyslogFormat::Rfc5424:
    case SyslogFormat::Priority:
        out->push_back('<');
        append_uint(out, static_cast<uint64_t>(facility * 8 + level), 1);
        out->push_back('>');
        break;
    case SyslogFormat::Short:
    case SyslogFormat::Timed:
        out->push_back('<');
        append_uint(out, static_cast<uint64_t>(level), 1);
        out->push_back('>');
        break;
    default:
        break;
    }
    // Time.
    switch (f) {
    case SyslogFormat::Local:
    case SyslogFormat::Rfc3164:
        append_legacy_time(out, unix_us);
        out->push_back(' ');
        break;
    case SyslogFormat::Rfc5424:
        out->append("1 ");
        [[fallthrough]];
    case SyslogFormat::Timed:
    case SyslogFormat::Iso:
        append_iso_time(out, unix_us);
        out->push_back(' ');
        break;
    default:
        break;
    }
    // Host, tag, pid.
    switch (f) {
    case SyslogFormat::Rfc3164:
        out->append(meta.hostname.empty() ? std::string_view("localhost") : meta.hostname);
        out->push_back(' ');
        [[fallthrough]];
    case SyslogFormat::Local:
        if (meta.tag.empty())
            break;
        out->append(meta.tag);
        if (!meta.pid.empty()) {
            out->push_back('[');
            out->append(meta.pid);
            out->push_back(']');
        }
        out->append(": ");
        break;
    case SyslogFormat::Rfc5424:
        for (std::string_view v : {meta.hostname, meta.tag, meta.pid}) {
            out->append(v.empty() ? std::string_view("-") : v);
            out->push_back(' ');
        }
        out->append("- - ");  // MSGID, STRUCTURED-DATA
        break;
    default:
        break;
    }
}

void build_syslog_datagram(std::string* out, SyslogFormat f, int facility, int level, const SyslogMeta& meta,
                           int64_t unix_us, std::string_view msg, size_t maxlen) {
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\0'))
        msg.remove_suffix(1);
    out->clear();
    append_syslog_header(out, f, facility, level, meta, unix_us);
    if (out->size() >= maxlen)
        out->resize(maxlen);
    else
        out->append(msg.substr(0, maxlen - out->size()));
    out->push_back('\n');
}

}  // namespace proxyd::common
