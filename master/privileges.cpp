#include "master/privileges.h"

#include <cap-ng.h>
#include <linux/capability.h>
#include <unistd.h>

#include <vector>

#include "common/log.h"

namespace proxyd::master {

void drop_master_capabilities() {
    if (::geteuid() != 0)
        return;
    capng_get_caps_process();
    // bind privileged ports on reload; signal workers running as another user; give UNIX
    // sockets their owner and mode; read configuration and write the pidfile wherever the
    // administrator put them; raise RLIMIT_NOFILE for maxconn. Only those we hold (a
    // container may have removed some from the bounding set).
    const unsigned wanted[] = {CAP_NET_BIND_SERVICE, CAP_KILL,           CAP_CHOWN,       CAP_FOWNER,
                               CAP_DAC_OVERRIDE,     CAP_DAC_READ_SEARCH, CAP_SYS_RESOURCE};
    std::vector<unsigned> keep;
    for (unsigned c : wanted)
        if (capng_have_capability(CAPNG_PERMITTED, c))
            keep.push_back(c);
    capng_clear(CAPNG_SELECT_CAPS);
    for (unsigned c : keep)
        capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED), c);
    if (capng_apply(CAPNG_SELECT_CAPS) < 0)
        common::log_warning("cannot reduce the master's capabilities, ignoring");
}

}  // namespace proxyd::master
