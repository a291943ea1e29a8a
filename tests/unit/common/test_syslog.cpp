#include "common/syslog.h"

#include <cstdlib>
#include <ctime>

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd::common;

namespace {

// 2024-03-05 07:08:09.012345 UTC
constexpr int64_t kT = 1709622489012345;

void utc() {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
}

std::string dgram(SyslogFormat f, const SyslogMeta& m, std::string_view msg, size_t maxlen = 1024, int level = 6) {
    std::string out;
    build_syslog_datagram(&out, f, 16, level, m, kT, msg, maxlen);
    return out;
}

}  // namespace

TEST_CASE("syslog names") {
    CHECK(syslog_facility("kern") == 0);
    CHECK(syslog_facility("local0") == 16);
    CHECK(syslog_facility("local7") == 23);
    CHECK(syslog_facility("local8") == -1);
    CHECK(syslog_level("emerg") == 0);
    CHECK(syslog_level("info") == 6);
    CHECK(syslog_level("debug") == 7);
    CHECK(syslog_level("error") == -1);
    CHECK(std::string(syslog_facility_name(16)) == "local0");
    CHECK(std::string(syslog_level_name(3)) == "err");
    CHECK(parse_syslog_format("rfc5424") == SyslogFormat::Rfc5424);
    CHECK(parse_syslog_format("raw") == SyslogFormat::Raw);
    CHECK(!parse_syslog_format("rfc3165"));
    CHECK(!parse_syslog_format(""));
}

TEST_CASE("syslog headers as HAProxy builds them") {
    utc();
    SyslogMeta m{"", "proxyd", "1234"};
    // local0.info = 16*8+6 = 134
    CHECK(dgram(SyslogFormat::Unspec, m, "hello") == "<134>Mar  5 07:08:09 proxyd[1234]: hello\n");
    CHECK(dgram(SyslogFormat::Local, m, "hello") == "<134>Mar  5 07:08:09 proxyd[1234]: hello\n");
    CHECK(dgram(SyslogFormat::Rfc3164, m, "hello") == "<134>Mar  5 07:08:09 localhost proxyd[1234]: hello\n");
    CHECK(dgram(SyslogFormat::Rfc5424, m, "hello") ==
          "<134>1 2024-03-05T07:08:09.012345+00:00 - proxyd 1234 - - hello\n");
    CHECK(dgram(SyslogFormat::Priority, m, "hello") == "<134>hello\n");
    CHECK(dgram(SyslogFormat::Short, m, "hello") == "<6>hello\n");
    CHECK(dgram(SyslogFormat::Timed, m, "hello") == "<6>2024-03-05T07:08:09.012345+00:00 hello\n");
    CHECK(dgram(SyslogFormat::Iso, m, "hello") == "2024-03-05T07:08:09.012345+00:00 hello\n");
    CHECK(dgram(SyslogFormat::Raw, m, "hello\n") == "hello\n");

    SyslogMeta h{"web1", "px", "7"};
    CHECK(dgram(SyslogFormat::Unspec, h, "x") == "<134>Mar  5 07:08:09 web1 px[7]: x\n");
    CHECK(dgram(SyslogFormat::Rfc3164, h, "x") == "<134>Mar  5 07:08:09 web1 px[7]: x\n");
    CHECK(dgram(SyslogFormat::Rfc5424, h, "x") == "<134>1 2024-03-05T07:08:09.012345+00:00 web1 px 7 - - x\n");
    // level err, facility local0: 131
    CHECK(dgram(SyslogFormat::Local, m, "e", 1024, 3) == "<131>Mar  5 07:08:09 proxyd[1234]: e\n");
}

TEST_CASE("syslog day of month is space padded, other fields zero padded") {
    utc();
    std::string out;
    append_legacy_time(&out, 1704164645000000);  // 2024-01-02 03:04:05
    CHECK(out == "Jan  2 03:04:05");
    out.clear();
    append_legacy_time(&out, 1703462400000000);  // 2023-12-25 00:00:00
    CHECK(out == "Dec 25 00:00:00");
    out.clear();
    append_iso_time(&out, 1704164645000007);
    CHECK(out == "2024-01-02T03:04:05.000007+00:00");
}

TEST_CASE("syslog local time offset") {
    ::setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    ::tzset();
    std::string out;
    append_iso_time(&out, 1704164645000000);  // 03:04:05 UTC = 04:04:05 CET
    CHECK(out == "2024-01-02T04:04:05.000000+01:00");
    out.clear();
    append_gmt_offset(&out, 1720000000, false);  // July: CEST
    CHECK(out == "+0200");
    utc();
}

TEST_CASE("syslog datagrams are cut to len, then get their LF") {
    utc();
    SyslogMeta m{"", "proxyd", "1234"};
    std::string msg(200, 'a');
    std::string d = dgram(SyslogFormat::Local, m, msg, 80);
    CHECK(d.size() == 81);
    CHECK(d.back() == '\n');
    CHECK(d.rfind("<134>Mar  5 07:08:09 proxyd[1234]: aaa", 0) == 0);
    // A header longer than len is cut too.
    SyslogMeta big{"", std::string_view("tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt"), "1"};
    d = dgram(SyslogFormat::Local, big, "m", 80);
    CHECK(d.size() == 81);
    CHECK(d.back() == '\n');
}
