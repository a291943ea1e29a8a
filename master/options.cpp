#include "master/options.h"

#include <charconv>

namespace proxyd::master {

ParsedArgs parse_args(const std::vector<std::string>& args) {
    ParsedArgs r;
    Options& o = r.opts;
    auto need = [&](size_t& i, const std::string& flag) -> const std::string* {
        if (i + 1 >= args.size() || args[i + 1].empty() || args[i + 1][0] == '-') {
            r.error = "option '" + flag + "' requires an argument";
            return nullptr;
        }
        return &args[++i];
    };
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-f" || a == "-S" || a == "-p") {
            const std::string* v = need(i, a);
            if (!v)
                return r;
            if (a == "-f")
                o.config_paths.push_back(*v);
            else if (a == "-S")
                o.master_sockets.push_back(*v);
            else
                o.pidfile = *v;
        } else if (a == "-cc") {
            // The next argument whatever it is: '' (false) and '-1' (true) are conditions.
            if (i + 1 >= args.size()) {
                r.error = "option '-cc' requires an argument";
                return r;
            }
            o.check_condition = args[++i];
        } else if (a == "-W") {
            o.master_worker_flag = true;  // master-worker is the only mode
        } else if (a == "-Ws") {
            o.systemd = true;
            o.master_worker_flag = true;
        } else if (a == "-D") {
            o.daemon = true;
        } else if (a == "-c") {
            o.check_only = true;
        } else if (a == "-d") {
            o.debug = true;
        } else if (a == "-q") {
            o.quiet = true;
        } else if (a == "-L") {
            // HAProxy: the local peer name. proxyd has no peers sections, so nothing uses it;
            // accepted so that HAProxy command lines (and VTest) keep working.
            const std::string* v = need(i, a);
            if (!v)
                return r;
            o.local_peer = *v;
        } else if (a.rfind("-dM", 0) == 0) {
            // HAProxy's memory-poisoning debug option: proxyd has no pools to poison.
        } else if (a == "-V") {
            // HAProxy: verbose; proxyd's notices are already printed, so nothing to add.
        } else if (a == "-v" || a == "-vv") {
            o.version = a == "-vv" ? 2 : 1;
        } else if (a == "-sf" || a == "-st") {
            auto& list = a == "-sf" ? o.soft_stop_pids : o.hard_stop_pids;
            // HAProxy: every following argument that is a number is a pid.
            while (i + 1 < args.size()) {
                const std::string& n = args[i + 1];
                int pid = 0;
                auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), pid);
                if (n.empty() || ec != std::errc() || p != n.data() + n.size() || pid <= 0)
                    break;
                list.push_back(pid);
                ++i;
            }
        } else if (a == "--") {
            // HAProxy: the remaining arguments are configuration files.
            for (++i; i < args.size(); ++i)
                o.config_paths.push_back(args[i]);
        } else if (!a.empty() && a[0] != '-') {
            // HAProxy accepts bare configuration file names after the options.
            o.config_paths.push_back(a);
        } else {
            r.error = "unknown option '" + a + "'";
            return r;
        }
    }
    if (o.version == 0 && !o.check_condition && o.config_paths.empty())
        r.error = "no configuration file given (-f)";
    return r;
}

std::string usage_text(const char* argv0) {
    std::string n = argv0 ? argv0 : "proxyd";
    return "Usage : " + n +
           " [-W] [-Ws] -f <cfgfile|cfgdir>* [-S <master socket>]* [-p <pidfile>] [-D] [-c] [-d] [-q]\n"
           "        [-v | -vv] [-cc <condition>] [-sf <pid>*] [-st <pid>*]\n"
           "        -v displays version ; -vv shows known build options.\n"
           "        -f <cfgfile|cfgdir> loads a configuration file, or the *.cfg files of a directory\n"
           "        -c check mode : only check the configuration and exit\n"
           "        -cc evaluates a condition (as '.if' does) and exits 0 if true, 1 if false, 2 on error\n"
           "        -D goes daemon ; -W master-worker mode (always on) ; -Ws with systemd notify\n"
           "        -S <path>[,mode,<octal>][,uid,<n>][,gid,<n>][,level,<lvl>] adds a master CLI socket\n"
           "        -p writes the master's pid to <pidfile>\n"
           "        -d foreground debug mode ; -q quiet mode : only warnings and errors\n"
           "        -sf/-st [pid ]* finishes/terminates old pids once serving\n";
}

}  // namespace proxyd::master
