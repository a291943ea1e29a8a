#include "common/logformat.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <ctime>
#include <string>

#include "common/config.h"

using namespace proxyd::common;

namespace {

void utc() {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
}

sockaddr_storage v4(const char* ip, uint16_t port) {
    sockaddr_storage ss{};
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &in->sin_addr);
    return ss;
}

struct Fixture {
    sockaddr_storage src = v4("10.0.1.2", 33312), dst = v4("10.0.3.31", 8012);
    sockaddr_storage srv = v4("192.168.1.10", 80), bsrc = v4("192.168.1.1", 40000);
    HttpHead req;
    StreamInfo s;
    Fixture() {
        utc();
        req.method = "GET";
        req.uri = "/index.html?a=1";
        req.version = 11;
        s.src = &src;
        s.dst = &dst;
        s.accept_unix_us = 1709622489012345;  // 05/Mar/2024:07:08:09.012 UTC
        s.frontend = "http-in";
        s.backend = "static";
        s.server = "srv1";
        s.status = 200;
        s.bytes_in = 90;
        s.bytes_out = 2750;
        s.t.TR = 10;
        s.t.Tw = 0;
        s.t.Tc = 30;
        s.t.Tr = 69;
        s.t.Ta = 109;
        s.t.Th = 0;
        s.t.Ti = 0;
        s.t.Tt = 5007;
        s.actconn = 1;
        s.feconn = 1;
        s.beconn = 1;
        s.srv_conn = 1;
    }
    std::string render(const char* fmt, bool http, const LogEnv& env = {}) {
        std::string err;
        auto lf = LogFormat::compile(fmt, http, &err);
        INFO(err);
        REQUIRE(lf);
        std::string out;
        lf->render(s, env, &out);
        return out;
    }
};

std::string compile_error(const char* fmt, bool http) {
    std::string err;
    auto lf = LogFormat::compile(fmt, http, &err);
    CHECK(!lf);
    return err;
}

}  // namespace

TEST_CASE_METHOD(Fixture, "option httplog line, byte for byte") {
    s.req = &req;
    CHECK(render(kHttpLogFormat, true) ==
          "10.0.1.2:33312 [05/Mar/2024:07:08:09.012] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- "
          "1/1/1/1/0 0/0 \"GET /index.html?a=1 HTTP/1.1\"");
    // Bad request, termination flags, no server.
    s.req = nullptr;
    s.status = 400;
    s.server = "";
    s.backend = "";
    s.t.Tw = s.t.Tc = s.t.Tr = -1;
    s.term[0] = 'P';
    s.term[1] = 'R';
    CHECK(render(kHttpLogFormat, true) ==
          "10.0.1.2:33312 [05/Mar/2024:07:08:09.012] http-in http-in/<NOSRV> 10/-1/-1/-1/109 400 2750 - - PR-- "
          "1/1/1/1/0 0/0 \"<BADREQ>\"");
}

TEST_CASE_METHOD(Fixture, "option tcplog line, byte for byte") {
    CHECK(render(kTcpLogFormat, false) ==
          "10.0.1.2:33312 [05/Mar/2024:07:08:09.012] http-in static/srv1 0/30/5007 2750 -- 1/1/1/1/0 0/0");
    s.term[0] = 'S';
    s.term[1] = 'C';
    s.retries = 3;
    s.redispatched = true;
    CHECK(render(kTcpLogFormat, false) ==
          "10.0.1.2:33312 [05/Mar/2024:07:08:09.012] http-in static/srv1 0/30/5007 2750 SC 1/1/1/1/+3 0/0");
}

TEST_CASE_METHOD(Fixture, "the request date follows the idle and handshake times") {
    s.req = &req;
    s.t.Ti = 2000;
    s.t.Th = 5;
    // accept_unix_us is the request start in mode http: %t is 2005 ms earlier.
    CHECK(render("%t %tr %Tq", true) == "05/Mar/2024:07:08:07.007 05/Mar/2024:07:08:09.012 2015");
    CHECK(render("%T %trg %Ts %ms", true) == "05/Mar/2024:07:08:07 +0000 05/Mar/2024:07:08:09 +0000 1709622487 007");
    CHECK(render("%Tl", true) == "05/Mar/2024:07:08:07 +0000");
}

TEST_CASE_METHOD(Fixture, "HTTP request variables") {
    s.req = &req;
    CHECK(render("%HM|%HU|%HP|%HQ|%HV|%HPO", true) == "GET|/index.html?a=1|/index.html|?a=1|HTTP/1.1|/index.html");
    req.uri = "http://example.com/x\"y#z";
    req.version = 10;
    CHECK(render("%r", true) == "GET http://example.com/x#22y#23z HTTP/1.0");
    CHECK(render("%HPO %{+Q}HM", true) == "/x#22y#23z \"GET\"");
    s.req = nullptr;
    CHECK(render("%HM %HU %{+Q}HV", true) == "<BADREQ> <BADREQ> \"<BADREQ>\"");
}

TEST_CASE_METHOD(Fixture, "options, separators, literals") {
    CHECK(render("%{+Q}ci:%cp", false) == "\"10.0.1.2\":33312");
    CHECK(render("%{+X}ci:%{+X}cp", false) == "0A000102:8220");
    CHECK(render("  %f   %b  ", false) == "http-in static ");
    CHECK(render("100%% %f", false) == "100% http-in");
    CHECK(render("%{+Q}o %f %{-Q}b %ID %{-Q}ID", false) == "\"http-in\" static \"\" -");
    s.unique_id = "abc\"]";
    CHECK(render("%{+E}ID", false) == "abc\\\"\\]");
    CHECK(render("%si:%sp %bi:%bp", false) == "-:- -:-");
    s.srv_addr = &srv;
    s.srv_src = &bsrc;
    CHECK(render("%si:%sp %bi:%bp %fi:%fp", false) == "192.168.1.10:80 192.168.1.1:40000 10.0.3.31:8012");
    // Empty captures print nothing and do not add spaces.
    CHECK(render("%f %hr %hs %b", false) == "http-in static");
    CHECK(render("%U %B %ST", false) == "90 2750 0");
    s.request_id = 10;
    LogEnv env{"host1", 42, 7};
    CHECK(render("%H %pid %{+X}pid %rt %{+X}rt %lc", false, env) == "host1 42 002A 10 000A 7");
    s.term[2] = 'N';
    s.term[3] = 'I';
    CHECK(render("%tsc %ts", false) == "--NI --");
    CHECK(render("%Th/%Tt/%Tu/%Td", false) == "0/5007/5007/4967");
}

TEST_CASE("log-format errors are HAProxy's") {
    CHECK(compile_error("%foo", false) ==
          "no such format variable 'foo'. If you wanted to emit the '%' character verbatim, you need to use '%%'");
    CHECK(compile_error("%r", false) == "format variable 'r' is reserved for HTTP mode");
    CHECK(compile_error("a %", false) == "truncated line after '%'");
    CHECK(compile_error("%{+Q}", false).find("without variable name") != std::string::npos);
    CHECK(compile_error("%[src", false) == "missing ']' after 'src'");
    CHECK(compile_error("50% off", false).find("unexpected variable name near ' '") != std::string::npos);
}

TEST_CASE("default Connect from line") {
    sockaddr_storage src = v4("10.0.1.2", 33312), dst = v4("10.0.3.31", 8012);
    StreamInfo s;
    s.src = &src;
    s.dst = &dst;
    s.frontend = "www";
    std::string out;
    render_connect_line(s, true, &out);
    CHECK(out == "Connect from 10.0.1.2:33312 to 10.0.3.31:8012 (www/HTTP)");
    out.clear();
    s.dst = nullptr;
    render_connect_line(s, false, &out);
    CHECK(out == "Connect from 10.0.1.2:33312 to undetermined address:0 (www/TCP)");
}

// --- configuration keywords ---------------------------------------------------------------------

namespace {

ParseResult parse(const std::string& text) {
    return parse_config(std::vector<ConfigSource>{ConfigSource{"a.cfg", text}},
                        [](const std::string&) -> std::optional<std::string> { return std::nullopt; }, false);
}

std::string dump(const ParseResult& r) {
    std::string s;
    for (const auto& d : r.errors)
        s += "error [" + std::to_string(d.loc.line) + "] " + d.message + "\n";
    for (const auto& d : r.warnings)
        s += "warning [" + std::to_string(d.loc.line) + "] " + d.message + "\n";
    return s;
}

const ProxyConf& proxy(const Config& c, const std::string& name) {
    for (auto& p : c.proxies)
        if (p.name == name)
            return p;
    FAIL("no proxy " << name);
    return c.proxies.front();
}

}  // namespace

TEST_CASE("log keywords: global targets, log global, no log, formats") {
    auto r = parse(R"(global
    log 127.0.0.1 local0
    log 127.0.0.1:5140 len 200 format rfc5424 local1 notice err
    log /dev/log daemon
    log stdout format raw local0
    log-tag px
    log-send-hostname web1
defaults
    mode tcp
    log global
    option tcplog
    option dontlognull
frontend fe
    bind 127.0.0.1:8000
    log 10.0.0.1:1514 local2 info
    log global
    default_backend be
frontend quiet
    bind 127.0.0.1:8001
    no log
    default_backend be
listen web
    mode http
    bind 127.0.0.1:8002
    option httplog
    log-tag web
    option log-separate-errors
    no option dontlognull
    server s1 127.0.0.1:80
backend be
    server s1 127.0.0.1:80
)");
    INFO(dump(r));
    REQUIRE(r.config);
    const auto& g = r.config->global.log;
    REQUIRE(g.targets.size() == 4);
    CHECK(g.targets[0].key() == "log:127.0.0.1:514");
    CHECK(g.targets[0].facility == 16);
    CHECK(g.targets[0].level == 7);
    CHECK(g.targets[0].maxlen == 1024);
    CHECK(g.targets[1].key() == "log:127.0.0.1:5140");
    CHECK(g.targets[1].maxlen == 200);
    CHECK(g.targets[1].format == SyslogFormat::Rfc5424);
    CHECK(g.targets[1].level == 5);
    CHECK(g.targets[1].minlevel == 3);
    CHECK(g.targets[2].key() == "log:unix@/dev/log");
    CHECK(g.targets[3].kind == LogTarget::Kind::Fd);
    CHECK(g.targets[3].key() == "log:fd@1");
    CHECK(g.tag == "px");
    CHECK(g.send_hostname == "web1");

    const auto& fe = proxy(*r.config, "fe");
    // defaults' "log global", then fe's own line, then "log global" again (once only).
    REQUIRE(fe.log.entries.size() == 5);
    CHECK(fe.log.entries[4].target.key() == "log:10.0.0.1:1514");
    CHECK(fe.log.format == ProxyLogConf::Format::Tcp);
    CHECK(fe.log.compiled);
    CHECK(fe.log.dontlognull);
    CHECK(proxy(*r.config, "quiet").log.entries.empty());
    const auto& web = proxy(*r.config, "web");
    CHECK(web.log.format == ProxyLogConf::Format::Http);
    CHECK(web.log.tag == "web");
    CHECK(web.log.log_separate_errors);
    CHECK(!web.log.dontlognull);
    CHECK(web.log.entries.size() == 4);
    CHECK(!proxy(*r.config, "be").log.compiled);  // backends do not log streams
}

TEST_CASE("log keyword errors") {
    auto bad = [](const std::string& line, const std::string& msg) {
        auto r = parse("global\n    " + line + "\n");
        INFO(dump(r));
        REQUIRE(r.errors.size() == 1);
        CHECK(r.errors[0].loc.line == 2);
        CHECK(r.errors[0].message.find(msg) != std::string::npos);
    };
    bad("log 127.0.0.1", "expects <address> and <facility> as arguments");
    bad("log 127.0.0.1 local9", "unknown log facility 'local9'");
    bad("log 127.0.0.1 len 50 local0", "invalid log length '50', must be between 80 and 65535");
    bad("log 127.0.0.1 format json local0", "unknown log format 'json'");
    bad("log 127.0.0.1 local0 info debug extra", "cannot handle unexpected argument 'extra'");
    bad("log 127.0.0.1 local0 loud", "unknown optional log level 'loud'");
    bad("log global", "'global' is not supported for a global syslog server");
    bad("log ring@buf local0", "not supported");
    bad("log fd@5 local0", "only 'stdout', 'stderr'");
}

TEST_CASE("log formats are checked against the proxy's mode") {
    auto r = parse(R"(frontend fe
    mode tcp
    bind 127.0.0.1:8000
    option httplog
    log 127.0.0.1 local0
    default_backend be
frontend fe2
    mode tcp
    bind 127.0.0.1:8001
    log-format "%ci %r"
    default_backend be
backend be
    server s1 127.0.0.1:80
)");
    INFO(dump(r));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].loc.line == 10);
    CHECK(r.errors[0].message == "failed to parse log-format : format variable 'r' is reserved for HTTP mode.");
    bool fallback = false;
    for (auto& w : r.warnings)
        fallback |= w.loc.line == 4 && w.message == "'option httplog' not usable with frontend 'fe' (needs 'mode "
                                                     "http'). Falling back to 'option tcplog'.";
    CHECK(fallback);
}

TEST_CASE("log-format in defaults overridden, and in a backend") {
    auto r = parse(R"(defaults
    option tcplog
    log-format "%ci"
backend be
    log-format "%ci"
    server s1 127.0.0.1:80
)");
    INFO(dump(r));
    CHECK(r.errors.empty());
    REQUIRE(r.warnings.size() >= 2);
    CHECK(r.warnings[0].message == "'log-format' overrides previous 'option tcplog' in 'defaults' section.");
    CHECK(r.warnings[1].message == "backend 'be' : 'log-format' directive is ignored in backends.");
}
