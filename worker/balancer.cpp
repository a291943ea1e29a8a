#include "worker/balancer.h"

#include <cstddef>

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

}  // namespace proxyd::worker
