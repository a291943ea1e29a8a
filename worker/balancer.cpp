#include "worker/balancer.h"

#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>

namespace proxyd::worker {

namespace {
bool usable(const ServerSlot& s) { return !s.disabled && s.weight > 0; }
bool has_room(const ServerSlot& s) { return s.maxconn <= 0 || s.cur_conns < s.maxconn; }
}  // namespace

PickResult pick_server(std::vector<ServerSlot>& servers, int* chosen, int skip) {
    bool any_active = false;
    for (auto& s : servers)
        if (!s.backup && usable(s))
            any_active = true;
    if (!any_active) {
        for (size_t i = 0; i < servers.size(); ++i)
            if (servers[i].backup && usable(servers[i])) {
                if (!has_room(servers[i]))
                    return PickResult::AllFull;
                *chosen = static_cast<int>(i);
                return PickResult::Picked;
            }
        return PickResult::NoServer;
    }
    for (int pass = 0; pass < 2; ++pass) {
        int64_t total = 0;
        int best = -1;
        for (size_t i = 0; i < servers.size(); ++i) {
            auto& s = servers[i];
            if (s.backup || !usable(s) || !has_room(s) || (pass == 0 && static_cast<int>(i) == skip))
                continue;
            s.current += s.weight;
            total += s.weight;
            if (best < 0 || s.current > servers[static_cast<size_t>(best)].current)
                best = static_cast<int>(i);
        }
        if (best >= 0) {
            servers[static_cast<size_t>(best)].current -= total;
            *chosen = best;
            return PickResult::Picked;
        }
        if (skip < 0)
            break;
    }
    return PickResult::AllFull;
}

std::vector<int> build_rr_schedule(const std::vector<ServerSlot>& servers) {
    std::vector<int64_t> current(servers.size(), 0);
    int64_t total = 0;
    for (auto& s : servers)
        if (!s.backup && usable(s))
            total += s.weight;
    std::vector<int> out;
    out.reserve(static_cast<size_t>(total));
    for (int64_t n = 0; n < total; ++n) {
        int best = -1;
        for (size_t i = 0; i < servers.size(); ++i) {
            if (servers[i].backup || !usable(servers[i]))
                continue;
            current[i] += servers[i].weight;
            if (best < 0 || current[i] > current[static_cast<size_t>(best)])
                best = static_cast<int>(i);
        }
        current[static_cast<size_t>(best)] -= total;
        out.push_back(best);
    }
    return out;
}

PickResult pick_server_scheduled(std::vector<ServerSlot>& servers, const std::vector<int>& schedule,
                                 uint64_t ticket, int* chosen, int skip) {
    if (schedule.empty())
        return pick_server(servers, chosen, skip);  // backups only
    size_t n = schedule.size();
    int fallback = -1;
    for (size_t k = 0; k < n; ++k) {
        int i = schedule[(ticket + k) % n];
        const ServerSlot& s = servers[static_cast<size_t>(i)];
        if (!usable(s) || !has_room(s))
            continue;
        if (i == skip) {
            if (fallback < 0)
                fallback = i;
            continue;
        }
        *chosen = i;
        return PickResult::Picked;
    }
    if (fallback >= 0) {
        *chosen = fallback;
        return PickResult::Picked;
    }
    return PickResult::AllFull;
}


// --- hashing ---------------------------------------------------------------------------------

uint32_t hash_key(HashFunction f, std::string_view key) noexcept {
    auto* p = reinterpret_cast<const unsigned char*>(key.data());
    size_t n = key.size();
    uint32_t h = 0;
    switch (f) {
    case HashFunction::Sdbm:
        for (size_t i = 0; i < n; ++i)
            h = p[i] + (h << 6) + (h << 16) - h;
        return h;
    case HashFunction::Djb2:
        h = 5381;
        for (size_t i = 0; i < n; ++i)
            h = ((h << 5) + h) + p[i];
        return h;
    case HashFunction::Wt6: {
        uint32_t h0 = 0xa53c965aU, h1 = 0x5ca6953aU, step0 = 6, step1 = 18;
        for (size_t i = 0; i < n; ++i) {
            uint32_t t = p[i];
            h0 = ~(h0 ^ t);
            h1 = ~(h1 + t);
            t = (h1 << step0) | (h1 >> ((32 - step0) & 31));
            h1 = (h0 << step1) | (h0 >> ((32 - step1) & 31));
            h0 = t;
            t = ((h0 >> 16) ^ h1) & 0xffff;
            step0 = t & 0x1f;
            step1 = t >> 11;
        }
        return h0 ^ h1;
    }
    case HashFunction::Crc32:
        h = ~0U;
        for (size_t i = 0; i < n; ++i) {
            h ^= p[i];
            for (int bit = 0; bit < 8; ++bit)
                h = (h >> 1) ^ ((h & 1) ? 0xedb88320U : 0);
        }
        return ~h;
    }
    return 0;
}

uint32_t full_hash(uint32_t a) noexcept {
    a = (a + 0x7ed55d16U) + (a << 12);
    a = (a ^ 0xc761c23cU) ^ (a >> 19);
    a = (a + 0x165667b1U) + (a << 5);
    a = (a + 0xd3a2646cU) ^ (a << 9);
    a = (a + 0xfd7046c5U) + (a << 3);
    a = (a ^ 0xb55a4f09U) ^ (a >> 16);
    // Spreads the values around the whole 32-bit space (HAProxy multiplies by a prime close to
    // 3/4 of it), so ring points do not cluster.
    return a * 3221225473U;
}

// --- LoadBalancer ----------------------------------------------------------------------------

namespace {
using common::BalanceAlgo;

bool is_hash(BalanceAlgo a) {
    return a == BalanceAlgo::Source || a == BalanceAlgo::Uri || a == BalanceAlgo::UrlParam ||
           a == BalanceAlgo::Hdr;
}

// HAProxy's chash places server `puid` (1-based) at full_hash(puid * 4096 + node) for node in
// [0, 16 * weight): 4096 = 256 (max weight) * 16, so points of two servers never collide
// before hashing.
constexpr int kPointsPerWeight = 16;
constexpr uint32_t kPointRange = 256 * kPointsPerWeight;

uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}
}  // namespace

LoadBalancer::LoadBalancer(const common::BalanceConf& conf, std::vector<ServerSlot>* servers)
    : conf_(conf), servers_(servers) {
    // Each worker draws its own sequence for random(N); nothing secret depends on it.
    auto now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    seed(splitmix(now ^ (static_cast<uint64_t>(::getpid()) << 32) ^ reinterpret_cast<uintptr_t>(this)));
    if (conf_.random_draws < 1)
        conf_.random_draws = 1;
    rebuild();
}

void LoadBalancer::rebuild() {
    schedule_ = build_rr_schedule(*servers_);
    ring_.clear();
    bool ring = conf_.algo == BalanceAlgo::Random || (conf_.consistent && is_hash(conf_.algo));
    if (!ring)
        return;
    const auto& sv = *servers_;
    for (size_t i = 0; i < sv.size(); ++i) {
        if (sv[i].backup || !usable(sv[i]))
            continue;
        uint32_t points = static_cast<uint32_t>(std::min(sv[i].weight, 256)) * kPointsPerWeight;
        auto puid = static_cast<uint32_t>(i + 1);
        for (uint32_t node = 0; node < points; ++node)
            ring_.emplace_back(full_hash(puid * kPointRange + node), static_cast<int>(i));
    }
    std::sort(ring_.begin(), ring_.end());
}

bool LoadBalancer::needs_ticket(bool has_key) const noexcept {
    switch (conf_.algo) {
    case BalanceAlgo::RoundRobin:
    case BalanceAlgo::StaticRR:
        return true;
    case BalanceAlgo::LeastConn:
    case BalanceAlgo::First:
    case BalanceAlgo::Random:
        return false;
    default:
        return !has_key;
    }
}

bool LoadBalancer::needs_key() const noexcept { return is_hash(conf_.algo); }

int LoadBalancer::backup_only() const noexcept {
    int backup = -1;
    for (size_t i = 0; i < servers_->size(); ++i) {
        const ServerSlot& s = (*servers_)[i];
        if (!usable(s))
            continue;
        if (!s.backup)
            return -1;
        if (backup < 0)
            backup = static_cast<int>(i);
    }
    return backup < 0 ? -2 : backup;
}

uint64_t LoadBalancer::next_random() noexcept {
    // xorshift64*: fast, and good enough to spread draws over the ring.
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545f4914f6cdd1dULL;
}

uint32_t LoadBalancer::hash_of(std::string_view key) const noexcept {
    uint32_t h = 0;
    if (conf_.algo == BalanceAlgo::Source) {
        // HAProxy folds the address into 32 bits (XOR of its big-endian words) instead of
        // hashing it: map-based source hashing is then "address % total weight".
        for (size_t l = 0; l + 4 <= key.size(); l += 4) {
            uint32_t w = 0;
            std::memcpy(&w, key.data() + l, 4);
            h ^= ntohl(w);
        }
    } else {
        h = hash_key(HashFunction::Sdbm, key);
    }
    // 'hash-type consistent' alone means sdbm + avalanche in HAProxy.
    return conf_.consistent ? full_hash(h) : h;
}

PickResult LoadBalancer::pick(std::string_view key, bool has_key, uint64_t ticket, int* chosen, int skip) noexcept {
    int b = backup_only();
    if (b == -2)
        return PickResult::NoServer;
    if (b >= 0) {
        if (!has_room((*servers_)[static_cast<size_t>(b)]))
            return PickResult::AllFull;
        *chosen = b;
        return PickResult::Picked;
    }
    switch (conf_.algo) {
    case BalanceAlgo::LeastConn:
        return pick_leastconn(chosen, skip);
    case BalanceAlgo::First:
        return pick_first(chosen, skip);
    case BalanceAlgo::Random:
        return pick_random(chosen, skip);
    case BalanceAlgo::Source:
    case BalanceAlgo::Uri:
    case BalanceAlgo::UrlParam:
    case BalanceAlgo::Hdr:
        if (has_key)
            return pick_hashed(hash_of(key), chosen, skip);
        break;  // no key: round-robin, as HAProxy
    default:
        break;
    }
    return pick_server_scheduled(*servers_, schedule_, ticket, chosen, skip);
}

PickResult LoadBalancer::pick_ring(uint32_t h, int skip, int* chosen) const noexcept {
    size_t n = ring_.size();
    if (n == 0)
        return PickResult::NoServer;
    auto it = std::lower_bound(ring_.begin(), ring_.end(), std::make_pair(h, -1));
    size_t next = it == ring_.end() ? 0 : static_cast<size_t>(it - ring_.begin());
    size_t prev = next == 0 ? n - 1 : next - 1;
    // The nearest point on either side (HAProxy's chash_get_server_hash); unsigned arithmetic
    // measures distances around the ring.
    uint32_t dp = h - ring_[prev].first;
    uint32_t dn = ring_[next].first - h;
    size_t at = dp <= dn ? prev : next;
    int fallback = -1;
    for (size_t k = 0; k < n; ++k) {
        int s = ring_[(at + k) % n].second;
        if (!usable((*servers_)[static_cast<size_t>(s)]))
            continue;  // changed since rebuild()
        if (s == skip) {
            fallback = s;
            continue;
        }
        *chosen = s;
        return PickResult::Picked;
    }
    if (fallback < 0)
        return PickResult::NoServer;
    *chosen = fallback;
    return PickResult::Picked;
}

PickResult LoadBalancer::pick_hashed(uint32_t h, int* chosen, int skip) noexcept {
    int s = -1;
    if (conf_.consistent) {
        if (pick_ring(h, skip, &s) != PickResult::Picked)
            return pick_server_scheduled(*servers_, schedule_, 0, chosen, skip);
    } else {
        // Map-based: slot h % sum(weights) of the weighted map (the round-robin cycle); a
        // retry or a server disabled since rebuild() moves on to the next slot.
        size_t n = schedule_.size();
        if (n == 0)
            return pick_server_scheduled(*servers_, schedule_, 0, chosen, skip);
        size_t at = h % n;
        for (size_t k = 0; k < n && s < 0; ++k) {
            int c = schedule_[(at + k) % n];
            if (usable((*servers_)[static_cast<size_t>(c)]) && c != skip)
                s = c;
        }
        if (s < 0) {
            if (skip < 0 || !usable((*servers_)[static_cast<size_t>(skip)]))
                return PickResult::NoServer;
            s = skip;
        }
    }
    // HAProxy queues on the hashed server when it is full; the caller's queue is per backend,
    // so report AllFull rather than breaking the affinity.
    if (!has_room((*servers_)[static_cast<size_t>(s)]))
        return PickResult::AllFull;
    *chosen = s;
    return PickResult::Picked;
}

PickResult LoadBalancer::pick_leastconn(int* chosen, int skip) noexcept {
    const auto& sv = *servers_;
    size_t n = sv.size();
    // HAProxy's fwlc key: 0 for an idle server whatever its weight, else (cur + 1) / weight.
    auto lighter = [](const ServerSlot& a, const ServerSlot& b) {
        if (a.cur_conns == 0 || b.cur_conns == 0)
            return a.cur_conns == 0 && b.cur_conns != 0;
        return static_cast<int64_t>(a.cur_conns + 1) * b.weight < static_cast<int64_t>(b.cur_conns + 1) * a.weight;
    };
    for (int pass = 0; pass < 2; ++pass) {
        int best = -1;
        for (size_t k = 0; k < n; ++k) {
            size_t i = (lc_next_ + k) % n;
            const ServerSlot& s = sv[i];
            if (s.backup || !usable(s) || !has_room(s) || (pass == 0 && static_cast<int>(i) == skip))
                continue;
            if (best < 0 || lighter(s, sv[static_cast<size_t>(best)]))
                best = static_cast<int>(i);
        }
        if (best >= 0) {
            lc_next_ = static_cast<size_t>(best) + 1;  // equals take turns
            *chosen = best;
            return PickResult::Picked;
        }
        if (skip < 0)
            break;
    }
    return PickResult::AllFull;
}

PickResult LoadBalancer::pick_first(int* chosen, int skip) const noexcept {
    const auto& sv = *servers_;
    int fallback = -1;
    for (size_t i = 0; i < sv.size(); ++i) {
        const ServerSlot& s = sv[i];
        if (s.backup || !usable(s) || !has_room(s))
            continue;
        if (static_cast<int>(i) == skip) {
            fallback = skip;
            continue;
        }
        *chosen = static_cast<int>(i);
        return PickResult::Picked;
    }
    if (fallback < 0)
        return PickResult::AllFull;
    *chosen = fallback;
    return PickResult::Picked;
}

PickResult LoadBalancer::pick_random(int* chosen, int skip) noexcept {
    const auto& sv = *servers_;
    int best = -1;
    for (int d = 0; d < conf_.random_draws; ++d) {
        int s = -1;
        if (pick_ring(static_cast<uint32_t>(next_random() >> 32), skip, &s) != PickResult::Picked)
            break;
        if (best < 0) {
            best = s;
            continue;
        }
        // Power of N choices: keep the less loaded relative to its weight (a tie goes to the
        // later draw, as in HAProxy).
        const ServerSlot& a = sv[static_cast<size_t>(s)];
        const ServerSlot& b2 = sv[static_cast<size_t>(best)];
        if (static_cast<int64_t>(a.cur_conns) * b2.weight <= static_cast<int64_t>(b2.cur_conns) * a.weight)
            best = s;
    }
    if (best < 0)
        return pick_server_scheduled(*servers_, schedule_, 0, chosen, skip);
    if (!has_room(sv[static_cast<size_t>(best)]))
        return PickResult::AllFull;
    *chosen = best;
    return PickResult::Picked;
}

// --- keys ------------------------------------------------------------------------------------

namespace {
// The path of a request target from its first '/' (the query included), "" when it has none
// (HAProxy's http_get_path()).
std::string_view path_from_slash(std::string_view uri) {
    if (!uri.empty() && uri[0] == '/')
        return uri;
    size_t scheme = uri.find("://");
    if (scheme == std::string_view::npos)
        return {};
    size_t slash = uri.find('/', scheme + 3);
    return slash == std::string_view::npos ? std::string_view{} : uri.substr(slash);
}

std::string_view uri_key(const common::BalanceConf& c, std::string_view u) {
    if (c.uri_path_only)
        u = path_from_slash(u);
    if (c.uri_len > 0 && u.size() > static_cast<size_t>(c.uri_len))
        u = u.substr(0, static_cast<size_t>(c.uri_len));
    // depth N stops before the (N+1)-th '/': "/a/b/c" depth 2 -> "/a/b".
    int stop = c.uri_depth > 0 ? c.uri_depth + 1 : 0;
    int slashes = 0;
    size_t end = 0;
    for (; end < u.size(); ++end) {
        if (u[end] == '/') {
            if (++slashes == stop)
                break;
        } else if (u[end] == '?' && !c.uri_whole) {
            break;
        }
    }
    return u.substr(0, end);
}

bool url_param_key(std::string_view name, std::string_view uri, std::string_view* key) {
    size_t q = uri.find('?');
    if (q == std::string_view::npos)
        return false;
    std::string_view params = uri.substr(q + 1);
    while (params.size() > name.size()) {
        if (params[name.size()] == '=' && params.substr(0, name.size()) == name) {
            std::string_view v = params.substr(name.size() + 1);
            *key = v.substr(0, v.find('&'));
            return true;
        }
        size_t amp = params.find('&');
        if (amp == std::string_view::npos)
            return false;
        params = params.substr(amp + 1);
    }
    return false;
}

// "www.example.com" -> "example": the label before the last dot (HAProxy's use_domain_only);
// without a dot, the whole value.
std::string_view domain_only(std::string_view v) {
    size_t end = v.size();
    size_t p = v.size();
    bool in_domain = false;
    while (p > 0) {
        if (in_domain) {
            if (v[p - 1] == '.')
                break;
        } else if (p < v.size() && v[p] == '.') {
            end = p;
            in_domain = true;
        }
        --p;
    }
    return v.substr(p, end - p);
}
}  // namespace

bool balance_key(const common::BalanceConf& c, const common::HttpHead* req, const sockaddr_storage* src,
                 std::string* scratch, std::string_view* key) {
    *key = {};
    switch (c.algo) {
    case BalanceAlgo::Source:
        if (!src)
            return false;
        if (src->ss_family == AF_INET) {
            const auto* a = reinterpret_cast<const sockaddr_in*>(src);
            scratch->assign(reinterpret_cast<const char*>(&a->sin_addr), 4);
        } else if (src->ss_family == AF_INET6) {
            const auto* a = reinterpret_cast<const sockaddr_in6*>(src);
            scratch->assign(reinterpret_cast<const char*>(&a->sin6_addr), 16);
        } else {
            return false;  // unix socket: HAProxy fails the request; round-robin is kinder
        }
        *key = *scratch;
        return true;
    case BalanceAlgo::Uri:
        if (!req)
            return false;
        *key = uri_key(c, req->uri);
        return true;
    case BalanceAlgo::UrlParam:
        return req && url_param_key(c.param, req->uri, key);
    case BalanceAlgo::Hdr: {
        if (!req)
            return false;
        int i = req->find(c.param);
        if (i < 0)
            return false;
        // The first value of a list, as HAProxy's http_find_header() gives it.
        std::string_view v = req->fields[static_cast<size_t>(i)].value;
        v = v.substr(0, v.find(','));
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
            v.remove_suffix(1);
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
            v.remove_prefix(1);
        if (v.empty())
            return false;
        *key = c.hdr_use_domain_only ? domain_only(v) : v;
        return true;
    }
    default:
        return false;
    }
}

}  // namespace proxyd::worker
