#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "common/address.h"

using namespace proxyd::common;

TEST_CASE("listener addresses", "[address]") {
    std::string err;
    auto a = parse_address("*:8080", AddrUse::Bind, &err);
    REQUIRE(a);
    CHECK(a->family == AddrFamily::Inet4);
    CHECK(a->port() == 8080);
    CHECK(a->to_string() == "0.0.0.0:8080");
    CHECK(parse_address(":80", AddrUse::Bind, &err)->to_string() == "0.0.0.0:80");
    auto v6 = parse_address(":::443", AddrUse::Bind, &err);
    REQUIRE(v6);
    CHECK(v6->family == AddrFamily::Inet6);
    CHECK(v6->to_string() == "[::]:443");
    CHECK(parse_address("[::1]:8080", AddrUse::Bind, &err)->to_string() == "[::1]:8080");
    CHECK(parse_address("ipv6@::1:8080", AddrUse::Bind, &err)->to_string() == "[::1]:8080");
    CHECK(parse_address("ipv4@127.0.0.1:1", AddrUse::Bind, &err)->to_string() == "127.0.0.1:1");
    auto u = parse_address("unix@/run/x.sock", AddrUse::Bind, &err);
    REQUIRE(u);
    CHECK(u->family == AddrFamily::Unix);
    CHECK(u->path == "/run/x.sock");
    CHECK(parse_address("/tmp/y.sock", AddrUse::Bind, &err)->family == AddrFamily::Unix);
    CHECK(parse_address("abns@foo", AddrUse::Bind, &err)->to_string() == "abns@foo");
    auto f = parse_address("fd@3", AddrUse::Bind, &err);
    REQUIRE(f);
    CHECK(f->inherited_fd == 3);
}

TEST_CASE("bad addresses say why", "[address]") {
    std::string err;
    CHECK_FALSE(parse_address("127.0.0.1", AddrUse::Bind, &err));
    CHECK(err.find("missing port") != std::string::npos);
    CHECK_FALSE(parse_address("127.0.0.1:99999", AddrUse::Bind, &err));
    CHECK(err.find("invalid port") != std::string::npos);
    CHECK_FALSE(parse_address("127.0.0.1:80-90", AddrUse::Bind, &err));
    CHECK(err.find("port ranges") != std::string::npos);
    CHECK_FALSE(parse_address("example.invalid:80", AddrUse::Bind, &err));
    CHECK_FALSE(parse_address("*:80", AddrUse::Server, &err));
    CHECK_FALSE(parse_address("fd@3", AddrUse::Server, &err));
    CHECK_FALSE(parse_address("fd@x", AddrUse::Bind, &err));
    CHECK_FALSE(parse_address("sockpair@3", AddrUse::Bind, &err));
    CHECK(err.find("not supported yet") != std::string::npos);
    CHECK_FALSE(parse_address("unix@" + std::string(200, 'a'), AddrUse::Bind, &err));
    CHECK_FALSE(parse_address("[::1:80", AddrUse::Bind, &err));
}

TEST_CASE("server addresses resolve names", "[address]") {
    std::string err;
    auto a = parse_address("localhost:80", AddrUse::Server, &err);
    REQUIRE(a);
    CHECK(a->port() == 80);
}
