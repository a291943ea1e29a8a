#include "worker/privileges.h"

#include <cap-ng.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace proxyd::worker {

using common::strprintf;

std::string resolve_identity(const common::GlobalConf& g, Identity* out) {
    if (::geteuid() != 0) {
        if (g.uid && *g.uid != ::geteuid())
            return strprintf("cannot switch to uid %u: proxyd was not started as root", *g.uid);
        if (g.gid && *g.gid != ::getegid())
            return strprintf("cannot switch to gid %u: proxyd was not started as root", *g.gid);
        out->change = false;
        return "";
    }
    out->change = true;
    gid_t primary = 65534;
    if (g.uid) {
        out->uid = *g.uid;
        if (passwd* pw = ::getpwuid(*g.uid))
            primary = pw->pw_gid;
    } else {
        passwd* pw = ::getpwnam("nobody");
        out->uid = pw ? pw->pw_uid : 65534;
        if (group* gr = ::getgrnam("nogroup"))
            primary = gr->gr_gid;
        else if (pw)
            primary = pw->pw_gid;
    }
    out->gid = g.gid ? *g.gid : primary;
    return "";
}

std::string drop_privileges(const common::GlobalConf& g, const Identity& id) {
    if (!g.chroot.empty()) {
        if (::chroot(g.chroot.c_str()) < 0)
            return strprintf("cannot chroot to '%s': %s", g.chroot.c_str(), std::strerror(errno));
        if (::chdir("/") < 0)
            return strprintf("cannot chdir to '/' in chroot '%s': %s", g.chroot.c_str(), std::strerror(errno));
    }
    capng_clear(CAPNG_SELECT_BOTH);
    for (int cap : g.setcap)
        capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED),
                     static_cast<unsigned>(cap));
    if (id.change) {
        int rc = capng_change_id(static_cast<int>(id.uid), static_cast<int>(id.gid),
                                 static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING |
                                                            CAPNG_CLEAR_AMBIENT));
        if (rc < 0) {
            static const char* steps[] = {"",
                                          "library not initialised",
                                          "setting PR_SET_KEEPCAPS",
                                          "applying capabilities",
                                          "setgid",
                                          "dropping supplementary groups",
                                          "setuid",
                                          "clearing PR_SET_KEEPCAPS",
                                          "clearing the bounding set",
                                          "applying the final capabilities",
                                          "looking up the user"};
            int s = -rc;
            return strprintf("cannot change identity to uid %u gid %u: %s failed (%s)", id.uid, id.gid,
                             s >= 1 && s <= 10 ? steps[s] : "unknown step", std::strerror(errno));
        }
    } else if (capng_apply(CAPNG_SELECT_CAPS) < 0) {
        return strprintf("cannot drop capabilities: %s", std::strerror(errno));
    }
    if (!g.insecure_setuid_wanted && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return strprintf("cannot set PR_SET_NO_NEW_PRIVS: %s", std::strerror(errno));
    if (!g.insecure_fork_wanted) {
        rlimit rl{0, 0};
        if (::setrlimit(RLIMIT_NPROC, &rl) < 0)
            return strprintf("cannot set RLIMIT_NPROC to 0: %s", std::strerror(errno));
    }
    return "";
}

}  // namespace proxyd::worker
