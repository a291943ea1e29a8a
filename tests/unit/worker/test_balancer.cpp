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

// --- LoadBalancer ----------------------------------------------------------------------------

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <set>
#include <string>

using proxyd::common::BalanceAlgo;
using proxyd::common::BalanceConf;
using proxyd::common::HttpHead;

namespace {
BalanceConf algo(BalanceAlgo a, bool consistent = false) {
    BalanceConf c;
    c.algo = a;
    c.consistent = consistent;
    return c;
}

int pick_key(LoadBalancer& lb, std::string_view key, int skip = -1) {
    int c = -1;
    REQUIRE(lb.pick(key, true, 0, &c, skip) == PickResult::Picked);
    return c;
}

std::string ipv4(uint32_t host_order) {
    uint32_t n = htonl(host_order);
    return std::string(reinterpret_cast<const char*>(&n), 4);
}

sockaddr_storage addr(const char* ip) {
    sockaddr_storage ss{};
    if (std::strchr(ip, ':')) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        REQUIRE(inet_pton(AF_INET6, ip, &a->sin6_addr) == 1);
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        REQUIRE(inet_pton(AF_INET, ip, &a->sin_addr) == 1);
    }
    return ss;
}

// The key balance_key() extracts, or "<none>".
std::string key_of(const BalanceConf& c, const HttpHead* req, const sockaddr_storage* src = nullptr) {
    std::string scratch;
    std::string_view key = "junk";
    if (!balance_key(c, req, src, &scratch, &key)) {
        CHECK(key.empty());
        return "<none>";
    }
    return std::string(key);
}

HttpHead request(std::string_view uri) {
    HttpHead h;
    h.method = "GET";
    h.uri = uri;
    return h;
}
}  // namespace

TEST_CASE("hash functions match HAProxy's", "[balancer][hash]") {
    CHECK(hash_key(HashFunction::Crc32, "123456789") == 0xcbf43926U);  // the CRC-32 check value
    CHECK(hash_key(HashFunction::Sdbm, "") == 0);
    CHECK(hash_key(HashFunction::Sdbm, "a") == 97);
    CHECK(hash_key(HashFunction::Sdbm, "ab") == 97 * 65599U + 98);
    CHECK(hash_key(HashFunction::Djb2, "") == 5381);
    CHECK(hash_key(HashFunction::Djb2, "a") == 5381 * 33 + 97);
    CHECK(hash_key(HashFunction::Wt6, "abc") != hash_key(HashFunction::Wt6, "abd"));
    CHECK(hash_key(HashFunction::Wt6, "abc") == hash_key(HashFunction::Wt6, "abc"));
    std::set<uint32_t> seen;
    for (uint32_t i = 0; i < 1000; ++i)
        seen.insert(full_hash(i));
    CHECK(seen.size() == 1000);
}

TEST_CASE("LoadBalancer: roundrobin and static-rr follow the shared ticket", "[balancer][lb]") {
    for (auto a : {BalanceAlgo::RoundRobin, BalanceAlgo::StaticRR}) {
        std::vector<ServerSlot> s(3);
        s[1].weight = 2;
        LoadBalancer lb(algo(a), &s);
        CHECK(lb.needs_ticket());
        CHECK(lb.needs_ticket(true));
        CHECK_FALSE(lb.needs_key());
        CHECK(lb.schedule() == build_rr_schedule(s));
        std::map<int, int> count;
        for (uint64_t t = 0; t < 40; ++t) {
            int c = -1;
            REQUIRE(lb.pick({}, false, t, &c) == PickResult::Picked);
            ++count[c];
        }
        CHECK(count == std::map<int, int>{{0, 10}, {1, 20}, {2, 10}});
        // A weight change is seen after rebuild().
        s[1].weight = 1;
        lb.rebuild();
        count.clear();
        for (uint64_t t = 0; t < 30; ++t) {
            int c = -1;
            REQUIRE(lb.pick({}, false, t, &c) == PickResult::Picked);
            ++count[c];
        }
        CHECK(count == std::map<int, int>{{0, 10}, {1, 10}, {2, 10}});
    }
}

TEST_CASE("LoadBalancer: leastconn picks the least loaded, weighted, ties in turn", "[balancer][lb]") {
    std::vector<ServerSlot> s(3);
    LoadBalancer lb(algo(BalanceAlgo::LeastConn), &s);
    CHECK_FALSE(lb.needs_ticket());
    CHECK_FALSE(lb.needs_key());
    s[0].cur_conns = 5;
    s[1].cur_conns = 2;
    s[2].cur_conns = 3;
    int c = -1;
    REQUIRE(lb.pick({}, false, 0, &c) == PickResult::Picked);
    CHECK(c == 1);
    // Simulate the runtime: each pick adds a connection; loads even out.
    std::vector<ServerSlot> t(3);
    LoadBalancer lt(algo(BalanceAlgo::LeastConn), &t);
    for (int i = 0; i < 30; ++i) {
        REQUIRE(lt.pick({}, false, 0, &c) == PickResult::Picked);
        ++t[static_cast<size_t>(c)].cur_conns;
    }
    CHECK(t[0].cur_conns == 10);
    CHECK(t[1].cur_conns == 10);
    CHECK(t[2].cur_conns == 10);
    // Equal loads take turns rather than always hitting the first server.
    std::vector<ServerSlot> idle(3);
    LoadBalancer li(algo(BalanceAlgo::LeastConn), &idle);
    std::set<int> seen;
    for (int i = 0; i < 3; ++i) {
        REQUIRE(li.pick({}, false, 0, &c) == PickResult::Picked);
        seen.insert(c);
    }
    CHECK(seen.size() == 3);
    // Weight: a weight-3 server takes about three times the connections.
    std::vector<ServerSlot> w(2);
    w[0].weight = 3;
    LoadBalancer lw(algo(BalanceAlgo::LeastConn), &w);
    for (int i = 0; i < 400; ++i) {
        REQUIRE(lw.pick({}, false, 0, &c) == PickResult::Picked);
        ++w[static_cast<size_t>(c)].cur_conns;
    }
    CHECK(w[0].cur_conns >= 295);
    CHECK(w[0].cur_conns <= 305);
    // Full servers are passed over; all full: AllFull. A retry avoids `skip`.
    s[1].maxconn = 2;
    REQUIRE(lb.pick({}, false, 0, &c) == PickResult::Picked);
    CHECK(c == 2);
    REQUIRE(lb.pick({}, false, 0, &c, 2) == PickResult::Picked);
    CHECK(c == 0);
    s[0].maxconn = 5;
    s[2].maxconn = 3;
    CHECK(lb.pick({}, false, 0, &c) == PickResult::AllFull);
}

TEST_CASE("LoadBalancer: first fills servers in declaration order", "[balancer][lb]") {
    std::vector<ServerSlot> s(3);
    for (auto& x : s)
        x.maxconn = 2;
    s[0].weight = 0;  // not usable
    LoadBalancer lb(algo(BalanceAlgo::First), &s);
    CHECK_FALSE(lb.needs_ticket());
    std::vector<int> order;
    int c = -1;
    for (int i = 0; i < 4; ++i) {
        REQUIRE(lb.pick({}, false, 0, &c) == PickResult::Picked);
        ++s[static_cast<size_t>(c)].cur_conns;
        order.push_back(c);
    }
    CHECK(order == std::vector<int>{1, 1, 2, 2});
    CHECK(lb.pick({}, false, 0, &c) == PickResult::AllFull);
    s[1].cur_conns = 1;  // a slot frees up on the first server: it is used again
    REQUIRE(lb.pick({}, false, 0, &c) == PickResult::Picked);
    CHECK(c == 1);
    s[2].cur_conns = 0;
    REQUIRE(lb.pick({}, false, 0, &c, 1) == PickResult::Picked);  // retry elsewhere
    CHECK(c == 2);
    // Without maxconn, the first server takes everything.
    std::vector<ServerSlot> u(2);
    LoadBalancer lu(algo(BalanceAlgo::First), &u);
    for (int i = 0; i < 5; ++i) {
        REQUIRE(lu.pick({}, false, 0, &c) == PickResult::Picked);
        CHECK(c == 0);
    }
}

TEST_CASE("LoadBalancer: map-based source hashing is address modulo the weights", "[balancer][lb]") {
    std::vector<ServerSlot> s(3);
    s[1].weight = 2;
    LoadBalancer lb(algo(BalanceAlgo::Source), &s);
    CHECK(lb.needs_key());
    CHECK(lb.needs_ticket());  // unless there is a key
    CHECK_FALSE(lb.needs_ticket(true));
    std::map<int, int> count;
    for (uint32_t a = 0x0a000000; a < 0x0a000000 + 4000; ++a)
        ++count[pick_key(lb, ipv4(a))];
    CHECK(count == std::map<int, int>{{0, 1000}, {1, 2000}, {2, 1000}});
    // Same client, same server.
    int first = pick_key(lb, ipv4(0xc0a80001));
    for (int i = 0; i < 5; ++i)
        CHECK(pick_key(lb, ipv4(0xc0a80001)) == first);
}

TEST_CASE("LoadBalancer: hashed keys stick and follow the weights", "[balancer][lb]") {
    for (bool consistent : {false, true}) {
        INFO("consistent " << consistent);
        std::vector<ServerSlot> s(4);
        s[3].weight = 3;  // 3 of 6 units
        LoadBalancer lb(algo(BalanceAlgo::Uri, consistent), &s);
        std::map<int, int> count;
        const int n = 12000;
        for (int i = 0; i < n; ++i) {
            std::string key = "/static/img" + std::to_string(i) + ".png";
            int c = pick_key(lb, key);
            ++count[c];
            if (i % 97 == 0)
                CHECK(pick_key(lb, key) == c);
        }
        CHECK(count.size() == 4);
        // Within 20% of the weight share (the ring has 16 points per unit of weight).
        for (int i = 0; i < 3; ++i)
            CHECK(std::abs(count[i] - n / 6) < n / 6 / 5);
        CHECK(std::abs(count[3] - n / 2) < n / 2 / 5);
    }
}

TEST_CASE("LoadBalancer: consistent hashing moves only the removed server's keys", "[balancer][lb]") {
    const int nservers = 5, nkeys = 10000;
    std::vector<ServerSlot> s(nservers);
    LoadBalancer lb(algo(BalanceAlgo::Hdr, true), &s);
    std::vector<int> before;
    for (int i = 0; i < nkeys; ++i)
        before.push_back(pick_key(lb, "user-" + std::to_string(i)));
    s[2].disabled = true;
    lb.rebuild();
    int moved = 0;
    for (int i = 0; i < nkeys; ++i) {
        int now = pick_key(lb, "user-" + std::to_string(i));
        CHECK(now != 2);
        if (before[static_cast<size_t>(i)] != 2)
            CHECK(now == before[static_cast<size_t>(i)]);  // untouched
        moved += now != before[static_cast<size_t>(i)];
    }
    // About 1/N of the keys moved: those of the removed server only.
    CHECK(moved > nkeys / nservers * 7 / 10);
    CHECK(moved < nkeys / nservers * 13 / 10);
    // Back in: every key returns home.
    s[2].disabled = false;
    lb.rebuild();
    for (int i = 0; i < nkeys; i += 7)
        CHECK(pick_key(lb, "user-" + std::to_string(i)) == before[static_cast<size_t>(i)]);

    // Map-based, by contrast, reshuffles most keys.
    std::vector<ServerSlot> m(nservers);
    LoadBalancer lm(algo(BalanceAlgo::Hdr, false), &m);
    for (int i = 0; i < nkeys; ++i)
        before[static_cast<size_t>(i)] = pick_key(lm, "user-" + std::to_string(i));
    m[2].disabled = true;
    lm.rebuild();
    moved = 0;
    for (int i = 0; i < nkeys; ++i)
        moved += pick_key(lm, "user-" + std::to_string(i)) != before[static_cast<size_t>(i)];
    CHECK(moved > nkeys / 2);
}

TEST_CASE("LoadBalancer: hashing without a key, full servers, retries, backups", "[balancer][lb]") {
    for (bool consistent : {false, true}) {
        INFO("consistent " << consistent);
        std::vector<ServerSlot> s(3);
        s[2].backup = true;
        LoadBalancer lb(algo(BalanceAlgo::UrlParam, consistent), &s);
        // No key: round-robin with the ticket over the active servers.
        std::vector<int> order;
        for (uint64_t t = 0; t < 4; ++t) {
            int c = -1;
            REQUIRE(lb.pick({}, false, t, &c) == PickResult::Picked);
            order.push_back(c);
        }
        CHECK(order == std::vector<int>{0, 1, 0, 1});
        // The hashed server full: AllFull (the caller queues), not another server.
        int home = pick_key(lb, "k");
        s[static_cast<size_t>(home)].maxconn = 1;
        s[static_cast<size_t>(home)].cur_conns = 1;
        int c = -1;
        CHECK(lb.pick("k", true, 0, &c) == PickResult::AllFull);
        s[static_cast<size_t>(home)].maxconn = 0;
        // A retry goes to the other active server; with only one, to it.
        CHECK(pick_key(lb, "k", home) == 1 - home);
        // Disabled without rebuild(): still avoided.
        s[static_cast<size_t>(home)].disabled = true;
        CHECK(pick_key(lb, "k") == 1 - home);
        CHECK(pick_key(lb, "k", 1 - home) == 1 - home);
        lb.rebuild();
        CHECK(pick_key(lb, "k") == 1 - home);
        // No active server left: the first usable backup, for every key.
        s[static_cast<size_t>(1 - home)].disabled = true;
        lb.rebuild();
        CHECK(pick_key(lb, "k") == 2);
        CHECK(pick_key(lb, "other") == 2);
        REQUIRE(lb.pick({}, false, 9, &c) == PickResult::Picked);
        CHECK(c == 2);
        s[2].disabled = true;
        lb.rebuild();
        CHECK(lb.pick("k", true, 0, &c) == PickResult::NoServer);
    }
}

TEST_CASE("LoadBalancer: random(N) prefers the less loaded of N draws", "[balancer][lb]") {
    auto share_of_busy = [](int draws) {
        std::vector<ServerSlot> s(3);
        s[0].cur_conns = 50;  // busy; the others idle
        BalanceConf c = algo(BalanceAlgo::Random);
        c.random_draws = draws;
        LoadBalancer lb(c, &s);
        lb.seed(42);
        CHECK_FALSE(lb.needs_ticket());
        CHECK_FALSE(lb.needs_key());
        int busy = 0;
        for (int i = 0; i < 3000; ++i) {
            int ch = -1;
            REQUIRE(lb.pick({}, false, 0, &ch) == PickResult::Picked);
            busy += ch == 0;
        }
        return busy;
    };
    int one = share_of_busy(1), two = share_of_busy(2), five = share_of_busy(5);
    CHECK(one > 800);   // ~1/3: one draw ignores the load
    CHECK(one < 1200);
    CHECK(two > 200);   // ~1/9: both draws on the busy server
    CHECK(two < 500);
    CHECK(five < 50);   // ~1/243
    // Weights count: idle servers spread by weight.
    std::vector<ServerSlot> w(2);
    w[1].weight = 3;
    LoadBalancer lw(algo(BalanceAlgo::Random), &w);
    lw.seed(7);
    int heavy = 0;
    for (int i = 0; i < 4000; ++i) {
        int ch = -1;
        REQUIRE(lw.pick({}, false, 0, &ch) == PickResult::Picked);
        heavy += ch == 1;
    }
    CHECK(heavy > 2600);
    // The chosen server full: AllFull.
    std::vector<ServerSlot> f(1);
    f[0].maxconn = 1;
    f[0].cur_conns = 1;
    LoadBalancer lf(algo(BalanceAlgo::Random), &f);
    int ch = -1;
    CHECK(lf.pick({}, false, 0, &ch) == PickResult::AllFull);
}

TEST_CASE("balance_key: uri and its options", "[balancer][key]") {
    BalanceConf c = algo(BalanceAlgo::Uri);
    HttpHead r = request("/a/b/c/d.html?x=1&y=2");
    CHECK(key_of(c, &r) == "/a/b/c/d.html");
    CHECK(key_of(c, nullptr) == "<none>");  // mode tcp
    c.uri_whole = true;
    CHECK(key_of(c, &r) == "/a/b/c/d.html?x=1&y=2");
    c.uri_len = 6;
    CHECK(key_of(c, &r) == "/a/b/c");
    c.uri_len = 0;
    c.uri_whole = false;
    c.uri_depth = 2;
    CHECK(key_of(c, &r) == "/a/b");
    c.uri_depth = 1;
    CHECK(key_of(c, &r) == "/a");
    c.uri_depth = 9;
    CHECK(key_of(c, &r) == "/a/b/c/d.html");
    c.uri_depth = 0;
    // Absolute form: the authority counts unless path-only.
    HttpHead abs = request("http://example.com/x/y?q");
    CHECK(key_of(c, &abs) == "http://example.com/x/y");
    c.uri_path_only = true;
    CHECK(key_of(c, &abs) == "/x/y");
    CHECK(key_of(c, &r) == "/a/b/c/d.html");
    HttpHead bare = request("http://example.com");
    CHECK(key_of(c, &bare) == "");
    c.uri_depth = 1;
    CHECK(key_of(c, &abs) == "/x");
}

TEST_CASE("balance_key: url_param", "[balancer][key]") {
    BalanceConf c = algo(BalanceAlgo::UrlParam);
    c.param = "sid";
    auto k = [&](std::string_view uri) {
        HttpHead r = request(uri);
        return key_of(c, &r);
    };
    CHECK(k("/p?sid=abc") == "abc");
    CHECK(k("/p?a=1&sid=abc&b=2") == "abc");
    CHECK(k("/p?xsid=1&sid=2") == "2");
    CHECK(k("/p?sid=1&sid=2") == "1");
    CHECK(k("/p?sid=") == "");  // present, empty: hashed as such (HAProxy)
    CHECK(k("/p?sid") == "<none>");
    CHECK(k("/p?si=1") == "<none>");
    CHECK(k("/p?SID=1") == "<none>");  // case-sensitive
    CHECK(k("/p") == "<none>");
    CHECK(k("/sid=1") == "<none>");
    CHECK(key_of(c, nullptr) == "<none>");
}

TEST_CASE("balance_key: hdr() and use_domain_only", "[balancer][key]") {
    BalanceConf c = algo(BalanceAlgo::Hdr);
    c.param = "host";
    auto k = [&](std::string_view value) {
        HttpHead r = request("/");
        r.fields.push_back({"X-Other", "zzz"});
        r.fields.push_back({"Host", value});
        return key_of(c, &r);
    };
    CHECK(k("www.example.com") == "www.example.com");
    CHECK(k("a, b") == "a");  // first value of a list
    CHECK(k("") == "<none>");
    HttpHead none = request("/");
    CHECK(key_of(c, &none) == "<none>");
    c.hdr_use_domain_only = true;
    CHECK(k("www.example.com") == "example");
    CHECK(k("haproxy.1wt.eu") == "1wt");
    CHECK(k("example.com") == "example");
    CHECK(k("a.b.c.example.org") == "example");
    CHECK(k("localhost") == "localhost");
    CHECK(key_of(c, nullptr) == "<none>");
}

TEST_CASE("balance_key: source address", "[balancer][key]") {
    BalanceConf c = algo(BalanceAlgo::Source);
    auto v4 = addr("192.168.1.2");
    CHECK(key_of(c, nullptr, &v4) == std::string("\xc0\xa8\x01\x02", 4));
    auto v6 = addr("2001:db8::1");
    CHECK(key_of(c, nullptr, &v6).size() == 16);
    sockaddr_storage un{};
    un.ss_family = AF_UNIX;
    CHECK(key_of(c, nullptr, &un) == "<none>");
    CHECK(key_of(c, nullptr, nullptr) == "<none>");
    // Not a hashing algorithm: no key.
    CHECK(key_of(algo(BalanceAlgo::RoundRobin), nullptr, &v4) == "<none>");
    // Same address, same server, through the whole path.
    std::vector<ServerSlot> s(7);
    LoadBalancer lb(c, &s);
    std::string scratch;
    std::string_view key;
    REQUIRE(balance_key(c, nullptr, &v4, &scratch, &key));
    int first = pick_key(lb, key);
    auto again = addr("192.168.1.2");
    std::string scratch2;
    REQUIRE(balance_key(c, nullptr, &again, &scratch2, &key));
    CHECK(pick_key(lb, key) == first);
    CHECK(first == static_cast<int>(0xc0a80102U % 7));  // HAProxy: address % total weight
}
