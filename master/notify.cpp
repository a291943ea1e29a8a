#include "master/notify.h"

#include "config.h"
#include "common/log.h"

#if PROXYD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace proxyd::master {

void sd_notify_send(const std::string& msg) {
#if PROXYD_HAVE_SYSTEMD
    int r = sd_notify(0, msg.c_str());
    if (r < 0)
        common::log_warning("sd_notify failed: %s, ignoring", common::Errno{-r}.message().c_str());
#else
    (void)msg;
#endif
}

}  // namespace proxyd::master
