#include "worker/stats.h"

namespace proxyd::worker {

// One-second buckets: `cur` counts the events of second `sec`, `prev` those of the second
// before it. Coarser than HAProxy's sliding freq_ctr, but exact at second boundaries and
// enough for the "rate" columns and for rate_max.
void RateMeter::add(int64_t now_sec, uint64_t n) {
    if (now_sec <= sec) {
        // Same second. A clock going backwards (should not happen with a steady clock)
        // keeps counting into the current bucket rather than losing events.
        cur += n;
        return;
    }
    prev = now_sec == sec + 1 ? cur : 0;  // after a gap, the previous second saw nothing
    cur = n;
    sec = now_sec;
}

// "Events in the last second": during second `sec` that is what was counted so far in it;
// one second later the last complete second is still `cur` (the meter only rolls on add()).
// `prev` is never the answer: at now_sec == sec + 1 it describes second sec - 1.
uint64_t RateMeter::rate(int64_t now_sec) const {
    if (now_sec == sec || now_sec == sec + 1)
        return cur;
    return 0;
}

}  // namespace proxyd::worker
