#pragma once
// Server selection for a backend (pure: no I/O, unit-tested).
#include <cstdint>
#include <vector>

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

}  // namespace proxyd::worker
