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

}  // namespace proxyd::worker
