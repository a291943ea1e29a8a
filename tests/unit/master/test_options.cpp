#include <catch2/catch.hpp>

#include "master/options.h"

using namespace proxyd::master;

TEST_CASE("HAProxy-style command lines", "[options]") {
    auto r = parse_args({"-W", "-S", "/run/m.sock", "-f", "a.cfg", "-f", "conf.d", "-p", "/run/p.pid", "-D", "-q"});
    REQUIRE(r.error.empty());
    CHECK(r.opts.config_paths == std::vector<std::string>{"a.cfg", "conf.d"});
    CHECK(r.opts.master_sockets == std::vector<std::string>{"/run/m.sock"});
    CHECK(r.opts.pidfile == "/run/p.pid");
    CHECK(r.opts.daemon);
    CHECK(r.opts.quiet);
    auto s = parse_args({"-Ws", "-f", "x", "-sf", "12", "34", "-st", "56"});
    REQUIRE(s.error.empty());
    CHECK(s.opts.systemd);
    CHECK(s.opts.soft_stop_pids == std::vector<pid_t>{12, 34});
    CHECK(s.opts.hard_stop_pids == std::vector<pid_t>{56});
    CHECK(parse_args({"-vv"}).opts.version == 2);
    CHECK(parse_args({"-v"}).opts.version == 1);
    CHECK(parse_args({"-c", "-f", "x"}).opts.check_only);
}

TEST_CASE("bad command lines", "[options]") {
    CHECK(parse_args({"-f"}).error.find("requires an argument") != std::string::npos);
    CHECK(parse_args({"-f", "-c"}).error.find("requires an argument") != std::string::npos);
    CHECK(parse_args({"-Z", "-f", "x"}).error.find("unknown option '-Z'") != std::string::npos);
    CHECK(parse_args({"-W"}).error.find("no configuration file") != std::string::npos);
    CHECK_FALSE(usage_text("proxyd").empty());
}

TEST_CASE("-cc takes any next argument and needs no configuration", "[options]") {
    auto r = parse_args({"-cc", "version_atleast(2.5-dev0)"});
    REQUIRE(r.error.empty());
    REQUIRE(r.opts.check_condition);
    CHECK(*r.opts.check_condition == "version_atleast(2.5-dev0)");
    // HAProxy's reg-tests pass '' (false) and '-1000 && 200' (true).
    r = parse_args({"-cc", ""});
    REQUIRE(r.error.empty());
    CHECK(r.opts.check_condition == std::optional<std::string>(""));
    r = parse_args({"-cc", "-1000 && 200"});
    REQUIRE(r.error.empty());
    CHECK(*r.opts.check_condition == "-1000 && 200");
    CHECK(parse_args({"-cc"}).error.find("option '-cc' requires an argument") != std::string::npos);
    CHECK_FALSE(parse_args({"-f", "x"}).opts.check_condition);
    CHECK(usage_text("proxyd").find("-cc") != std::string::npos);
}
