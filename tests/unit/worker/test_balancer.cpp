#include <catch2/catch.hpp>
#include <map>

#include "worker/balancer.h"

using namespace proxyd::worker;

namespace {
std::map<int, int> run(std::vector<ServerSlot>& s, int n) {
    std::map<int, int> count;
    for (int i = 0; i < n; ++i) {
        int c = -1;
        REQUIRE(pick_server(s, &c) == PickResult::Picked);
        ++count[c];
    }
    return count;
}
}  // namespace

TEST_CASE("weighted round-robin is exact and smooth", "[balancer]") {
    std::vector<ServerSlot> s(3);
    s[1].weight = 2;
    auto c = run(s, 40);
    CHECK(c[0] == 10);
    CHECK(c[1] == 20);
    CHECK(c[2] == 10);
    // Smooth: the heavy server never gets three picks in a row.
    std::vector<ServerSlot> t(2);
    t[0].weight = 3;
    int prev = -1, streak = 0, maxstreak = 0;
    for (int i = 0; i < 40; ++i) {
        int ch = -1;
        pick_server(t, &ch);
        streak = ch == prev ? streak + 1 : 1;
        maxstreak = std::max(maxstreak, streak);
        prev = ch;
    }
    CHECK(maxstreak <= 3);
}

TEST_CASE("disabled, zero-weight and full servers are skipped", "[balancer]") {
    std::vector<ServerSlot> s(3);
    s[0].disabled = true;
    s[2].weight = 0;
    auto c = run(s, 10);
    CHECK(c[1] == 10);
    s[1].maxconn = 1;
    s[1].cur_conns = 1;
    int ch = -1;
    CHECK(pick_server(s, &ch) == PickResult::AllFull);
}

TEST_CASE("backup servers only when no active one is usable", "[balancer]") {
    std::vector<ServerSlot> s(3);
    s[1].backup = true;
    s[2].backup = true;
    auto c = run(s, 5);
    CHECK(c[0] == 5);
    s[0].disabled = true;
    c = run(s, 5);
    CHECK(c[1] == 5);  // first usable backup only
    s[1].disabled = true;
    c = run(s, 5);
    CHECK(c[2] == 5);
    s[2].disabled = true;
    int ch = -1;
    CHECK(pick_server(s, &ch) == PickResult::NoServer);
    std::vector<ServerSlot> none;
    CHECK(pick_server(none, &ch) == PickResult::NoServer);
}

TEST_CASE("a retry avoids the server that failed when it can", "[balancer]") {
    std::vector<ServerSlot> s(2);
    int ch = -1;
    for (int i = 0; i < 6; ++i) {
        REQUIRE(pick_server(s, &ch, 0) == PickResult::Picked);
        CHECK(ch == 1);
    }
    std::vector<ServerSlot> one(1);
    REQUIRE(pick_server(one, &ch, 0) == PickResult::Picked);
    CHECK(ch == 0);
}
