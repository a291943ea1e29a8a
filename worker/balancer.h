#pragma once
// Server selection for a backend (pure: no I/O, unit-tested).
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/http_head.h"

namespace proxyd::worker {

struct ServerSlot {
    int weight = 1;
    int maxconn = 0;      // 0: unlimited
    bool backup = false;
    bool disabled = false;  // administratively (config 'disabled' or runtime)
    int cur_conns = 0;
    int64_t current = 0;  // smooth weighted round-robin state
};

enum class PickResult { Picked, AllFull, NoServer };

// Smooth weighted round-robin (a server of weight 2 gets every other pick of two weight-1
// peers, spread evenly). Active servers that are not disabled and have weight > 0 are
// candidates; when none exists, the first usable backup server is used (HAProxy without
// 'option allbackups'). Candidates at their maxconn are skipped; if every candidate is full,
// returns AllFull (the caller queues). `skip` (>= 0) is avoided when another choice exists
// (a retry goes elsewhere).
PickResult pick_server(std::vector<ServerSlot>& servers, int* chosen, int skip = -1);

// Round-robin shared by every worker of a generation: all workers build the same schedule
// (the smooth weighted round-robin sequence over the active, usable servers: one cycle of
// sum(weights) entries) and take turns with one ticket counter in shared memory, so a backend
// sees exactly round-robin order whichever worker accepted the connection.
std::vector<int> build_rr_schedule(const std::vector<ServerSlot>& servers);
// Picks with `ticket` (from the shared counter): the scheduled server, or the next scheduled
// one with room (maxconn) if it is full; `skip` is avoided when another choice exists. With an
// empty schedule (no usable active server), falls back to the first usable backup.
PickResult pick_server_scheduled(std::vector<ServerSlot>& servers, const std::vector<int>& schedule,
                                 uint64_t ticket, int* chosen, int skip = -1);

// HAProxy's hash functions (src/hash.c), byte-compatible, so a key lands where it would in
// HAProxy given the same servers. Only sdbm is selectable from the configuration today
// (BalanceConf has no field for the others); the rest are here for when it does.
enum class HashFunction { Sdbm, Djb2, Wt6, Crc32 };
uint32_t hash_key(HashFunction f, std::string_view key) noexcept;
// Bob Jenkins' 32-bit integer avalanche, times a large prime (HAProxy's full_hash()): the
// 'avalanche' modifier, and where consistent-hash ring points are placed.
uint32_t full_hash(uint32_t a) noexcept;

// One backend's load balancer: `balance ALGO` + `hash-type`, with HAProxy 2.6 semantics.
//   roundrobin, static-rr: the shared schedule above (weights in order; the ticket from the
//     shared counter makes every worker of the generation follow one sequence).
//   leastconn: the usable server with the lowest load, where a server with no connection has
//     load 0 and otherwise (cur_conns + 1) / weight (HAProxy's fwlc key); ties rotate.
//   first: the first usable server, in declaration order, below its maxconn.
//   source, uri, url_param, hdr(): hash of the key (balance_key()), looked up in a weighted
//     map (hash % sum(weights), hash-type map-based, the default) or on a consistent-hash ring
//     (16 points per unit of weight, hash-type consistent: removing a server only moves the
//     keys it had). Without a key (no header, no parameter, not HTTP, not IP), round-robin
//     with the ticket, as HAProxy does.
//   random(N): N random points on the ring; the least loaded (cur_conns / weight) wins.
// Servers: active ones that are not disabled and have weight > 0; when there is none, only
// the first usable backup (HAProxy without 'option allbackups'). The chosen server at its
// maxconn gives AllFull (the caller queues) except for roundrobin/static-rr/leastconn/first,
// which move on to a server with room first. No usable server at all: NoServer.
class LoadBalancer {
public:
    // `servers` must outlive the balancer; rebuild() must follow any change of weight,
    // disabled or backup (cur_conns changes need nothing). The constructor calls rebuild().
    LoadBalancer(const common::BalanceConf& conf, std::vector<ServerSlot>* servers);

    // Recomputes the round-robin schedule, the hash map and the consistent-hash ring.
    void rebuild();

    // Chooses a server into *chosen. `key`/`has_key`: from balance_key() (ignored by the
    // algorithms that do not hash). `ticket`: a value of the shared round-robin counter, read
    // only when needs_ticket(has_key) says so (pass 0 otherwise). `skip` (>= 0): a server to
    // avoid when another choice exists (a retry goes elsewhere). Never throws, never blocks.
    PickResult pick(std::string_view key, bool has_key, uint64_t ticket, int* chosen, int skip = -1) noexcept;

    // Whether pick() will read `ticket`: roundrobin and static-rr always; the hash algorithms
    // only without a key (the round-robin fallback). The runtime takes a ticket from the
    // shared counter only then, so the hashing algorithms do not disturb the round-robin order.
    bool needs_ticket(bool has_key = false) const noexcept;
    // Whether the algorithm hashes a request property (call balance_key() first).
    bool needs_key() const noexcept;

    // The round-robin cycle (build_rr_schedule) of the current servers.
    const std::vector<int>& schedule() const noexcept { return schedule_; }
    // For tests: makes random(N) deterministic.
    void seed(uint64_t s) noexcept { rng_ = s ? s : 1; }

private:
    uint32_t hash_of(std::string_view key) const noexcept;
    PickResult pick_hashed(uint32_t h, int* chosen, int skip) noexcept;
    PickResult pick_ring(uint32_t h, int skip, int* chosen) const noexcept;
    PickResult pick_leastconn(int* chosen, int skip) noexcept;
    PickResult pick_first(int* chosen, int skip) const noexcept;
    PickResult pick_random(int* chosen, int skip) noexcept;
    // Index of the first usable backup when no active server is usable, else -1; -2 when
    // there is no usable server at all.
    int backup_only() const noexcept;
    uint64_t next_random() noexcept;

    common::BalanceConf conf_;
    std::vector<ServerSlot>* servers_;
    std::vector<int> schedule_;                  // round-robin cycle, also the hash map
    std::vector<std::pair<uint32_t, int>> ring_;  // (point, server), sorted by point
    size_t lc_next_ = 0;                         // leastconn: where ties start
    uint64_t rng_;
};

// Extracts the hash key of `c.algo` from the request head (`req`: null in mode tcp, where the
// HTTP algorithms have no key and fall back to round-robin) or the client address (`src`:
// may be null). Returns false when the request has none (absent header, parameter or URI,
// non-IP client); then *key is empty. The view points into `req`, `src` or `scratch` (the
// address bytes for source), which must outlive its use. For algorithms that do not hash,
// returns false.
//   source: the 4 or 16 address bytes (IPv4-mapped IPv6 addresses stay 16 bytes, as HAProxy).
//   uri: the request target, or its path from the first '/' with path-only; cut at '?' unless
//     whole, at `len` characters, and before the (depth+1)-th '/'.
//   url_param NAME: the value of the first NAME= in the query string, up to '&'.
//   hdr(NAME): the first value of the first NAME field (up to a comma); with use_domain_only,
//     the label before the last dot ("www.example.com" -> "example"). Empty: no key.
bool balance_key(const common::BalanceConf& c, const common::HttpHead* req, const sockaddr_storage* src,
                 std::string* scratch, std::string_view* key);

}  // namespace proxyd::worker
