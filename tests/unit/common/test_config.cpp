#include "common/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <linux/capability.h>
#include <map>
#include <string>
#include <vector>

using namespace proxyd::common;

namespace {

using Env = std::map<std::string, std::string>;

EnvLookup env_of(Env vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end())
            return std::nullopt;
        return it->second;
    };
}

const EnvLookup kNoEnv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };

ParseResult parse_sources(const std::vector<ConfigSource>& srcs, const EnvLookup& env = kNoEnv,
                          bool check_paths = false) {
    return parse_config(srcs, env, check_paths);
}

ParseResult parse(const std::string& text, const EnvLookup& env = kNoEnv, bool check_paths = false) {
    return parse_sources({ConfigSource{"a.cfg", text}}, env, check_paths);
}

std::string dump(const ParseResult& r) {
    std::string s;
    for (const auto& d : r.errors)
        s += "error [" + d.loc.file + ":" + std::to_string(d.loc.line) + "] " + d.message + "\n";
    for (const auto& d : r.warnings)
        s += "warning [" + d.loc.file + ":" + std::to_string(d.loc.line) + "] " + d.message + "\n";
    return s;
}

// A diagnostic containing `text` at file:line (line 0: any line).
bool has(const std::vector<Diag>& ds, const std::string& text, int line = 0, const std::string& file = "a.cfg") {
    for (const auto& d : ds)
        if (d.message.find(text) != std::string::npos && (line == 0 || d.loc.line == line) && d.loc.file == file)
            return true;
    return false;
}

// Expects exactly one error, containing `text`, at a.cfg:line.
void expect_error(const ParseResult& r, const std::string& text, int line) {
    INFO(dump(r));
    CHECK_FALSE(r.config.has_value());
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message.find(text) != std::string::npos);
    CHECK(r.errors[0].loc.file == "a.cfg");
    CHECK(r.errors[0].loc.line == line);
}

// The value "pidfile" received: a probe for the tokenizer.
std::string pidfile_of(const std::string& line, const EnvLookup& env = kNoEnv) {
    auto r = parse("global\n" + line + "\n", env);
    INFO(line << "\n" << dump(r));
    REQUIRE(r.config);
    return r.config->global.pidfile;
}

// Timeouts and a backend: a valid base to which tests append a frontend or listen.
const std::string kDefaults =
    "defaults\n"                 // 1
    "    mode tcp\n"             // 2
    "    timeout connect 5s\n"   // 3
    "    timeout client 30s\n"   // 4
    "    timeout server 30s\n"   // 5
    "backend be\n"               // 6
    "    server s1 127.0.0.1:8081\n";  // 7
const int kBaseLines = 7;

const ProxyConf& proxy(const Config& c, const std::string& name) {
    for (const auto& p : c.proxies)
        if (p.name == name)
            return p;
    FAIL("no proxy " << name);
    return c.proxies.front();
}

// A frontend on `bind_line` forwarding to "be", appended to kDefaults.
ParseResult parse_bind(const std::string& bind_line) {
    return parse(kDefaults + "frontend fe\n    " + bind_line + "\n    default_backend be\n");
}

// A backend "b2" with one server line, appended to kDefaults.
ParseResult parse_server(const std::string& server_line) {
    return parse(kDefaults + "backend b2\n    " + server_line + "\n");
}

}  // namespace

// -------------------------------------------------------------------------------------------
TEST_CASE("parse_duration_ms: units and rejects", "[config]") {
    CHECK(parse_duration_ms("0") == 0u);
    CHECK(parse_duration_ms("5000") == 5000u);
    CHECK(parse_duration_ms("100ms") == 100u);
    CHECK(parse_duration_ms("5s") == 5000u);
    CHECK(parse_duration_ms("2m") == 120000u);
    CHECK(parse_duration_ms("1h") == 3600000u);
    CHECK(parse_duration_ms("1d") == 86400000u);
    CHECK(parse_duration_ms("0us") == 0u);
    CHECK(parse_duration_ms("1us") == 1u);
    CHECK(parse_duration_ms("10us") == 1u);
    CHECK(parse_duration_ms("1000us") == 1u);
    CHECK(parse_duration_ms("1001us") == 2u);
    CHECK(parse_duration_ms("18446744073709551615") == UINT64_MAX);

    for (const char* bad : {"", "abc", "s", "-5", "+5", "5 s", " 5", "5sec", "5S", "1.5s", "5ss", "18446744073709551616",
                            "213503982334602d", "99999999999999999999ms", "5x"}) {
        INFO(bad);
        CHECK_FALSE(parse_duration_ms(bad).has_value());
    }
}

// -------------------------------------------------------------------------------------------
TEST_CASE("tokenizer: quoting and escaping", "[config][tokenizer]") {
    CHECK(pidfile_of("pidfile /run/p.pid") == "/run/p.pid");
    CHECK(pidfile_of("\tpidfile\t\t/run/p.pid   ") == "/run/p.pid");
    CHECK(pidfile_of("pidfile \"/a b\"") == "/a b");
    CHECK(pidfile_of("pidfile '/a b'") == "/a b");
    CHECK(pidfile_of("pidfile /a\\ b") == "/a b");
    CHECK(pidfile_of("pidfile a\\\\b") == "a\\b");
    CHECK(pidfile_of("pidfile a\\\"b") == "a\"b");
    CHECK(pidfile_of("pidfile a\\'b") == "a'b");
    CHECK(pidfile_of("pidfile \"a\\\"b\"") == "a\"b");
    CHECK(pidfile_of("pidfile \"a'b\"") == "a'b");
    CHECK(pidfile_of("pidfile 'a\"b'") == "a\"b");
    CHECK(pidfile_of("pidfile 'a\\nb'") == "a\\nb");  // nothing is interpreted in single quotes
    CHECK(pidfile_of("pidfile '$HOME${X}'") == "$HOME${X}");
    CHECK(pidfile_of("pidfile a\\tb") == "a\tb");
    CHECK(pidfile_of("pidfile \"a\\nb\\rc\"") == "a\nb\rc");
    CHECK(pidfile_of("pidfile a\\x41\\x7a") == "aAz");
    CHECK(pidfile_of("pidfile \"\\x20\"") == " ");
    CHECK(pidfile_of("pidfile a\\#b # comment") == "a#b");
    CHECK(pidfile_of("pidfile \"a#b\"") == "a#b");
    CHECK(pidfile_of("pidfile 'a#b'") == "a#b");
    CHECK(pidfile_of("pidfile a#b c d") == "a");  // '#' starts a comment even inside a word
    CHECK(pidfile_of("pidfile a\"b c\"d") == "ab cd");
    CHECK(pidfile_of("pidfile \"a\"'b'c") == "abc");
    CHECK(pidfile_of("pidfile a\\$b") == "a$b");
    CHECK(pidfile_of("pidfile \"a\\$b\"") == "a$b");
    CHECK(pidfile_of("pidfile ^/a$") == "^/a$");  // a lone '$' outside quotes is literal
    CHECK(pidfile_of("pidfile $HOME") == "$HOME");  // only ${...} expands outside quotes
    // Not an escape sequence: kept as written (regexes need "\." and "\1").
    CHECK(pidfile_of("pidfile a\\.b\\1") == "a\\.b\\1");
    CHECK(pidfile_of("# only a comment\nglobal\n   # indented comment\n\npidfile /x") == "/x");
}

TEST_CASE("tokenizer: empty words and comments", "[config][tokenizer]") {
    auto r = parse("global\npidfile \"\"\n");
    expect_error(r, "'pidfile' expects <path> as an argument", 2);

    r = parse("global\npidfile a b\n");
    expect_error(r, "'pidfile': unexpected extra argument 'b'", 2);

    r = parse("global\npidfile /a '' \n");
    expect_error(r, "unexpected extra argument ''", 2);

    r = parse("global#comment\r\n\tdaemon#x\r\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.config->global.daemon);
}

TEST_CASE("tokenizer: environment variables", "[config][tokenizer]") {
    auto env = env_of({{"HOME", "/home/u"}, {"EMPTY", ""}, {"LIST", "a  b"}, {"SP", "x y"}});
    CHECK(pidfile_of("pidfile \"${HOME}/p\"", env) == "/home/u/p");
    CHECK(pidfile_of("pidfile ${HOME}/p", env) == "/home/u/p");
    CHECK(pidfile_of("pidfile \"$HOME/p\"", env) == "/home/u/p");
    CHECK(pidfile_of("pidfile \"$HOME.p\"", env) == "/home/u.p");
    CHECK(pidfile_of("pidfile ${UNSET-/def/p}", env) == "/def/p");
    CHECK(pidfile_of("pidfile \"${UNSET-a b}\"", env) == "a b");
    CHECK(pidfile_of("pidfile \"${HOME-/def}\"", env) == "/home/u");
    CHECK(pidfile_of("pidfile x${EMPTY-def}y", env) == "xy");  // the default replaces unset only
    CHECK(pidfile_of("pidfile \"${SP}\"", env) == "x y");
    CHECK(pidfile_of("pidfile ${EMPTY} /p", env) == "/p");  // empty outside quotes: no word
    CHECK(pidfile_of("pidfile \"${.FILE}:${.LINE}:${.SECTION}\"", env) == "a.cfg:2:global");
    CHECK(pidfile_of("pidfile ${.LINE}", env) == "2");

    // ${VAR[*]} expands to several words.
    auto r = parse("global\npidfile ${LIST[*]}\n", env);
    expect_error(r, "'pidfile': unexpected extra argument 'b'", 2);
    // Without [*] a value with blanks outside quotes stays one word.
    CHECK(pidfile_of("pidfile ${SP}", env) == "x y");

    // Unset without default: empty, with a warning naming the variable.
    r = parse("global\npidfile /p ${NOPE}\n", env);
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.config->global.pidfile == "/p");
    CHECK(has(r.warnings, "'NOPE'", 2));
    CHECK(has(r.warnings, "not set", 2));

    r = parse("global\npidfile \"${NOPE}\"\n", env);
    CHECK(has(r.warnings, "'NOPE'", 2));
    expect_error(r, "'pidfile' expects <path>", 2);

    // The default lookup reads the process environment.
    ::setenv("PROXYD_TEST_CFG_VAR", "/from/env", 1);
    auto r2 = parse_config(std::vector<ConfigSource>{{"a.cfg", "global\npidfile ${PROXYD_TEST_CFG_VAR}\n"}});
    ::unsetenv("PROXYD_TEST_CFG_VAR");
    INFO(dump(r2));
    REQUIRE(r2.config);
    CHECK(r2.config->global.pidfile == "/from/env");
}

TEST_CASE("tokenizer: errors name the line and parsing goes on", "[config][tokenizer]") {
    struct Case {
        const char* line;
        const char* message;
    };
    const Case cases[] = {
        {"pidfile \"abc", "unterminated double quote"},
        {"pidfile 'abc", "unterminated single quote"},
        {"pidfile a\"b'c", "unterminated double quote"},
        {"pidfile ${FOO", "unterminated '${'"},
        {"pidfile \"${FOO-bar\"", "unterminated '${'"},
        {"pidfile ${", "unterminated '${'"},
        {"pidfile ${}", "invalid variable name"},
        {"pidfile ${1A}", "invalid variable name"},
        {"pidfile ${A!}", "unexpected character '!'"},
        {"pidfile ${A[x]}", "unexpected character '['"},
        {"pidfile \"a$\"", "must be followed by a variable name"},
        {"pidfile \"$1\"", "must be followed by a variable name"},
        {"pidfile ${.FOO}", "unknown pseudo-variable '.FOO'"},
        {"pidfile a\\xZZ", "invalid escape sequence '\\xZZ'"},
        {"pidfile a\\x4", "invalid escape sequence"},
        {"pidfile a\\", "backslash at end of line"},
        {"pidfile a\\x00b", "NUL character"},
        {"pidfile \"a\\x00\"", "NUL character"},
    };
    for (const auto& c : cases) {
        auto r = parse(std::string("global\n") + c.line + "\n");
        INFO(c.line);
        expect_error(r, c.message, 2);
    }

    // A NUL byte in the text itself.
    auto r = parse(std::string("global\npidfile a\0b\n", 19));
    expect_error(r, "NUL character", 2);

    // Every bad line is reported, and the good ones still count.
    r = parse("global\n  pidfile \"x\n  daemon\n  pidfile 'y\n  nbproc 2\n");
    INFO(dump(r));
    CHECK_FALSE(r.config);
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0].loc.line == 2);
    CHECK(r.errors[1].loc.line == 4);

    // An unset variable in a value that is otherwise valid does not fail the parse.
    auto env = env_of({});
    r = parse("global\n  pidfile /p${X}\n", env);
    REQUIRE(r.config);
    CHECK(r.config->global.pidfile == "/p");
}

// -------------------------------------------------------------------------------------------
TEST_CASE("sections: structure errors", "[config][sections]") {
    auto r = parse("daemon\nglobal\n");
    expect_error(r, "'daemon' is outside of any section", 1);

    r = parse("global extra\n daemon\n");
    expect_error(r, "'global': unexpected extra argument 'extra'", 1);

    // Unsupported sections: one error, the body is skipped, parsing resumes after it.
    r = parse("peers mypeers\n  peer a 127.0.0.1:1024\n  bogus-line\nglobal\n  daemon\n");
    expect_error(r, "'peers' sections are not supported by proxyd yet", 1);
    for (const char* s : {"userlist", "resolvers", "mailers", "program", "ring", "cache", "fcgi-app",
                          "log-forward"}) {
        INFO(s);
        expect_error(parse(std::string(s) + " x\n  anything goes\n"), "sections are not supported", 1);
    }

    // Conditional blocks are allowed anywhere, even around a section header (see the
    // "directives" tests).
    r = parse(".if defined(X)\nglobal\n  .endif\n");
    INFO(dump(r));
    CHECK(r.errors.empty());

    // A proxy without name: error, and its body is skipped rather than misattributed.
    r = parse("frontend\n  bind :80\n  foo\n");
    expect_error(r, "'frontend' expects <name> as an argument", 1);
    r = parse("backend \"\"\n");
    expect_error(r, "'backend' expects <name>", 1);

    r = parse(kDefaults + "frontend f:e-1.x_y\n bind :80\n default_backend be\n");
    INFO(dump(r));
    CHECK(r.config);

    r = parse(kDefaults + "frontend f/e\n bind :80\n default_backend be\n");
    expect_error(r, "character '/' is not permitted in 'frontend' name 'f/e'", kBaseLines + 1);

    r = parse(kDefaults + "backend \"a b\"\n server s 127.0.0.1:1\n");
    expect_error(r, "character ' ' is not permitted in 'backend' name 'a b'", kBaseLines + 1);

    r = parse(kDefaults + "listen l 127.0.0.1:80\n server s 127.0.0.1:1\n bind :80\n");
    expect_error(r, "'listen l': unexpected argument '127.0.0.1:80' (listening addresses go on 'bind' lines)",
                 kBaseLines + 1);
}

TEST_CASE("sections: duplicate names", "[config][sections]") {
    auto r = parse(kDefaults + "backend be\n server s 127.0.0.1:1\n");
    expect_error(r, "backend 'be' has the same name as backend 'be' declared at a.cfg:6", kBaseLines + 1);

    // listen counts as a frontend and as a backend.
    r = parse(kDefaults + "listen be\n bind :80\n");
    expect_error(r, "listen 'be' has the same name as backend 'be' declared at a.cfg:6", kBaseLines + 1);

    r = parse(kDefaults + "frontend x\n bind :80\n default_backend be\nfrontend x\n bind :81\n default_backend be\n");
    expect_error(r, "frontend 'x' has the same name as frontend 'x'", kBaseLines + 4);

    // A frontend and a backend may share a name.
    r = parse(kDefaults + "frontend be\n bind :80\n default_backend be\n");
    INFO(dump(r));
    CHECK(r.config);
}

TEST_CASE("sections: several files", "[config][sections]") {
    std::vector<ConfigSource> srcs = {
        {"a.cfg", "global\n  nbproc 2\ndefaults\n  timeout connect 1s\n  timeout client 2s\n  timeout server 3s\n"},
        {"b.cfg", "  maxconn 10\nbackend be\n  server s 127.0.0.1:1\n"},
        {"c.cfg", "frontend fe\n  bind :80\n  default_backend be\n"},
    };
    auto r = parse_sources(srcs);
    INFO(dump(r));
    // A file starts outside any section: "maxconn" is not added to the defaults of a.cfg.
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].loc.file == "b.cfg");
    CHECK(r.errors[0].loc.line == 1);
    CHECK(r.errors[0].message.find("'maxconn' is outside of any section") != std::string::npos);

    srcs[1].text = "backend be\n  server s 127.0.0.1:1\n";
    r = parse_sources(srcs);
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.warnings.empty());
    // The last defaults section carries over into the next files.
    const auto& fe = proxy(*r.config, "fe");
    CHECK(fe.timeouts.client == 2000u);
    CHECK(fe.loc.file == "c.cfg");
    CHECK(fe.loc.line == 1);
    CHECK(proxy(*r.config, "be").timeouts.server == 3000u);
    CHECK(r.config->global.nbproc == 2);
    REQUIRE(r.config->proxies.size() == 2);
    CHECK(r.config->proxies[0].name == "be");  // file order
    CHECK(r.config->proxies[1].name == "fe");

    // Errors in several files, each with its own name.
    srcs[0].text = "global\n  bogus\n";
    srcs[2].text = "frontend fe\n  bind :80\n  default_backend be\n  bogus2\n";
    r = parse_sources(srcs);
    INFO(dump(r));
    CHECK(has(r.errors, "unknown keyword 'bogus' in 'global' section", 2, "a.cfg"));
    CHECK(has(r.errors, "unknown keyword 'bogus2' in 'frontend' section", 4, "c.cfg"));

    // No source at all: an empty, valid configuration.
    r = parse_sources({});
    REQUIRE(r.config);
    CHECK(r.config->proxies.empty());
}

// -------------------------------------------------------------------------------------------
TEST_CASE("global: supported keywords", "[config][global]") {
    auto r = parse(
        "global\n"
        "  daemon\n"
        "  master-worker\n"
        "  pidfile /run/proxyd.pid\n"
        "  user root\n"
        "  group root\n"
        "  chroot /nonexistent/but/unchecked\n"
        "  nbproc 4\n"
        "  maxconn 1000\n"
        "  setcap cap_net_bind_service,NET_RAW,Cap_Net_Admin,net_raw\n"
        "  insecure-setuid-wanted\n"
        "  insecure-fork-wanted\n"
        "  hard-stop-after 30s\n"
        "  mworker-max-reloads 5\n"
        "  noreuseport\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.warnings.empty());
    const auto& g = r.config->global;
    CHECK(g.daemon);
    CHECK(g.master_worker);
    CHECK(g.exit_on_failure == ExitOnFailure::No);
    CHECK(g.pidfile == "/run/proxyd.pid");
    CHECK(g.user == "root");
    CHECK(g.uid == 0u);
    CHECK(g.group == "root");
    CHECK(g.gid == 0u);
    CHECK(g.chroot == "/nonexistent/but/unchecked");
    CHECK(g.nbproc == 4);
    CHECK(r.config->worker_count() == 4);
    CHECK(g.maxconn == 1000);
    CHECK(g.setcap == std::vector<int>{CAP_NET_BIND_SERVICE, CAP_NET_RAW, CAP_NET_ADMIN});
    CHECK(g.insecure_setuid_wanted);
    CHECK(g.insecure_fork_wanted);
    CHECK(g.hard_stop_after == 30000u);
    CHECK(g.mworker_max_reloads == 5);
    CHECK(g.noreuseport);
}

TEST_CASE("global: defaults", "[config][global]") {
    auto r = parse("global\n");
    REQUIRE(r.config);
    const auto& g = r.config->global;
    CHECK_FALSE(g.daemon);
    CHECK_FALSE(g.master_worker);
    CHECK_FALSE(g.uid);
    CHECK_FALSE(g.gid);
    CHECK(g.nbproc == 0);
    CHECK(g.mworker_max_reloads == 50);
    CHECK_FALSE(g.hard_stop_after);
    CHECK(g.setcap.empty());
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(r.config->worker_count() == (cpus > 0 ? cpus : 1));
    CHECK(r.config->worker_count() >= 1);
}

TEST_CASE("global: master-worker, uid, gid, nbthread", "[config][global]") {
    auto r = parse("global\n master-worker exit-on-failure\n");
    REQUIRE(r.config);
    CHECK(r.config->global.master_worker);
    CHECK(r.config->global.exit_on_failure == ExitOnFailure::Yes);

    r = parse("global\n master-worker exit-on-failure\n master-worker no-exit-on-failure\n");
    REQUIRE(r.config);
    CHECK(r.config->global.exit_on_failure == ExitOnFailure::No);

    r = parse("global\n user root\n uid 1234\n gid 4321\n");
    REQUIRE(r.config);
    CHECK(r.config->global.uid == 1234u);
    CHECK(r.config->global.user.empty());
    CHECK(r.config->global.gid == 4321u);

    r = parse("global\n nbthread 3\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.config->global.nbproc == 3);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].message ==
          "nbthread 3: every proxyd worker is single-threaded; starting 3 worker processes instead");
    CHECK(r.warnings[0].loc.line == 2);
}

TEST_CASE("global: errors", "[config][global]") {
    struct Case {
        const char* line;
        const char* message;
    };
    const Case cases[] = {
        {"daemon now", "'daemon': unexpected extra argument 'now'"},
        {"noreuseport 1", "'noreuseport': unexpected extra argument '1'"},
        {"insecure-fork-wanted x", "unexpected extra argument 'x'"},
        {"insecure-setuid-wanted x", "unexpected extra argument 'x'"},
        {"master-worker sometimes", "'master-worker' only supports 'no-exit-on-failure' and 'exit-on-failure'"},
        {"master-worker a b", "'master-worker': unexpected extra argument 'b'"},
        {"pidfile", "'pidfile' expects <path> as an argument"},
        {"user", "'user' expects <user name>"},
        {"user no-such-user-proxyd", "'user': unknown user 'no-such-user-proxyd'"},
        {"group no-such-group-proxyd", "'group': unknown group 'no-such-group-proxyd'"},
        {"group", "'group' expects <group name>"},
        {"uid abc", "'uid': invalid number 'abc'"},
        {"uid -1", "'uid': negative value '-1' is not allowed"},
        {"uid 4294967295", "'uid': value '4294967295' is out of range"},
        {"gid 1x", "'gid': invalid number '1x'"},
        {"chroot", "'chroot' expects <directory>"},
        {"nbproc 0", "'nbproc': value '0' is out of range (1..64)"},
        {"nbproc 65", "'nbproc': value '65' is out of range (1..64)"},
        {"nbproc two", "'nbproc': invalid number 'two'"},
        {"nbproc", "'nbproc' expects a number"},
        {"nbproc 2 3", "'nbproc': unexpected extra argument '3'"},
        {"nbthread 0", "'nbthread': value '0' is out of range (1..64)"},
        {"maxconn -5", "'maxconn': negative value '-5' is not allowed"},
        {"maxconn 99999999999999999999", "'maxconn': value '99999999999999999999' is out of range"},
        {"maxconn 2147483648", "'maxconn': value '2147483648' is out of range (0..2147483647)"},
        {"maxconn +5", "'maxconn': invalid number '+5'"},
        {"maxconn 0x10", "'maxconn': invalid number '0x10'"},
        {"maxconn ''", "'maxconn' expects a number as an argument"},
        {"setcap", "'setcap' expects a comma-separated list"},
        {"setcap cap_net_raw,cap_fly", "'setcap': unknown capability 'cap_fly'"},
        {"setcap cap_net_raw,,cap_kill", "'setcap': empty capability name"},
        {"setcap a b", "'setcap': unexpected extra argument 'b'"},
        {"hard-stop-after soon", "'hard-stop-after': invalid duration 'soon'"},
        {"hard-stop-after 25d", "'hard-stop-after': duration '25d' is too large"},
        {"hard-stop-after", "'hard-stop-after' expects <time>"},
        {"mworker-max-reloads -1", "'mworker-max-reloads': negative value"},
        {"frobnicate 1", "unknown keyword 'frobnicate' in 'global' section"},
        {"deamon", "unknown keyword 'deamon' in 'global' section; did you mean 'daemon'?"},
        {"pidfle /x", "did you mean 'pidfile'?"},
    };
    for (const auto& c : cases) {
        INFO(c.line);
        expect_error(parse(std::string("global\n  ") + c.line + "\n"), c.message, 2);
    }
}

TEST_CASE("global: chroot is checked only with check_paths", "[config][global]") {
    auto r = parse("global\n chroot /nonexistent-proxyd-dir\n", kNoEnv, true);
    expect_error(r, "cannot access chroot directory '/nonexistent-proxyd-dir': No such file or directory", 2);

    r = parse("global\n chroot /etc/passwd\n", kNoEnv, true);
    expect_error(r, "'chroot': '/etc/passwd' is not a directory", 2);

    r = parse("global\n chroot /tmp\n", kNoEnv, true);
    REQUIRE(r.config);
    CHECK(r.config->global.chroot == "/tmp");

    r = parse("global\n chroot /nonexistent-proxyd-dir\n", kNoEnv, false);
    REQUIRE(r.config);
    CHECK(r.config->global.chroot == "/nonexistent-proxyd-dir");
}

TEST_CASE("global: HAProxy keywords not supported yet", "[config][global]") {
    for (const char* line :
         {"tune.maxaccept 16",
          "ssl-default-bind-ciphers HIGH", "lua-load /x.lua", "cpu-map auto:1/1-4 0-3", "ca-base /etc/ssl",
          "crt-base /etc/ssl", "node n1", "description x", "spread-checks 5", "h1-case-adjust a A",
          "external-check", "localpeer p", "set-var proc.x int(1)", "presetenv A b", "setenv A b",
          "unsetenv A", "resetenv", "ulimit-n 1000", "quiet", "tune.ssl.cachesize 0",
          "httpclient.ssl.verify none"}) {
        INFO(line);
        auto r = parse(std::string("global\n ") + line + "\n");
        std::string kw = std::string(line).substr(0, std::string(line).find(' '));
        expect_error(r, "'" + kw + "' is an HAProxy keyword that proxyd does not support yet", 2);
    }
    auto r = parse("global\n stats timeout 2m\n");
    expect_error(r, "'stats timeout' is not supported yet", 2);
}

TEST_CASE("global: stats socket", "[config][global]") {
    auto r = parse("global\n stats socket /run/x.sock mode 600 level admin expose-fd listeners\n"
                   " stats socket ipv4@127.0.0.1:9999\n stats socket fd@5 level user\n");
    REQUIRE(r.config);
    auto& ss = r.config->global.stats_sockets;
    REQUIRE(ss.size() == 3);
    CHECK(ss[0].addr.path == "/run/x.sock");
    CHECK(*ss[0].mode == 0600);
    CHECK(ss[0].level == CliLevel::Admin);
    CHECK(ss[1].level == CliLevel::Operator);  // HAProxy's default
    CHECK(ss[2].addr.family == AddrFamily::Fd);
    CHECK(ss[0].key() != ss[1].key());
    expect_error(parse("global\n stats socket /x level root\n"), "expects 'user', 'operator' or 'admin'", 2);
    expect_error(parse("global\n stats socket ipv4@127.0.0.1:1 mode 600\n"), "only apply to a UNIX socket", 2);
    expect_error(parse("global\n stats socket /x bogus\n"), "unknown or unsupported option 'bogus'", 2);
    expect_error(parse("global\n stats socket /x\n stats socket /x\n"), "already used", 3);
    expect_error(parse("global\n stats socket\n"), "expects an address", 2);
}

// -------------------------------------------------------------------------------------------
TEST_CASE("defaults: inheritance", "[config][defaults]") {
    auto r = parse(
        "defaults\n"                         // 1
        "  mode tcp\n"                       // 2
        "  timeout connect 1s\n"             // 3
        "  timeout client 2s\n"              // 4
        "  timeout server 3s\n"              // 5
        "  timeout tunnel 1h\n"              // 6
        "  maxconn 100\n"                    // 7
        "  retries 5\n"                      // 8
        "  balance roundrobin\n"             // 9
        "  default_backend be\n"             // 10
        "defaults named\n"                   // 11
        "  timeout connect 10s\n"            // 12
        "  timeout client 20s\n"             // 13
        "  timeout server 30s\n"             // 14
        "backend be\n"                       // 15: inherits "named", the last one
        "  server s1 127.0.0.1:1\n"          // 16
        "frontend fe1\n"                     // 17
        "  bind :80\n"                       // 18
        "  default_backend be\n"             // 19
        "defaults\n"                         // 20: a new unnamed section starts afresh
        "  timeout connect 7s\n"             // 21
        "  timeout client 8s\n"              // 22
        "  timeout server 9s\n"              // 23
        "frontend fe2\n"                     // 24
        "  bind :81\n"                       // 25
        "  default_backend be\n"             // 26
        "listen li from named\n"             // 27
        "  bind :82\n"                       // 28
        "  server s1 127.0.0.1:1\n"          // 29
        "defaults d3 from named\n"           // 30
        "  maxconn 33\n"                     // 31
        "defaults from d3\n"                 // 32
        "  retries 4\n"                      // 33
        "frontend fe3\n"                     // 34
        "  bind :83\n"                       // 35
        "  default_backend be\n");           // 36
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.warnings.empty());
    const auto& c = *r.config;

    const auto& be = proxy(c, "be");
    CHECK(be.timeouts.connect == 10000u);
    CHECK_FALSE(be.timeouts.tunnel);  // "named" does not inherit the first defaults
    CHECK(be.retries == 3);
    CHECK(be.default_backend.empty());
    CHECK(be.maxconn == 0);
    CHECK(be.is_backend);
    CHECK_FALSE(be.is_frontend);

    const auto& fe2 = proxy(c, "fe2");
    CHECK(fe2.timeouts.connect == 7000u);
    CHECK(fe2.maxconn == 0);

    const auto& li = proxy(c, "li");
    CHECK(li.is_frontend);
    CHECK(li.is_backend);
    CHECK(li.timeouts.client == 20000u);
    CHECK(li.default_backend.empty());

    const auto& fe3 = proxy(c, "fe3");
    CHECK(fe3.timeouts.client == 20000u);
    CHECK(fe3.maxconn == 33);
    CHECK(fe3.retries == 4);

    // The first defaults' settings reach the proxies declared right after it.
    r = parse(
        "defaults\n"
        "  timeout connect 1s\n  timeout client 2s\n  timeout server 3s\n  timeout tunnel 1h\n"
        "  maxconn 100\n  retries 5\n  default_backend be\n"
        "backend be\n  server s1 127.0.0.1:1\n"
        "frontend fe\n  bind :80\n");
    INFO(dump(r));
    REQUIRE(r.config);
    const auto& fe = proxy(*r.config, "fe");
    CHECK(fe.default_backend == "be");
    CHECK(fe.maxconn == 100);
    CHECK(fe.timeouts.tunnel == 3600000u);
    CHECK(proxy(*r.config, "be").retries == 5);
}

TEST_CASE("defaults: errors", "[config][defaults]") {
    auto r = parse("backend be from nowhere\n  server s 127.0.0.1:1\n");
    CHECK(has(r.errors, "defaults section 'nowhere' not found for backend 'be'", 1));

    r = parse("defaults d\ndefaults d\nbackend be from d\n");
    CHECK(has(r.errors, "ambiguous defaults section name 'd' referenced by backend 'be'", 3));

    r = parse("defaults a b c\n");
    expect_error(r, "'defaults' expects [<name>] [from <defaults>]", 1);

    r = parse("defaults x/y\n");
    expect_error(r, "character '/' is not permitted in defaults section name 'x/y'", 1);

    r = parse("defaults d from\n");
    expect_error(r, "'defaults' expects [<name>] [from <defaults>]", 1);

    r = parse("defaults d from missing\n");
    expect_error(r, "defaults section 'missing' not found for defaults section 'd'", 1);

    // Keywords refused in defaults.
    r = parse("defaults\n  bind :80\n");
    expect_error(r, "'bind' not allowed in 'defaults' section", 2);
    r = parse("defaults\n  server s 127.0.0.1:1\n");
    expect_error(r, "'server' not allowed in 'defaults' section", 2);
    r = parse("defaults\n  bogus\n");
    expect_error(r, "unknown keyword 'bogus' in 'defaults' section", 2);
}

// -------------------------------------------------------------------------------------------
TEST_CASE("proxies: a complete frontend/backend pair", "[config][proxy]") {
    auto r = parse(
        "defaults\n"
        "  mode tcp\n"
        "  timeout connect 5s\n"
        "  timeout client 30s\n"
        "  timeout server 30s\n"
        "frontend fe\n"
        "  bind 127.0.0.1:8080\n"
        "  maxconn 500\n"
        "  timeout client 1m\n"
        "  timeout client-fin 1s\n"
        "  timeout http-request 5s\n"
        "  timeout http-keep-alive 2s\n"
        "  default_backend be\n"
        "backend be\n"
        "  balance roundrobin\n"
        "  retries 2\n"
        "  timeout queue 3s\n"
        "  timeout tunnel 1h\n"
        "  timeout server-fin 2s\n"
        "  server s1 127.0.0.1:8081 weight 10 maxconn 100\n"
        "  server s2 127.0.0.1:8082 disabled\n"
        "  server s3 [::1]:8083 backup weight 0\n"
        "  server s4 /run/app.sock\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.warnings.empty());
    const auto& c = *r.config;
    REQUIRE(c.proxies.size() == 2);

    const auto& fe = c.proxies[0];
    CHECK(fe.name == "fe");
    CHECK(fe.loc.line == 6);
    CHECK(fe.is_frontend);
    CHECK_FALSE(fe.is_backend);
    CHECK(fe.mode == ProxyMode::Tcp);
    CHECK(fe.maxconn == 500);
    CHECK(fe.timeouts.client == 60000u);
    CHECK(fe.timeouts.client_fin == 1000u);
    CHECK(fe.timeouts.http_request == 5000u);
    CHECK(fe.timeouts.http_keep_alive == 2000u);
    CHECK(fe.timeouts.connect == 5000u);
    CHECK(fe.default_backend == "be");
    REQUIRE(fe.binds.size() == 1);
    CHECK(fe.binds[0].spec == "127.0.0.1:8080");
    CHECK(fe.binds[0].loc.line == 7);
    CHECK(fe.binds[0].addr.to_string() == "127.0.0.1:8080");

    const auto& be = c.proxies[1];
    CHECK(c.find_backend("be") == &be);
    CHECK(c.find_backend("fe") == nullptr);
    CHECK(c.find_backend("nope") == nullptr);
    CHECK(be.retries == 2);
    CHECK(be.balance.algo == BalanceAlgo::RoundRobin);
    CHECK(be.timeouts.queue == 3000u);
    CHECK(be.timeouts.tunnel == 3600000u);
    CHECK(be.timeouts.server_fin == 2000u);
    REQUIRE(be.servers.size() == 4);
    CHECK(be.servers[0].name == "s1");
    CHECK(be.servers[0].addr_spec == "127.0.0.1:8081");
    CHECK(be.servers[0].addr.to_string() == "127.0.0.1:8081");
    CHECK(be.servers[0].weight == 10);
    CHECK(be.servers[0].maxconn == 100);
    CHECK(be.servers[0].loc.line == 20);
    CHECK_FALSE(be.servers[0].disabled);
    CHECK(be.servers[1].disabled);
    CHECK(be.servers[1].weight == 1);
    CHECK(be.servers[2].backup);
    CHECK(be.servers[2].weight == 0);
    CHECK(be.servers[2].addr.family == AddrFamily::Inet6);
    CHECK(be.servers[3].addr.family == AddrFamily::Unix);
    CHECK(be.servers[3].addr.path == "/run/app.sock");
}

TEST_CASE("proxies: listen", "[config][proxy]") {
    auto r = parse(kDefaults + "listen li\n  bind :9000\n  server a 127.0.0.1:1\n  balance roundrobin\n"
                               "  maxconn 7\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.warnings.empty());
    const auto& li = proxy(*r.config, "li");
    CHECK(li.is_frontend);
    CHECK(li.is_backend);
    CHECK(li.default_backend.empty());
    CHECK(li.maxconn == 7);
    CHECK(r.config->find_backend("li") == &li);

    // A listen may hand its traffic to another backend; then it needs no server.
    r = parse(kDefaults + "listen li\n  bind :9000\n  default_backend be\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.warnings.empty());

    // A frontend may use a listen as its backend.
    r = parse(kDefaults + "listen li\n  bind :9000\n  server a 127.0.0.1:1\n"
                          "frontend fe\n  bind :9001\n  default_backend li\n");
    INFO(dump(r));
    REQUIRE(r.config);

    r = parse(kDefaults + "listen li\n  bind :9000\n  default_backend li\n");
    expect_error(r, "listen 'li': loop detected for default_backend: 'li'", kBaseLines + 3);
}

TEST_CASE("http-errors sections, errorfile and errorfiles", "[config][http]") {
    char dir[] = "/tmp/proxyd-errXXXXXX";
    REQUIRE(::mkdtemp(dir));
    std::string d(dir);
    auto write = [&](const std::string& name, const std::string& text) {
        FILE* f = std::fopen((d + "/" + name).c_str(), "w");
        REQUIRE(f);
        std::fputs(text.c_str(), f);
        std::fclose(f);
        return d + "/" + name;
    };
    std::string p503 = write("503.http", "HTTP/1.1 503 Busy\r\ncontent-length: 0\r\n\r\n");
    std::string p403 = write("403.http", "HTTP/1.1 403 No\r\ncontent-length: 0\r\n\r\n");
    std::string own = write("own.http", "HTTP/1.1 503 Own\r\ncontent-length: 0\r\n\r\n");
    std::string bad = write("bad.http", "hello\n");
    std::string base = kDefaults;
    // The section may come after its users; later lines replace earlier pages; CODES select pages.
    auto r = parse(base + "frontend fe\n  mode http\n  bind :80\n  default_backend be2\n  errorfiles site\n"
                          "  errorfile 503 " + own + "\n"
                          "backend be2\n  mode http\n  errorfiles site 403\n  server s 127.0.0.1:1\n"
                          "http-errors site\n  errorfile 503 " + p503 + "\n  errorfile 403 " + p403 + "\n");
    INFO(dump(r));
    REQUIRE(r.config);
    const auto& fe = r.config->proxies[1];
    const auto& be = r.config->proxies[2];
    CHECK(fe.errorfiles.at(503).find("503 Own") != std::string::npos);
    CHECK(fe.errorfiles.at(403).find("403 No") != std::string::npos);
    CHECK(be.errorfiles.count(503) == 0);
    CHECK(be.errorfiles.at(403).find("403 No") != std::string::npos);

    r = parse(base + "frontend fe\n  bind :80\n  default_backend be\n  errorfiles nope\n");
    expect_error(r, "'errorfiles': unknown http-errors section 'nope'", kBaseLines + 4);
    r = parse("http-errors site\n  errorfile 503 " + bad + "\n");
    expect_error(r, "does not start with an HTTP/1.x status line", 2);
    r = parse("http-errors site\n  errorfile 999 " + p503 + "\n");
    expect_error(r, "'errorfile': value '999' is out of range", 2);
    r = parse("http-errors site\n  anything goes\n");
    expect_error(r, "unknown keyword 'anything' in 'http-errors' section (only 'errorfile')", 2);
    r = parse("http-errors\n");
    expect_error(r, "'http-errors' expects <name> as its only argument", 1);
    for (const char* f : {"503.http", "403.http", "own.http", "bad.http"})
        std::remove((d + "/" + f).c_str());
    ::rmdir(dir);
}

TEST_CASE("proxies: mode", "[config][proxy]") {
    auto r = parse(kDefaults + "frontend fe2\n  mode http\n  bind :80\n  default_backend be2\n"
                               "backend be2\n  mode http\n  server s 127.0.0.1:1\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.config->proxies[1].mode == ProxyMode::Http);
    r = parse(kDefaults + "frontend fe\n  mode http\n  bind :80\n  default_backend be\n");
    expect_error(r, "cannot use default_backend 'be' (mode tcp): modes must match", kBaseLines + 4);
    r = parse(kDefaults + "frontend fe\n  mode health\n  bind :80\n  default_backend be\n");
    expect_error(r, "'mode': unknown mode 'health' (expected 'tcp' or 'http')", kBaseLines + 2);
    r = parse(kDefaults + "frontend fe\n  mode\n  bind :80\n  default_backend be\n");
    expect_error(r, "'mode' expects 'tcp' or 'http'", kBaseLines + 2);
    r = parse(kDefaults + "frontend fe\n  mode tcp tcp\n  bind :80\n  default_backend be\n");
    expect_error(r, "'mode': unexpected extra argument 'tcp'", kBaseLines + 2);
    r = parse("defaults\n  mode http\nfrontend fe\n  bind :80\n  default_backend be\nbackend be\n  server s 127.0.0.1:1\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.config->proxies[1].mode == ProxyMode::Http);
}

TEST_CASE("proxies: timeouts", "[config][proxy]") {
    auto fe = [](const std::string& line) {
        return parse(kDefaults + "frontend fe\n  bind :80\n  default_backend be\n  " + line + "\n");
    };
    const int line = kBaseLines + 4;
    expect_error(fe("timeout client abc"), "'timeout': invalid duration 'abc' for 'client'", line);
    expect_error(fe("timeout client -1"), "'timeout': invalid duration '-1'", line);
    expect_error(fe("timeout client 5x"), "invalid duration '5x'", line);
    expect_error(fe("timeout client 25d"), "'timeout': duration '25d' for 'client' is too large", line);
    expect_error(fe("timeout client"), "'timeout client' expects a duration", line);
    expect_error(fe("timeout"), "'timeout' expects a timeout name and a duration", line);
    expect_error(fe("timeout client 1s 2s"), "'timeout client': unexpected extra argument '2s'", line);
    expect_error(fe("timeout forever 1s"), "'timeout': unknown timeout 'forever'", line);
    expect_error(fe("timeout check 1s"), "timeout 'check' is not supported yet", line);
    expect_error(fe("timeout tarpit 1s"), "timeout 'tarpit' is not supported yet", line);
    expect_error(fe("contimeout 5s"), "'contimeout' is obsolete (removed from HAProxy): use 'timeout connect' instead",
                 line);
    expect_error(fe("clitimeout 5s"), "use 'timeout client' instead", line);
    expect_error(fe("srvtimeout 5s"), "use 'timeout server' instead", line);

    // 24.8 days is the largest timer.
    auto r = fe("timeout client 2147483647");
    REQUIRE(r.config);
    CHECK(proxy(*r.config, "fe").timeouts.client == 2147483647u);
    r = fe("timeout client 500us");
    REQUIRE(r.config);
    CHECK(proxy(*r.config, "fe").timeouts.client == 1u);

    // A backend-side timeout in a frontend is ignored with a warning, as in HAProxy.
    r = fe("timeout server 1s");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(has(r.warnings, "'timeout server' ignored because frontend 'fe' has no backend capability", line));
    CHECK(proxy(*r.config, "fe").timeouts.server == 30000u);  // still the inherited one

    r = parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  timeout client 1s\n");
    INFO(dump(r));
    CHECK(has(r.warnings, "'timeout client' ignored because backend 'b2' has no frontend capability",
              kBaseLines + 3));

    // Setting one twice in a section is noted; overriding the defaults is not.
    r = fe("timeout client 1s\n  timeout client 2s");
    INFO(dump(r));
    REQUIRE(r.config);
    REQUIRE(r.warnings.size() == 1);
    CHECK(has(r.warnings, "overwriting 'timeout client' which was already specified", line + 1));
    CHECK(proxy(*r.config, "fe").timeouts.client == 2000u);
}

TEST_CASE("proxies: maxconn, retries, balance, default_backend", "[config][proxy]") {
    auto r = parse(kDefaults + "frontend fe\n  bind :80\n  default_backend be\n  maxconn abc\n");
    expect_error(r, "'maxconn': invalid number 'abc'", kBaseLines + 4);

    r = parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  retries -1\n");
    expect_error(r, "'retries': negative value '-1' is not allowed", kBaseLines + 3);

    r = parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  maxconn 10\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(has(r.warnings, "'maxconn' ignored because backend 'b2' has no frontend capability", kBaseLines + 3));
    CHECK(proxy(*r.config, "b2").maxconn == 0);

    r = parse(kDefaults + "frontend fe\n  bind :80\n  default_backend be\n  retries 1\n  balance roundrobin\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(has(r.warnings, "'retries' ignored because frontend 'fe' has no backend capability", kBaseLines + 4));
    CHECK(has(r.warnings, "'balance' ignored because frontend 'fe' has no backend capability", kBaseLines + 5));

    for (const char* algo : {"rdp-cookie", "rdp-cookie(x)", "hash"}) {
        INFO(algo);
        r = parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  balance " + algo + "\n");
        expect_error(r, std::string("balance '") + algo + "' is not supported yet", kBaseLines + 3);
    }
    r = parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  balance fastest\n");
    expect_error(r, "'balance': unknown algorithm 'fastest'", kBaseLines + 3);
    r = parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  balance\n");
    expect_error(r, "'balance' expects <algorithm>", kBaseLines + 3);
    r = parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  balance roundrobin x\n");
    expect_error(r, "'balance': unexpected extra argument 'x'", kBaseLines + 3);

    r = parse(kDefaults + "frontend fe\n  bind :80\n  default_backend\n");
    CHECK(has(r.errors, "'default_backend' expects <backend>", kBaseLines + 3));
    r = parse(kDefaults + "frontend fe\n  bind :80\n  default_backend a b\n");
    CHECK(has(r.errors, "'default_backend': unexpected extra argument 'b'", kBaseLines + 3));

    r = parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  default_backend be\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(has(r.warnings, "'default_backend' ignored because backend 'b2' has no frontend capability"));
}

TEST_CASE("proxies: validation", "[config][proxy]") {
    // default_backend names an unknown proxy: reported at the default_backend line.
    auto r = parse(kDefaults + "frontend fe\n  bind :80\n  default_backend nope\n");
    expect_error(r, "frontend 'fe': unable to find required default_backend: 'nope'", kBaseLines + 3);

    // ... also when it was inherited from a defaults section.
    r = parse("defaults\n  default_backend ghost\n" + kDefaults.substr(9) + "frontend fe\n  bind :80\n");
    INFO(dump(r));
    CHECK(has(r.errors, "unable to find required default_backend: 'ghost'", 2));

    // A frontend is not a backend.
    r = parse(kDefaults + "frontend f1\n  bind :81\n  default_backend be\n"
                          "frontend fe\n  bind :80\n  default_backend f1\n");
    expect_error(r, "unable to find required default_backend: 'f1'", kBaseLines + 6);

    r = parse(kDefaults + "frontend fe\n  bind :80\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(has(r.warnings, "frontend 'fe' has no default_backend and no use_backend rule: connections will be closed",
              kBaseLines + 1));

    // No bind: a warning, HAProxy's advice included.
    r = parse(kDefaults + "frontend fe\n  default_backend be\n");
    INFO(dump(r));
    REQUIRE(r.config);
    REQUIRE(r.warnings.size() == 1);
    CHECK(has(r.warnings, "frontend 'fe' has no 'bind' directive", kBaseLines + 1));

    // No server: a warning.
    r = parse(kDefaults + "backend empty\n");
    INFO(dump(r));
    REQUIRE(r.config);
    REQUIRE(r.warnings.size() == 1);
    CHECK(has(r.warnings, "backend 'empty' has no server: connections to it will be closed", kBaseLines + 1));

    // Missing timeouts, with HAProxy's wording.
    r = parse("frontend fe\n  bind :80\n  default_backend be\nbackend be\n  server s 127.0.0.1:1\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(has(r.warnings,
              "missing timeouts for frontend 'fe'. While not properly invalid, you will certainly encounter various "
              "problems with such a configuration. To fix this, please ensure that all following timeouts are set "
              "to a non-zero value: 'client', 'connect', 'server'.",
              1));
    CHECK(has(r.warnings, "missing timeouts for backend 'be'.", 4));

    // A TCP backend with 'tunnel' needs no 'server' timeout; one without servers needs none.
    r = parse("backend be\n  timeout connect 1s\n  timeout tunnel 1h\n  server s 127.0.0.1:1\n"
              "backend b2\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK_FALSE(has(r.warnings, "missing timeouts"));
    r = parse("backend be\n  timeout connect 1s\n  server s 127.0.0.1:1\n");
    CHECK(has(r.warnings, "missing timeouts for backend 'be'", 1));
    r = parse("listen li\n  bind :80\n  timeout client 1s\n  timeout connect 1s\n  server s 127.0.0.1:1\n");
    CHECK(has(r.warnings, "missing timeouts for listen 'li'", 1));
}

// -------------------------------------------------------------------------------------------
TEST_CASE("bind: address forms", "[config][bind]") {
    struct Case {
        const char* line;
        AddrFamily family;
        const char* key;
    };
    const Case cases[] = {
        {"bind *:80", AddrFamily::Inet4, "ipv4@0.0.0.0:80"},
        {"bind :80", AddrFamily::Inet4, "ipv4@0.0.0.0:80"},
        {"bind 127.0.0.1:8080", AddrFamily::Inet4, "ipv4@127.0.0.1:8080"},
        {"bind :::80 v4v6", AddrFamily::Inet6, "ipv6@[::]:80 v4v6"},
        {"bind :::80 v6only", AddrFamily::Inet6, "ipv6@[::]:80 v6only"},
        {"bind :::80", AddrFamily::Inet6, "ipv6@[::]:80"},
        {"bind [::1]:8080", AddrFamily::Inet6, "ipv6@[::1]:8080"},
        {"bind ipv6@:80", AddrFamily::Inet6, "ipv6@[::]:80"},
        {"bind unix@/tmp/x.sock mode 600", AddrFamily::Unix, "unix@/tmp/x.sock mode=0600"},
        {"bind /tmp/y.sock", AddrFamily::Unix, "unix@/tmp/y.sock"},
        {"bind /tmp/y.sock mode 0660 uid 10 gid 20", AddrFamily::Unix, "unix@/tmp/y.sock mode=0660 uid=10 gid=20"},
        {"bind /tmp/y.sock user root group root", AddrFamily::Unix, "unix@/tmp/y.sock uid=0 gid=0"},
        {"bind abns@foo", AddrFamily::Abstract, "abns@foo"},
        {"bind fd@3", AddrFamily::Fd, "fd@3"},
    };
    for (const auto& c : cases) {
        INFO(c.line);
        auto r = parse_bind(c.line);
        INFO(dump(r));
        REQUIRE(r.config);
        CHECK(r.warnings.empty());
        const auto& fe = proxy(*r.config, "fe");
        REQUIRE(fe.binds.size() == 1);
        const auto& b = fe.binds[0];
        CHECK(b.addr.family == c.family);
        CHECK(b.key() == c.key);
        CHECK(b.loc.line == kBaseLines + 2);
        CHECK(b.spec == std::string(c.line).substr(5, std::string(c.line).find(' ', 5) - 5));
    }
}

TEST_CASE("bind: options", "[config][bind]") {
    auto r = parse_bind("bind 127.0.0.1:80,127.0.0.1:81,[::1]:82 backlog 128 maxconn 50 name web");
    INFO(dump(r));
    REQUIRE(r.config);
    const auto& fe = proxy(*r.config, "fe");
    REQUIRE(fe.binds.size() == 3);
    for (const auto& b : fe.binds) {
        CHECK(b.backlog == 128);
        CHECK(b.maxconn == 50);
        CHECK(b.name == "web");
        CHECK(b.loc.line == kBaseLines + 2);
    }
    CHECK(fe.binds[0].spec == "127.0.0.1:80");
    CHECK(fe.binds[1].addr.port() == 81);
    CHECK(fe.binds[2].addr.family == AddrFamily::Inet6);

    r = parse_bind("bind /tmp/s.sock mode 600 uid 1 gid 2");
    REQUIRE(r.config);
    const auto& b = proxy(*r.config, "fe").binds.at(0);
    CHECK(b.mode == static_cast<mode_t>(0600));
    CHECK(b.uid == 1u);
    CHECK(b.gid == 2u);
    CHECK(b.backlog == 0);
    CHECK(b.maxconn == 0);
    CHECK_FALSE(b.v4v6);
    CHECK_FALSE(b.v6only);

    // Keys distinguish what makes a different socket.
    auto key_of = [](const std::string& line) {
        auto res = parse_bind(line);
        INFO(dump(res));
        REQUIRE(res.config);
        return proxy(*res.config, "fe").binds.at(0).key();
    };
    CHECK(key_of("bind :::80 v4v6") != key_of("bind :::80 v6only"));
    CHECK(key_of("bind :::80") != key_of("bind :::80 v6only"));
    CHECK(key_of("bind /tmp/s mode 600") != key_of("bind /tmp/s mode 660"));
    CHECK(key_of("bind /tmp/s uid 1") != key_of("bind /tmp/s uid 2"));
    CHECK(key_of("bind /tmp/s") == key_of("bind unix@/tmp/s"));
    CHECK(key_of("bind :80") == key_of("bind *:80"));
    CHECK(key_of("bind :80") == key_of("bind 0.0.0.0:80 name other backlog 5"));
    CHECK(key_of("bind unix@/tmp/s") != key_of("bind abns@/tmp/s"));
    CHECK(key_of("bind fd@3") != key_of("bind fd@4"));
}

TEST_CASE("bind: errors", "[config][bind]") {
    const int line = kBaseLines + 2;
    struct Case {
        const char* line;
        const char* message;
    };
    const Case cases[] = {
        {"bind", "'bind' expects an address"},
        {"bind \"\"", "'bind' expects an address"},
        {"bind :::80 v4v6 v6only", "'bind': options 'v4v6' and 'v6only' are mutually exclusive"},
        {"bind :80 mode 600", "'bind': option 'mode' only applies to UNIX socket paths, not to ':80'"},
        {"bind 127.0.0.1:80 uid 0", "option 'uid' only applies to UNIX socket paths"},
        {"bind 127.0.0.1:80 gid 0", "option 'gid' only applies to UNIX socket paths"},
        {"bind 127.0.0.1:80 user root", "option 'user' only applies to UNIX socket paths"},
        {"bind 127.0.0.1:80 group root", "option 'group' only applies to UNIX socket paths"},
        {"bind abns@x mode 600", "option 'mode' only applies to UNIX socket paths, not to 'abns@x'"},
        {"bind /tmp/s mode 800", "'bind' option 'mode': invalid octal permissions '800'"},
        {"bind /tmp/s mode 7777", "invalid octal permissions '7777'"},
        {"bind /tmp/s mode", "'bind' option 'mode' expects an argument"},
        {"bind /tmp/s uid x", "'bind' option 'uid': invalid number 'x'"},
        {"bind /tmp/s user no-such-user-proxyd", "'bind' option 'user': unknown user 'no-such-user-proxyd'"},
        {"bind /tmp/s group no-such-group-proxyd", "'bind' option 'group': unknown group"},
        {"bind :80 backlog -1", "'bind' option 'backlog': negative value '-1'"},
        {"bind :80 maxconn lots", "'bind' option 'maxconn': invalid number 'lots'"},
        {"bind :80 name", "'bind' option 'name' expects an argument"},
        {"bind :80 ssl crt /etc/x.pem", "bind option 'ssl' is not supported yet"},
        {"bind :80 accept-proxy", "bind option 'accept-proxy' is not supported yet"},
        {"bind :80 defer-accept", "bind option 'defer-accept' is not supported yet"},
        {"bind :80 transparent", "bind option 'transparent' is not supported yet"},
        {"bind :80 interface eth0", "bind option 'interface' is not supported yet"},
        {"bind :80 process 1", "bind option 'process' is not supported yet"},
        {"bind :80 thread 1", "bind option 'thread' is not supported yet"},
        {"bind :80 tfo", "bind option 'tfo' is not supported yet"},
        {"bind :80 alpn h2", "bind option 'alpn' is not supported yet"},
        {"bind :80 npn h2", "bind option 'npn' is not supported yet"},
        {"bind :80 ca-file /x", "bind option 'ca-file' is not supported yet"},
        {"bind :80 verify none", "bind option 'verify' is not supported yet"},
        {"bind :80 proto h2", "bind option 'proto' is not supported yet"},
        {"bind :80 fast", "'bind': unknown option 'fast'"},
        {"bind :80,,:81", "'bind': empty address in ':80,,:81'"},
        {"bind :80-90", "port ranges are not supported yet"},
        {"bind example.com:80", "'bind': invalid address 'example.com'"},
        {"bind 127.0.0.1", "'bind': missing port"},
        {"bind quic4@:443", "'bind': address prefix 'quic4@' is not supported yet"},
        {"bind :99999", "'bind': invalid port '99999'"},
    };
    for (const auto& c : cases) {
        INFO(c.line);
        auto r = parse_bind(c.line);
        INFO(dump(r));
        CHECK_FALSE(r.config);
        CHECK(has(r.errors, c.message, line));
        for (const auto& e : r.errors)
            CHECK(e.loc.line == line);
    }

    // The arguments of an unsupported option are skipped, not reported as unknown options.
    auto r = parse_bind("bind :80 ssl crt /etc/x.pem alpn h2,http/1.1 accept-proxy");
    INFO(dump(r));
    REQUIRE(r.errors.size() == 4);
    CHECK_FALSE(has(r.errors, "unknown option"));

    // Several options on one line: each error reported.
    r = parse_bind("bind :80 mode 600 uid 3 bogus");
    INFO(dump(r));
    CHECK(has(r.errors, "option 'mode' only applies", line));
    CHECK(has(r.errors, "option 'uid' only applies", line));
    CHECK(has(r.errors, "unknown option 'bogus'", line));

    // A refused bind line does not add a "no bind" warning to its error.
    r = parse_bind("bind :80 ssl");
    INFO(dump(r));
    CHECK(r.errors.size() == 1);
    CHECK(r.warnings.empty());
    r = parse_bind("bind nowhere");
    INFO(dump(r));
    CHECK(r.errors.size() == 1);
    CHECK(r.warnings.empty());
    // ... and its addresses still count for duplicates.
    r = parse_bind("bind :80 ssl\n  bind :80");
    INFO(dump(r));
    CHECK(has(r.errors, "already used by bind at a.cfg:9", kBaseLines + 3));

    // v4v6 on an IPv4 address is ignored with a warning (HAProxy ignores it silently).
    r = parse_bind("bind 127.0.0.1:80 v4v6");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(has(r.warnings, "'bind': option 'v4v6' only applies to IPv6 addresses; ignored for '127.0.0.1:80'", line));
    CHECK_FALSE(proxy(*r.config, "fe").binds.at(0).v4v6);
}

TEST_CASE("bind: sections and duplicates", "[config][bind]") {
    // In a backend: ignored with a warning, as in HAProxy.
    auto r = parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  bind :80\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(has(r.warnings, "'bind' ignored because backend 'b2' has no frontend capability", kBaseLines + 3));
    CHECK(proxy(*r.config, "b2").binds.empty());

    // The same address twice: an error naming the first one.
    r = parse(kDefaults + "frontend fe\n  bind :80\n  default_backend be\n"
                          "frontend f2\n  bind 0.0.0.0:80 name x\n  default_backend be\n");
    expect_error(r, "'bind': address '0.0.0.0:80' already used by bind at a.cfg:9", kBaseLines + 5);

    r = parse_bind("bind :80,:81,*:80");
    expect_error(r, "'bind': address '*:80' already used by bind at a.cfg:9", kBaseLines + 2);

    r = parse_bind("bind /tmp/s.sock\n  bind unix@/tmp/s.sock mode 600");
    expect_error(r, "address 'unix@/tmp/s.sock' already used by bind at a.cfg:9", kBaseLines + 3);

    r = parse_bind("bind :::80 v4v6\n  bind [::]:80 v6only");
    expect_error(r, "address '[::]:80' already used", kBaseLines + 3);

    // Same port, different addresses or families: fine.
    r = parse_bind("bind 127.0.0.1:80\n  bind 127.0.0.2:80\n  bind [::1]:80\n  bind abns@x\n  bind unix@x");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(proxy(*r.config, "fe").binds.size() == 5);
}

// -------------------------------------------------------------------------------------------
TEST_CASE("server: options and errors", "[config][server]") {
    auto r = parse_server("server s 127.0.0.1:1 weight 256 maxconn 0 backup disabled");
    INFO(dump(r));
    REQUIRE(r.config);
    const auto& s = proxy(*r.config, "b2").servers.at(0);
    CHECK(s.weight == 256);
    CHECK(s.maxconn == 0);
    CHECK(s.backup);
    CHECK(s.disabled);
    CHECK(s.loc.line == kBaseLines + 2);

    r = parse_server("server s 127.0.0.1:1 disabled enabled backup no-backup");
    REQUIRE(r.config);
    CHECK_FALSE(proxy(*r.config, "b2").servers.at(0).disabled);
    CHECK_FALSE(proxy(*r.config, "b2").servers.at(0).backup);

    const int line = kBaseLines + 2;
    struct Case {
        const char* line;
        const char* message;
    };
    const Case cases[] = {
        {"server", "'server' expects <name> and <address>"},
        {"server s", "'server' expects <name> and <address>"},
        {"server s 127.0.0.1:1 weight 257", "'server' option 'weight': value '257' is out of range (0..256)"},
        {"server s 127.0.0.1:1 weight -1", "'server' option 'weight': negative value '-1'"},
        {"server s 127.0.0.1:1 weight", "'server' option 'weight' expects a number"},
        {"server s 127.0.0.1:1 maxconn x", "'server' option 'maxconn': invalid number 'x'"},
        {"server s 127.0.0.1:1 check", "server option 'check' is not supported yet"},
        {"server s 127.0.0.1:1 inter 2s", "server option 'inter' is not supported yet"},
        {"server s 127.0.0.1:1 ssl verify none", "server option 'ssl' is not supported yet"},
        {"server s 127.0.0.1:1 send-proxy", "server option 'send-proxy' is not supported yet"},
        {"server s 127.0.0.1:1 resolvers dns", "server option 'resolvers' is not supported yet"},
        {"server s 127.0.0.1:1 cookie c1", "server option 'cookie' is not supported yet"},
        {"server s 127.0.0.1:1 track b/s", "server option 'track' is not supported yet"},
        {"server s 127.0.0.1:1 on-marked-down shutdown-sessions", "server option 'on-marked-down'"},
        {"server s 127.0.0.1:1 observe layer4", "server option 'observe' is not supported yet"},
        {"server s 127.0.0.1:1 init-addr none", "server option 'init-addr' is not supported yet"},
        {"server s 127.0.0.1:1 sni str(x)", "server option 'sni' is not supported yet"},
        {"server s 127.0.0.1:1 port 80", "server option 'port' is not supported yet"},
        {"server s 127.0.0.1:1 addr 1.2.3.4", "server option 'addr' is not supported yet"},
        {"server s 127.0.0.1:1 heavy", "'server': unknown option 'heavy'"},
        {"server s/1 127.0.0.1:1", "character '/' is not permitted in server name 's/1'"},
        {"server s 127.0.0.1", "'server s': missing port"},
        {"server s :80", "'server s': missing host"},
        {"server s 127.0.0.1:1-5", "port ranges are not supported yet"},
        {"server s fd@3", "'fd@' is only valid for listening addresses"},
    };
    for (const auto& c : cases) {
        INFO(c.line);
        r = parse_server(c.line);
        INFO(dump(r));
        CHECK_FALSE(r.config);
        CHECK(has(r.errors, c.message, line));
    }

    // Arguments of unsupported options are skipped.
    r = parse_server("server s 127.0.0.1:1 check inter 2s rise 2 fall 3 weight 5");
    INFO(dump(r));
    CHECK(r.errors.size() == 4);
    CHECK_FALSE(has(r.errors, "unknown option"));

    // Duplicate names within a backend; the same name in two backends is fine.
    r = parse_server("server s 127.0.0.1:1\n  server s 127.0.0.1:2");
    expect_error(r, "'server': backend 'b2' already has a server named 's' (declared at a.cfg:9)", kBaseLines + 3);
    r = parse_server("server s1 127.0.0.1:1");
    INFO(dump(r));
    CHECK(r.config);

    // A server refused for its options still counts for duplicates and for "no server".
    r = parse_server("server s 127.0.0.1:1 check\n  server s 127.0.0.1:2");
    INFO(dump(r));
    REQUIRE(r.errors.size() == 2);
    CHECK(has(r.errors, "server option 'check'", kBaseLines + 2));
    CHECK(has(r.errors, "already has a server named 's'", kBaseLines + 3));
    r = parse_server("server s 127.0.0.1 check");
    INFO(dump(r));
    CHECK(r.errors.size() == 2);
    CHECK(r.warnings.empty());

    // Sections: refused in a frontend (HAProxy refuses it too).
    r = parse(kDefaults + "frontend fe\n  bind :80\n  default_backend be\n  server s 127.0.0.1:1\n");
    expect_error(r, "'server' not allowed because frontend 'fe' has no backend capability", kBaseLines + 4);
}

// -------------------------------------------------------------------------------------------
TEST_CASE("proxies: balance algorithms and their options", "[config][proxy][balance]") {
    auto bal = [](const std::string& lines) {
        return parse(kDefaults + "backend b2\n  mode http\n  server s 127.0.0.1:1\n  " + lines + "\n");
    };
    auto conf = [](const ParseResult& r) -> const BalanceConf& { return proxy(*r.config, "b2").balance; };
    struct Simple {
        const char* word;
        BalanceAlgo algo;
    };
    for (auto [word, algo] : {Simple{"roundrobin", BalanceAlgo::RoundRobin}, Simple{"static-rr", BalanceAlgo::StaticRR},
                              Simple{"leastconn", BalanceAlgo::LeastConn}, Simple{"first", BalanceAlgo::First},
                              Simple{"source", BalanceAlgo::Source}, Simple{"random", BalanceAlgo::Random}}) {
        INFO(word);
        auto r = bal(std::string("balance ") + word);
        INFO(dump(r));
        REQUIRE(r.config);
        CHECK(r.warnings.empty());
        CHECK(conf(r).algo == algo);
        CHECK(conf(r).random_draws == 2);
        CHECK_FALSE(conf(r).consistent);
        expect_error(bal(std::string("balance ") + word + " x"), "'balance': unexpected extra argument 'x'",
                     kBaseLines + 4);
    }

    auto r = bal("balance random(5)");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(conf(r).algo == BalanceAlgo::Random);
    CHECK(conf(r).random_draws == 5);
    r = bal("balance random()");
    REQUIRE(r.config);
    CHECK(conf(r).random_draws == 2);
    expect_error(bal("balance random(0)"), "'balance random(N)': the number of draws must be at least 1",
                 kBaseLines + 4);
    expect_error(bal("balance random(x)"), "'balance random(N)': invalid number 'x'", kBaseLines + 4);
    expect_error(bal("balance random(3"), "'balance random(3': missing closing parenthesis", kBaseLines + 4);
    expect_error(bal("balance randomly"), "'balance': unknown algorithm 'randomly'", kBaseLines + 4);

    r = bal("balance uri");
    REQUIRE(r.config);
    CHECK(conf(r).algo == BalanceAlgo::Uri);
    CHECK_FALSE(conf(r).uri_whole);
    CHECK_FALSE(conf(r).uri_path_only);
    CHECK(conf(r).uri_len == 0);
    CHECK(conf(r).uri_depth == 0);
    r = bal("balance uri whole len 12 depth 3 path-only");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(conf(r).uri_whole);
    CHECK(conf(r).uri_path_only);
    CHECK(conf(r).uri_len == 12);
    CHECK(conf(r).uri_depth == 3);
    expect_error(bal("balance uri len 0"), "'balance uri': 'len' expects a positive integer (got '0')", kBaseLines + 4);
    expect_error(bal("balance uri depth"), "'balance uri': 'depth' expects a positive integer (got '')",
                 kBaseLines + 4);
    expect_error(bal("balance uri deep"),
                 "'balance uri' only accepts 'len', 'depth', 'path-only' and 'whole' (got 'deep')", kBaseLines + 4);

    r = bal("balance url_param sid");
    REQUIRE(r.config);
    CHECK(conf(r).algo == BalanceAlgo::UrlParam);
    CHECK(conf(r).param == "sid");
    expect_error(bal("balance url_param"), "'balance url_param' expects a URL parameter name", kBaseLines + 4);
    expect_error(bal("balance url_param sid check_post"),
                 "'balance url_param' modifier 'check_post' is not supported yet", kBaseLines + 4);
    expect_error(bal("balance url_param sid x"), "only accepts the 'check_post' modifier (got 'x')", kBaseLines + 4);
    expect_error(bal("balance url_param(sid)"), "'balance': unknown algorithm 'url_param(sid)'", kBaseLines + 4);

    r = bal("balance hdr(Host)");
    REQUIRE(r.config);
    CHECK(conf(r).algo == BalanceAlgo::Hdr);
    CHECK(conf(r).param == "Host");
    CHECK_FALSE(conf(r).hdr_use_domain_only);
    r = bal("balance hdr(host) use_domain_only");
    REQUIRE(r.config);
    CHECK(conf(r).hdr_use_domain_only);
    expect_error(bal("balance hdr()"), "'balance hdr()': expected 'hdr(<name>)' with a header field name",
                 kBaseLines + 4);
    expect_error(bal("balance hdr(host"), "expected 'hdr(<name>)'", kBaseLines + 4);
    expect_error(bal("balance hdr(host) x"), "only accepts the 'use_domain_only' modifier (got 'x')", kBaseLines + 4);
    expect_error(bal("balance hdr(host) use_domain_only x"), "unexpected extra argument 'x'", kBaseLines + 4);

    // A later 'balance' replaces every option of an earlier one.
    r = bal("balance uri whole len 3\n  balance url_param a\n  balance uri");
    REQUIRE(r.config);
    CHECK(conf(r).algo == BalanceAlgo::Uri);
    CHECK_FALSE(conf(r).uri_whole);
    CHECK(conf(r).uri_len == 0);
    CHECK(conf(r).param.empty());

    // Inherited from defaults; a frontend ignores it.
    r = parse("defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n"
              "  balance hdr(host) use_domain_only\n  hash-type consistent\n"
              "backend b2\n  server s 127.0.0.1:1\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(conf(r).algo == BalanceAlgo::Hdr);
    CHECK(conf(r).param == "host");
    CHECK(conf(r).hdr_use_domain_only);
    CHECK(conf(r).consistent);
}

TEST_CASE("proxies: hash-type", "[config][proxy][balance]") {
    auto ht = [](const std::string& lines) {
        return parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  " + lines + "\n");
    };
    for (const char* ok : {"hash-type consistent", "hash-type consistent sdbm avalanche", "hash-type map-based",
                           "hash-type map-based sdbm"}) {
        INFO(ok);
        auto r = ht(std::string("balance source\n  ") + ok);
        INFO(dump(r));
        REQUIRE(r.config);
        CHECK(r.warnings.empty());
        CHECK(proxy(*r.config, "b2").balance.consistent == (std::string(ok).find("consistent") != std::string::npos));
        CHECK(proxy(*r.config, "b2").balance.algo == BalanceAlgo::Source);
    }
    // Either order with 'balance': hash-type is its own setting.
    auto r = ht("hash-type consistent\n  balance uri\n  balance source");
    REQUIRE(r.config);
    CHECK(proxy(*r.config, "b2").balance.consistent);
    r = ht("hash-type consistent\n  hash-type map-based");
    REQUIRE(r.config);
    CHECK_FALSE(proxy(*r.config, "b2").balance.consistent);

    expect_error(ht("hash-type"), "'hash-type' expects 'map-based' or 'consistent' as an argument", kBaseLines + 3);
    expect_error(ht("hash-type ring"), "'hash-type': unknown method 'ring' (expected 'map-based' or 'consistent')",
                 kBaseLines + 3);
    expect_error(ht("hash-type avalanche"), "unknown method 'avalanche'", kBaseLines + 3);
    expect_error(ht("hash-type consistent md5"), "'hash-type': unknown hash function 'md5'", kBaseLines + 3);
    for (const char* fn : {"djb2", "wt6", "crc32", "none"}) {
        INFO(fn);
        expect_error(ht(std::string("hash-type map-based ") + fn),
                     std::string("'hash-type' function '") + fn + "' is not supported yet (only 'sdbm')",
                     kBaseLines + 3);
    }
    expect_error(ht("hash-type consistent sdbm"), "'hash-type consistent sdbm' is not supported yet", kBaseLines + 3);
    expect_error(ht("hash-type map-based sdbm avalanche"), "'hash-type map-based sdbm avalanche' is not supported yet",
                 kBaseLines + 3);
    expect_error(ht("hash-type consistent sdbm fast"), "only accepts 'avalanche' as a modifier for hash functions",
                 kBaseLines + 3);
    expect_error(ht("hash-type consistent sdbm avalanche x"), "unexpected extra argument 'x'", kBaseLines + 3);

    r = parse(kDefaults + "frontend fe\n  bind :80\n  default_backend be\n  hash-type consistent\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(has(r.warnings, "'hash-type' ignored because frontend 'fe' has no backend capability", kBaseLines + 4));
}

TEST_CASE("proxies: layer 7 balance in mode tcp falls back to round-robin", "[config][proxy][balance]") {
    for (const char* algo : {"uri", "url_param x", "hdr(host)"}) {
        INFO(algo);
        auto r = parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  balance " + algo + "\n");
        INFO(dump(r));
        REQUIRE(r.config);
        REQUIRE(r.warnings.size() == 1);
        CHECK(has(r.warnings, "backend 'b2': layer 7 hash ('balance ", kBaseLines + 1));
        CHECK(has(r.warnings, "needs 'mode http': falling back to round-robin"));
    }
    // Mode set after 'balance' counts too; source is fine in tcp.
    auto r = parse(kDefaults + "backend b2\n  balance uri\n  mode http\n  server s 127.0.0.1:1\n"
                               "backend b3\n  balance source\n  server s 127.0.0.1:1\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.warnings.empty());
}

TEST_CASE("proxies: HAProxy keywords not supported yet", "[config][proxy]") {
    const char* lines[] = {
        "tcp-request connection reject",
        "tcp-response content accept", "stick-table type ip size 1m", "stick on src", "cookie SRV insert",
        "capture request header Host len 32", "stats enable",
        "description x", "monitor-uri /ok", "unique-id-format %x", "compression algo gzip",
        "filter trace", "email-alert to a@b", "rate-limit sessions 10", "backlog 100", "id 3", "disabled",
        "enabled", "bind-process 1", "errorloc 503 /x", "http-error status 503",
        "declare capture request len 10", "source 1.2.3.4", "transparent", "fullconn 100",
        "default-server check", "server-template s 3 127.0.0.1:1", "dispatch 1.2.3.4:80", "http-check send",
        "tcp-check connect", "persist rdp-cookie", "retry-on all-retryable-errors", "use-server s if x",
        "force-persist if x", "ignore-persist if x", "external-check command /x", "monitor fail if x",
    };
    for (const char* line : lines) {
        INFO(line);
        std::string l(line);
        std::string kw = l.substr(0, l.find(' '));
        // listen accepts every one of these keywords in HAProxy.
        auto r = parse(kDefaults + "listen li\n  bind :80\n  server a 127.0.0.1:1\n  " + l + "\n");
        expect_error(r, "'" + kw + "' is an HAProxy keyword that proxyd does not support yet", kBaseLines + 4);
    }
    auto r = parse(kDefaults + "listen li\n  bind :80\n  server a 127.0.0.1:1\n  option httpchk\n");
    expect_error(r, "'option' is an HAProxy keyword that proxyd does not support yet ('option httpchk')",
                 kBaseLines + 4);
    r = parse(kDefaults + "listen li\n  bind :80\n  server a 127.0.0.1:1\n  no option tcpka\n");
    expect_error(r, "'option' is an HAProxy keyword that proxyd does not support yet ('no option tcpka')",
                 kBaseLines + 4);
    r = parse("defaults\n  option tcpka\n");
    expect_error(r, "'option' is an HAProxy keyword", 2);
    r = parse("defaults\n  redispatch\n");
    expect_error(r, "'redispatch' is obsolete (removed from HAProxy): use 'option redispatch' instead", 2);
    r = parse("defaults\n  reqadd X-Foo:\\ bar\n");
    expect_error(r, "'reqadd' is obsolete", 2);
}

TEST_CASE("proxies: unknown keywords name their section", "[config][proxy]") {
    auto r = parse(kDefaults + "frontend fe\n  bind :80\n  default_backend be\n  foo bar\n");
    expect_error(r, "unknown keyword 'foo' in 'frontend' section", kBaseLines + 4);
    r = parse(kDefaults + "backend b2\n  server s 127.0.0.1:1\n  foo\n");
    expect_error(r, "unknown keyword 'foo' in 'backend' section", kBaseLines + 3);
    r = parse(kDefaults + "listen li\n  bind :80\n  server a 127.0.0.1:1\n  foo\n");
    expect_error(r, "unknown keyword 'foo' in 'listen' section", kBaseLines + 4);
    r = parse(kDefaults + "listen li\n  bind :80\n  server a 127.0.0.1:1\n  tiemout client 1s\n");
    expect_error(r, "unknown keyword 'tiemout' in 'listen' section; did you mean 'timeout'?", kBaseLines + 4);
    r = parse(kDefaults + "listen li\n  bind :80\n  server a 127.0.0.1:1\n  no foo\n");
    expect_error(r, "unknown keyword 'no' in 'listen' section", kBaseLines + 4);
}

TEST_CASE("errors: all are collected, in order, with their location", "[config]") {
    auto r = parse(
        "global\n"                                // 1
        "  nbproc 0\n"                            // 2
        "  log stdout locl0\n"                    // 3
        "defaults\n"                              // 4
        "  mode htp\n"                            // 5
        "  timeout client nope\n"                 // 6
        "frontend fe\n"                           // 7
        "  bind :80 ssl\n"                        // 8
        "  option tcpka\n"                        // 9
        "  default_backend missing\n"             // 10
        "backend be\n"                            // 11
        "  server s1 127.0.0.1:1 check\n"         // 12
        "  balance rdp-cookie\n"                  // 13
        "  wat\n");                               // 14
    INFO(dump(r));
    CHECK_FALSE(r.config);
    const int expected_lines[] = {2, 3, 5, 6, 8, 9, 12, 13, 14, 10};
    REQUIRE(r.errors.size() == std::size(expected_lines));
    for (size_t i = 0; i < r.errors.size(); ++i) {
        CHECK(r.errors[i].loc.file == "a.cfg");
        CHECK(r.errors[i].loc.line == expected_lines[i]);
    }
    CHECK(r.errors.back().message == "frontend 'fe': unable to find required default_backend: 'missing'");
}

TEST_CASE("messages show control characters escaped", "[config]") {
    auto r = parse("global\n  \"bad\\x01kw\"\n");
    expect_error(r, "unknown keyword 'bad\\x01kw' in 'global' section", 2);
    r = parse("global\n  \"a\\nb\"\n");
    expect_error(r, "unknown keyword 'a\\nb'", 2);
}

// -------------------------------------------------------------------------------------------
namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/proxyd-test-config-XXXXXX";
        char* p = ::mkdtemp(tmpl);
        REQUIRE(p != nullptr);
        path = p;
    }
    ~TempDir() {
        std::string cmd = "rm -rf '" + path + "'";
        int rc = std::system(cmd.c_str());
        (void)rc;
    }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream f(path + "/" + name);
        f << text;
    }
};

}  // namespace

TEST_CASE("read_config_paths: files and directories", "[config][files]") {
    TempDir d;
    d.write("b.cfg", "backend be\n");
    d.write("a.cfg", "global\n");
    d.write("10-c.cfg", "defaults\n");
    d.write(".hidden.cfg", "bogus\n");
    d.write("notes.txt", "bogus\n");
    d.write("x.cfg.bak", "bogus\n");
    d.write(".cfg", "bogus\n");
    REQUIRE(::mkdir((d.path + "/sub.cfg").c_str(), 0755) == 0);
    REQUIRE(::symlink((d.path + "/a.cfg").c_str(), (d.path + "/link.cfg").c_str()) == 0);
    REQUIRE(::symlink("/nonexistent-proxyd", (d.path + "/dangling.txt").c_str()) == 0);

    std::vector<ConfigSource> out;
    std::vector<std::string> errors;
    REQUIRE(read_config_paths({d.path}, &out, &errors));
    CHECK(errors.empty());
    REQUIRE(out.size() == 4);
    CHECK(out[0].name == d.path + "/10-c.cfg");
    CHECK(out[1].name == d.path + "/a.cfg");
    CHECK(out[2].name == d.path + "/b.cfg");
    CHECK(out[3].name == d.path + "/link.cfg");
    CHECK(out[0].text == "defaults\n");
    CHECK(out[2].text == "backend be\n");

    // A single file, then the directory again with a trailing slash; the order of -f is kept.
    out.clear();
    REQUIRE(read_config_paths({d.path + "/b.cfg", d.path + "/"}, &out, &errors));
    REQUIRE(out.size() == 5);
    CHECK(out[0].name == d.path + "/b.cfg");
    CHECK(out[1].name == d.path + "/10-c.cfg");

    // A file need not end in .cfg when named explicitly.
    out.clear();
    REQUIRE(read_config_paths({d.path + "/notes.txt"}, &out, &errors));
    REQUIRE(out.size() == 1);
    CHECK(out[0].text == "bogus\n");

    // An empty directory reads nothing, successfully.
    out.clear();
    REQUIRE(read_config_paths({d.path + "/sub.cfg"}, &out, &errors));
    CHECK(out.empty());
}

TEST_CASE("read_config_paths: errors", "[config][files]") {
    TempDir d;
    d.write("a.cfg", "global\n");
    std::vector<ConfigSource> out;
    std::vector<std::string> errors;
    CHECK_FALSE(read_config_paths({d.path + "/missing.cfg", d.path + "/a.cfg", "/nonexistent-proxyd/x"}, &out,
                                  &errors));
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == "cannot open configuration file/directory '" + d.path +
                           "/missing.cfg': No such file or directory");
    CHECK(errors[1] == "cannot open configuration file/directory '/nonexistent-proxyd/x': No such file or "
                       "directory");
    // The readable one is still returned.
    REQUIRE(out.size() == 1);
    CHECK(out[0].name == d.path + "/a.cfg");

    if (::geteuid() != 0) {  // root reads anything
        d.write("secret.cfg", "global\n");
        REQUIRE(::chmod((d.path + "/secret.cfg").c_str(), 0) == 0);
        out.clear();
        errors.clear();
        CHECK_FALSE(read_config_paths({d.path + "/secret.cfg"}, &out, &errors));
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].find("Permission denied") != std::string::npos);
    }
}

TEST_CASE("read_config_paths + parse_config: names flow into diagnostics", "[config][files]") {
    TempDir d;
    d.write("a.cfg", "global\n  nbproc 2\n");
    d.write("b.cfg", "defaults\n  timeout client 1s\n  bogus\n");
    std::vector<ConfigSource> srcs;
    std::vector<std::string> errors;
    REQUIRE(read_config_paths({d.path}, &srcs, &errors));
    auto r = parse_config(srcs, kNoEnv, false);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].loc.file == d.path + "/b.cfg");
    CHECK(r.errors[0].loc.line == 3);
}

TEST_CASE("global: mworker-start-timeout", "[config][global]") {
    auto r = parse("global\n mworker-start-timeout 2s\n");
    REQUIRE(r.config);
    CHECK(r.config->global.mworker_start_timeout == 2000);
    auto d = parse("global\n");
    REQUIRE(d.config);
    CHECK(d.config->global.mworker_start_timeout == 30000);
    expect_error(parse("global\n mworker-start-timeout 0\n"), "must be greater than 0", 2);
    expect_error(parse("global\n mworker-start-timeout abc\n"), "invalid duration", 2);
}

// -------------------------------------------------------------------------------------------
// Conditional blocks and message directives (configuration.txt §2.4)

namespace {

// The pidfile set by the taken branch of `body`, placed in a global section.
std::string taken(const std::string& body, const EnvLookup& env = kNoEnv) {
    auto r = parse("global\n" + body, env);
    INFO(body << "\n" << dump(r));
    REQUIRE(r.config);
    return r.config->global.pidfile;
}

}  // namespace

TEST_CASE("directives: .if/.elif/.else/.endif pick one branch", "[config][directives]") {
    const std::string chain =
        ".if streq(\"$A\",1)\n"
        "  pidfile /a\n"
        ".elif streq(\"$B\",1)\n"
        "  pidfile /b\n"
        ".elif streq(\"$C\",1)\n"
        "  pidfile /c\n"
        ".else\n"
        "  pidfile /else\n"
        ".endif\n";
    CHECK(taken(chain, env_of({{"A", "1"}, {"B", "1"}})) == "/a");
    CHECK(taken(chain, env_of({{"B", "1"}, {"C", "1"}})) == "/b");
    CHECK(taken(chain, env_of({{"C", "1"}})) == "/c");
    CHECK(taken(chain) == "/else");
    CHECK(taken(".if 1\n pidfile /t\n.endif\n") == "/t");
    CHECK(taken(".if 0\n pidfile /t\n.endif\n").empty());
    CHECK(taken(".if\n pidfile /t\n.endif\n").empty());  // an empty condition is false
    CHECK(taken(".if 0\n.else\n pidfile /e\n.endif\n") == "/e");
    CHECK(taken(".if 1 # a comment\n pidfile /t\n.endif # another\n") == "/t");
    // The words after .if are joined with single spaces, after quote removal and expansion.
    CHECK(taken(".if streq(\"a b\",'a b') &&   !0\n pidfile /t\n.endif\n") == "/t");
    CHECK(taken(".if defined(X) && streq(${X},on)\n pidfile /x\n.endif\n", env_of({{"X", "on"}})) == "/x");
    CHECK(taken(".if version_atleast(2.6) && feature(OPENSSL) && enabled(EPOLL)\n pidfile /v\n.endif\n") == "/v");
}

TEST_CASE("directives: nesting", "[config][directives]") {
    const std::string nested =
        ".if defined(A)\n"
        "  .if defined(B)\n"
        "    pidfile /ab\n"
        "  .else\n"
        "    pidfile /a\n"
        "  .endif\n"
        ".else\n"
        "  .if defined(B)\n"
        "    pidfile /b\n"
        "  .endif\n"
        ".endif\n";
    CHECK(taken(nested, env_of({{"A", ""}, {"B", ""}})) == "/ab");
    CHECK(taken(nested, env_of({{"A", ""}})) == "/a");
    CHECK(taken(nested, env_of({{"B", ""}})) == "/b");
    CHECK(taken(nested).empty());
    // Inside a block that is not taken, conditions are not even evaluated (they may use what
    // this version does not know), and nothing is taken, not even an '.else'.
    CHECK(taken(".if 0\n .if no_such_predicate(x)\n pidfile /x\n .else\n pidfile /y\n .endif\n.endif\n").empty());
    // After a taken branch, a bad '.elif' is not evaluated either.
    CHECK(taken(".if 1\n pidfile /1\n.elif garbage(\n pidfile /2\n.endif\n") == "/1");
    // 99 levels are fine; the 100th is refused.
    std::string deep;
    for (int i = 0; i < 99; ++i)
        deep += ".if 1\n";
    deep += "pidfile /deep\n";
    for (int i = 0; i < 99; ++i)
        deep += ".endif\n";
    CHECK(taken(deep) == "/deep");
    auto r = parse("global\n" + std::string(".if 1\n") + deep + ".endif\n");
    expect_error(r, "too many nested '.if', max is 99", 101);
}

TEST_CASE("directives: lines of dropped blocks", "[config][directives]") {
    // Not dispatched: unknown keywords, whole sections, are fine there.
    auto r = parse(".if 0\nbogus keyword\nfrontend x\n  nonsense\n.endif\nglobal\n  pidfile /p\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.warnings.empty());
    // Their unset variables give no warning, nor do those of conditions.
    r = parse("global\n.if defined(PORT) && strneq(\"$PORT\",0)\n  pidfile /run/${PORT}\n.endif\n");
    INFO(dump(r));
    REQUIRE(r.config);
    CHECK(r.warnings.empty());
    // But they are tokenized, as in HAProxy: a quoting error is still an error.
    r = parse("global\n.if 0\n  pidfile \"/unterminated\n.endif\n");
    expect_error(r, "unterminated double quote", 3);
    // A taken line still warns.
    r = parse("global\n.if 1\n  pidfile /run/${NOPE}\n.endif\n");
    CHECK(has(r.warnings, "environment variable 'NOPE' is not set", 3));
}

TEST_CASE("directives: structure errors name file and line", "[config][directives]") {
    expect_error(parse("global\n.endif\n"), "'.endif' without a matching '.if'", 2);
    expect_error(parse("global\n.else\n"), "'.else' without a matching '.if'", 2);
    expect_error(parse("global\n.elif 1\n"), "'.elif' without a matching '.if'", 2);
    expect_error(parse("global\n.if 1\n.else\n.else\n.endif\n"), "'.else' after '.else' is not permitted "
                                                                 "(block opened by the '.if' at a.cfg:2)", 4);
    expect_error(parse("global\n.if 0\n.else\n.elif 1\n.endif\n"), "'.elif' after '.else' is not permitted", 4);
    expect_error(parse("global\n.if 1\n.endif extra\n"), "unexpected argument 'extra' for '.endif'", 3);
    expect_error(parse("global\n.if 1\n.else extra\n.endif\n"), "unexpected argument 'extra' for '.else'", 3);
    // An unterminated block: reported at its '.if', once per open level.
    auto r = parse("global\n.if 1\n  .if 0\n  .endif\n  daemon\n");
    expect_error(r, "'.if' block is not terminated: '.endif' missing before the end of the file", 2);
    r = parse("global\n.if 1\n.if 1\n");
    INFO(dump(r));
    REQUIRE(r.errors.size() == 2);
    CHECK(has(r.errors, "'.if' block is not terminated", 2));
    CHECK(has(r.errors, "'.if' block is not terminated", 3));
    // Blocks do not span files.
    r = parse_sources({ConfigSource{"a.cfg", "global\n.if 1\n"}, ConfigSource{"b.cfg", ".endif\n"}});
    INFO(dump(r));
    REQUIRE(r.errors.size() == 2);
    CHECK(has(r.errors, "'.if' block is not terminated", 2, "a.cfg"));
    CHECK(has(r.errors, "'.endif' without a matching '.if'", 1, "b.cfg"));
}

TEST_CASE("directives: condition errors", "[config][directives]") {
    auto r = parse("global\n.if 200rrr\n  pidfile /x\n.endif\n");
    expect_error(r, "unexpected character 'r' at the end of conditional expression '200rrr' in '.if' at position 4",
                 2);
    // The block of a wrong condition is dropped whole, '.else' included.
    r = parse("global\n.if foo(\n  pidfile /x\n.else\n  pidfile /y\n.endif\n  pidfile /z\n");
    REQUIRE(r.errors.size() == 1);
    CHECK(has(r.errors, "unparsable conditional expression 'foo(' in '.if' at position 1", 2));
    r = parse("global\n.if 0\n.elif streq(a)\n.endif\n");
    expect_error(r, "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate 'streq' used in "
                    "conditional expression in '.elif' at position 8", 3);
    r = parse("global\n.if version_atleast(x.y)\n.endif\n");
    expect_error(r, "invalid version 'x.y'", 2);
}

TEST_CASE("directives: .notice, .warning, .alert, .diag", "[config][directives]") {
    auto r = parse("global\n  .notice \"hello there\"\n  .warning 'be careful'\n  .diag \"only with -dD\"\n");
    INFO(dump(r));
    REQUIRE(r.config);
    REQUIRE(r.warnings.size() == 2);
    CHECK(has(r.warnings, "notice: 'hello there'", 2));
    CHECK(has(r.warnings, "'be careful'", 3));
    // .alert rejects the configuration.
    expect_error(parse("global\n.if !feature(LUA)\n  .alert \"Lua is mandatory\"\n.endif\n"), "'Lua is mandatory'", 3);
    // Only in taken blocks.
    r = parse("global\n.if 0\n  .alert \"no\"\n  .warning \"no\"\n.endif\n");
    INFO(dump(r));
    CHECK(r.config);
    CHECK(r.warnings.empty());
    // One message: more words are an error.
    expect_error(parse("global\n.warning two words\n"), "unexpected argument 'words' for '.warning'; use quotes", 2);
    expect_error(parse("global\n.alert a b\n"), "unexpected argument 'b' for '.alert'", 2);
    // Variables expand in messages; control characters are shown escaped.
    r = parse("global\n.notice \"port ${P}\\tok\"\n", env_of({{"P", "80"}}));
    CHECK(has(r.warnings, "notice: 'port 80\\tok'", 2));
    // Anything else starting with '.' is an unknown directive, wherever it is.
    expect_error(parse("global\n  .include foo.cfg\n"), "unknown directive '.include'", 2);
    expect_error(parse(".error \"x\"\nglobal\n"), "unknown directive '.error'", 1);
}
