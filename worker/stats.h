#pragma once
// Counters a worker keeps for `show info` / `show stat` (HAProxy's meanings).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace proxyd::worker {

// Connection-rate meter over the last second (HAProxy's "rate" columns).
struct RateMeter {
    uint64_t prev = 0, cur = 0;
    int64_t sec = 0;  // current second (steady clock seconds)
    void add(int64_t now_sec, uint64_t n = 1);
    uint64_t rate(int64_t now_sec) const;  // events in the last second
};

struct Counters {
    uint64_t cur = 0;       // scur: current sessions
    uint64_t max = 0;       // smax
    uint64_t total = 0;     // stot: cumulated sessions
    uint64_t bytes_in = 0;  // bin: from clients (frontend/backend/server alike)
    uint64_t bytes_out = 0; // bout: to clients
    uint64_t conn_errors = 0;  // econ: failed connections to a server
    uint64_t resp_errors = 0;  // eresp: server read/write errors
    uint64_t retries = 0;      // wretr
    uint64_t redispatches = 0; // wredis
    uint64_t denied = 0;       // dreq
    uint64_t req_errors = 0;   // ereq
    uint64_t qcur = 0, qmax = 0;  // queued (servers/backends)
    uint64_t lbtot = 0;        // times selected by the load balancer
    uint64_t cli_aborts = 0, srv_aborts = 0;
    uint64_t rate_max = 0;     // max sessions per second seen
    // mode http
    uint64_t hrsp[6] = {};     // responses by class: 1xx..5xx, other
    uint64_t req_tot = 0;      // HTTP requests
    uint64_t intercepted = 0;  // requests answered by the proxy itself (redirect, return, deny)
    uint64_t req_rate_max = 0;
    RateMeter req_rate;
    void count_status(int status) {
        int cls = status / 100;
        ++hrsp[cls >= 1 && cls <= 5 ? cls - 1 : 5];
    }
    void count_request(int64_t now_sec) {
        ++req_tot;
        req_rate.add(now_sec);
        uint64_t r = req_rate.rate(now_sec);
        if (r > req_rate_max) req_rate_max = r;
    }
    RateMeter rate;
    int64_t last_change = 0;   // unix time of the last status change
    void open(int64_t now_sec) {
        ++cur;
        ++total;
        if (cur > max) max = cur;
        rate.add(now_sec);
        uint64_t r = rate.rate(now_sec);
        if (r > rate_max) rate_max = r;
    }
    void close() { if (cur) --cur; }
};

// Runtime administrative state of a server (HAProxy: READY / DRAIN / MAINT).
enum class AdminState { Ready, Drain, Maint };

}  // namespace proxyd::worker
