#include <catch2/catch.hpp>

#include "common/cli.h"

using namespace proxyd::common;

TEST_CASE("commands split on unescaped semicolons", "[cli]") {
    CHECK(split_commands("show proc; show info;;  help ;") ==
          std::vector<std::string>{"show proc", "show info", "help"});
    CHECK(split_commands("set var a\\;b; echo") == std::vector<std::string>{"set var a\\;b", "echo"});
    CHECK(split_commands("   ").empty());
    CHECK(split_commands("a\r") == std::vector<std::string>{"a"});
    CHECK(split_words("set  server be/s1\\ x\tstate") ==
          std::vector<std::string>{"set", "server", "be/s1 x", "state"});
}

TEST_CASE("routing prefixes", "[cli]") {
    auto p = parse_prefix("@1 show info");
    CHECK(p.target.kind == CliTarget::Kind::Relative);
    CHECK(p.target.relative == 1);
    CHECK(p.rest == "show info");
    CHECK(parse_prefix("@!4242 show stat").target.pid == 4242);
    CHECK(parse_prefix("@master show proc").target.kind == CliTarget::Kind::Master);
    CHECK(parse_prefix("@ show proc").target.kind == CliTarget::Kind::Master);
    CHECK(parse_prefix("@0").target.kind == CliTarget::Kind::Master);
    CHECK(parse_prefix("@*  disable server be/s1").target.kind == CliTarget::Kind::All);
    CHECK(parse_prefix("@2").rest.empty());
    CHECK(parse_prefix("show info").target.kind == CliTarget::Kind::Default);
    for (const char* bad : {"@abc x", "@!x", "@!0", "@-1", "@99999", "@1x"}) {
        auto b = parse_prefix(bad);
        CHECK(b.bad_prefix);
    }
    CHECK(parse_prefix("@abc x").prefix == "@abc");
}

TEST_CASE("-S specifications", "[cli]") {
    std::string err;
    auto s = parse_master_socket_spec("/run/proxyd/master.sock,mode,600,uid,0,gid,0,level,operator", &err);
    REQUIRE(s);
    CHECK(s->addr.path == "/run/proxyd/master.sock");
    CHECK(*s->mode == 0600);
    CHECK(s->level == CliLevel::Operator);
    CHECK(parse_master_socket_spec("ipv4@127.0.0.1:9999", &err)->level == CliLevel::Admin);
    CHECK(parse_master_socket_spec("ipv6@::1:9999", &err));
    CHECK(parse_master_socket_spec("unix@/tmp/x.sock,user,root,group,root", &err));
    struct Bad {
        const char* spec;
        const char* msg;
    };
    for (auto b : {Bad{"/x,mode,abc", "invalid mode 'abc'"}, Bad{"/x,mode", "option 'mode' expects"},
                   Bad{"/x,bogus", "unknown option 'bogus'"}, Bad{"/x,level,root", "invalid level"},
                   Bad{"ipv4@0.0.0.0:9999", "non-loopback"}, Bad{"/x,user,nosuchuser-proxyd", "unknown user"},
                   Bad{"ipv4@127.0.0.1:1,mode,600", "only apply"}, Bad{"", "missing address"}}) {
        INFO(b.spec);
        CHECK_FALSE(parse_master_socket_spec(b.spec, &err));
        CHECK(err.find(b.msg) != std::string::npos);
    }
    CHECK(parse_master_socket_spec("ipv4@0.0.0.0:9999,allow-remote", &err));
}
