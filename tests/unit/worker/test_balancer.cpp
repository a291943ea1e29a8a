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

TEST_CASE("shared schedule: exact round-robin across workers taking turns", "[balancer]") {
    std::vector<ServerSlot> s(4);
    auto sched = build_rr_schedule(s);
    REQUIRE(sched == std::vector<int>{0, 1, 2, 3});
    // Two workers with their own slot copies but one ticket counter.
    std::vector<ServerSlot> w1 = s, w2 = s;
    uint64_t ticket = 0;
    std::vector<int> order;
    for (int i = 0; i < 8; ++i) {
        auto& w = (i % 3 == 0) ? w1 : w2;
        int c = -1;
        REQUIRE(pick_server_scheduled(w, sched, ticket++, &c) == PickResult::Picked);
        order.push_back(c);
    }
    CHECK(order == std::vector<int>{0, 1, 2, 3, 0, 1, 2, 3});
}

TEST_CASE("shared schedule: weights, full servers, skip, backups", "[balancer]") {
    std::vector<ServerSlot> s(3);
    s[1].weight = 2;
    auto sched = build_rr_schedule(s);
    REQUIRE(sched.size() == 4);
    std::map<int, int> count;
    for (uint64_t t = 0; t < 40; ++t) {
        int c = -1;
        REQUIRE(pick_server_scheduled(s, sched, t, &c) == PickResult::Picked);
        ++count[c];
    }
    CHECK(count[0] == 10);
    CHECK(count[1] == 20);
    CHECK(count[2] == 10);
    int c = -1;
    s[0].maxconn = 1;
    s[0].cur_conns = 1;
    REQUIRE(pick_server_scheduled(s, sched, 0, &c) == PickResult::Picked);
    CHECK(c != 0);
    REQUIRE(pick_server_scheduled(s, sched, 0, &c, 1) == PickResult::Picked);
    CHECK(c == 2);
    s[1].maxconn = 1;
    s[1].cur_conns = 1;
    s[2].maxconn = 1;
    s[2].cur_conns = 1;
    CHECK(pick_server_scheduled(s, sched, 0, &c) == PickResult::AllFull);
    std::vector<ServerSlot> b(2);
    b[0].disabled = true;
    b[1].backup = true;
    auto bs = build_rr_schedule(b);
    CHECK(bs.empty());
    REQUIRE(pick_server_scheduled(b, bs, 7, &c) == PickResult::Picked);
    CHECK(c == 1);
}
