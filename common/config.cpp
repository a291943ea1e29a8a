#include "common/config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>

#include "common/cond_expr.h"
#include "common/config_parse.h"
#include "common/log.h"
#include "common/unique_fd.h"

namespace proxyd::common {

namespace {

// HAProxy keeps timers in signed 32-bit milliseconds (and epoll_wait takes an int).
constexpr uint64_t kMaxTimerMs = 2147483647;
constexpr int kMaxProcs = 64;

// ---------------------------------------------------------------------------------------------
// Text helpers

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_var_start(char c) { return is_alpha(c) || c == '_'; }
bool is_var_char(char c) { return is_var_start(c) || is_digit(c); }

int hex_value(char c) {
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// User text inside a message: control characters are shown escaped so that a message is
// always one printable line, whatever the input (the fuzzer feeds arbitrary bytes).
std::string shown(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '\t')
            out += "\\t";
        else if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c < 0x20 || c == 0x7f)
            out += strprintf("\\x%02x", c);
        else
            out.push_back(ch);
    }
    return out;
}

std::string loc_str(const SourceLoc& l) { return strprintf("%s:%d", l.file.c_str(), l.line); }

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// ---------------------------------------------------------------------------------------------
// Tokenizer: one line into words, HAProxy's quoting rules (configuration.txt §2.2, §2.3),
// plus ${VAR} expansion outside quotes.

struct VarContext {
    const EnvLookup* env;
    std::string_view file;
    int line;
    std::string_view section;
};

struct Tokens {
    std::vector<std::string> words;
    std::vector<std::string> warnings;
    std::string error;  // empty on success
};

std::optional<std::string> lookup_env(const VarContext& ctx, const std::string& name) {
    if (*ctx.env)
        return (*ctx.env)(name);
    if (const char* v = std::getenv(name.c_str()))
        return std::string(v);
    return std::nullopt;
}

class Tokenizer {
public:
    Tokenizer(std::string_view in, const VarContext& ctx) : in_(in), ctx_(ctx) {}

    Tokens run() {
        if (auto nul = in_.find('\0'); nul != std::string_view::npos)
            return fail(strprintf("NUL character at column %zu", nul + 1));
        while (i_ < in_.size()) {
            char c = in_[i_];
            if (quote_ == '\'') {
                if (c == '\'')
                    quote_ = 0;
                else
                    word_.push_back(c);
                ++i_;
                continue;
            }
            if (quote_ == 0) {
                if (is_blank(c)) {
                    if (!finish_word())
                        return fail_pending();
                    ++i_;
                    continue;
                }
                if (c == '#')
                    break;
                if (c == '\'') {
                    open_quote(c);
                    continue;
                }
            }
            if (c == '"') {
                if (quote_ == '"') {
                    quote_ = 0;
                    ++i_;
                } else {
                    open_quote(c);
                }
                continue;
            }
            if (c == '\\') {
                if (!escape())
                    return fail_pending();
                continue;
            }
            // Outside quotes only "${" starts a variable, so that a regex such as "^/a$"
            // keeps its dollar; inside double quotes "$NAME" does too, as in HAProxy.
            if (c == '$' && (quote_ == '"' || (i_ + 1 < in_.size() && in_[i_ + 1] == '{'))) {
                if (!variable())
                    return fail_pending();
                continue;
            }
            word_.push_back(c);
            started_ = true;
            ++i_;
        }
        if (quote_)
            return fail(strprintf("unterminated %s quote starting at column %zu",
                                  quote_ == '"' ? "double" : "single", quote_pos_ + 1));
        if (!finish_word())
            return fail_pending();
        return std::move(out_);
    }

private:
    Tokens fail(std::string msg) {
        Tokens t;
        t.error = std::move(msg);
        t.warnings = std::move(out_.warnings);
        return t;
    }
    Tokens fail_pending() { return fail(std::move(err_)); }

    void open_quote(char q) {
        quote_ = q;
        quote_pos_ = i_++;
        started_ = true;  // "" is an empty word, not nothing
    }

    bool finish_word() {
        if (!started_)
            return true;
        if (word_.find('\0') != std::string::npos) {
            err_ = strprintf("NUL character in word '%s'", shown(word_).c_str());
            return false;
        }
        out_.words.push_back(std::move(word_));
        word_.clear();
        started_ = false;
        return true;
    }

    bool escape() {
        size_t at = i_;
        if (at + 1 >= in_.size()) {
            err_ = strprintf("backslash at end of line (column %zu): lines cannot be continued", at + 1);
            return false;
        }
        char n = in_[at + 1];
        started_ = true;
        i_ += 2;
        switch (n) {
        case ' ':
        case '\t':
        case '\\':
        case '#':
        case '\'':
        case '"':
        case '$': word_.push_back(n); return true;
        case 't': word_.push_back('\t'); return true;
        case 'n': word_.push_back('\n'); return true;
        case 'r': word_.push_back('\r'); return true;
        case 'x': {
            int hi = at + 2 < in_.size() ? hex_value(in_[at + 2]) : -1;
            int lo = at + 3 < in_.size() ? hex_value(in_[at + 3]) : -1;
            if (hi < 0 || lo < 0) {
                err_ = strprintf("invalid escape sequence '%s' at column %zu: '\\x' needs two hexadecimal digits",
                                 shown(in_.substr(at, 4)).c_str(), at + 1);
                return false;
            }
            word_.push_back(static_cast<char>(hi * 16 + lo));
            i_ += 2;
            return true;
        }
        default:
            // Not an escape sequence: kept as written, as HAProxy does, so that regex
            // escapes such as "\." or "\1" reach the keyword that uses them.
            word_.push_back('\\');
            word_.push_back(n);
            return true;
        }
    }

    bool variable() {
        size_t at = i_;
        size_t p = at + 1;
        bool brace = p < in_.size() && in_[p] == '{';
        if (brace) {
            ++p;
            if (in_.find('}', p) == std::string_view::npos) {
                err_ = strprintf("unterminated '${' at column %zu", at + 1);
                return false;
            }
        }
        size_t name_start = p;
        if (p < in_.size() && in_[p] == '.')
            ++p;  // pseudo-variables: .FILE, .LINE, .SECTION
        if (p >= in_.size() || !is_var_start(in_[p])) {
            err_ = brace ? strprintf("invalid variable name at column %zu", name_start + 1)
                         : strprintf("'$' at column %zu must be followed by a variable name "
                                     "(write '\\$' for a literal '$')", at + 1);
            return false;
        }
        while (p < in_.size() && is_var_char(in_[p]))
            ++p;
        std::string name(in_.substr(name_start, p - name_start));
        bool split = false;
        std::optional<std::string> def;
        if (brace) {
            if (in_.substr(p, 3) == "[*]") {
                split = true;
                p += 3;
            }
            if (p < in_.size() && in_[p] == '-') {
                size_t close = in_.find('}', p);  // exists: checked above
                def = std::string(in_.substr(p + 1, close - p - 1));
                p = close;
            }
            if (p >= in_.size()) {
                err_ = strprintf("unterminated '${' at column %zu", at + 1);
                return false;
            }
            if (in_[p] != '}') {
                err_ = strprintf("unexpected character '%s' in variable '%s' at column %zu",
                                 shown(in_.substr(p, 1)).c_str(), shown(name).c_str(), p + 1);
                return false;
            }
            ++p;
        }
        std::optional<std::string> value;
        if (name[0] == '.') {
            if (name == ".FILE")
                value = std::string(ctx_.file);
            else if (name == ".LINE")
                value = std::to_string(ctx_.line);
            else if (name == ".SECTION")
                value = std::string(ctx_.section);
            else {
                err_ = strprintf("unknown pseudo-variable '%s' (known: .FILE, .LINE, .SECTION)",
                                 shown(name).c_str());
                return false;
            }
        } else {
            value = lookup_env(ctx_, name);
        }
        if (!value) {
            if (def) {
                value = std::move(def);
            } else {
                out_.warnings.push_back(strprintf("environment variable '%s' is not set; it expands to an empty string",
                                                  name.c_str()));
                value = std::string();
            }
        }
        i_ = p;
        if (!split) {
            word_ += *value;
            started_ = started_ || !value->empty();
            return true;
        }
        for (char c : *value) {
            if (is_blank(c) || c == '\n') {
                if (!finish_word())
                    return false;
            } else {
                word_.push_back(c);
                started_ = true;
            }
        }
        return true;
    }

    std::string_view in_;
    const VarContext& ctx_;
    size_t i_ = 0;
    char quote_ = 0;  // 0, '\'' or '"'
    size_t quote_pos_ = 0;
    std::string word_;
    bool started_ = false;
    std::string err_;
    Tokens out_;
};

// ---------------------------------------------------------------------------------------------
// Keyword tables

// Sections HAProxy has and proxyd does not (yet).
constexpr const char* kUnsupportedSections[] = {
    "userlist", "peers", "mailers", "resolvers", "program", "ring", "cache",
    "fcgi-app", "log-forward", "crt-store", "traces",
};

// HAProxy's preprocessor directives (configuration.txt §2.4), valid anywhere.
constexpr const char* kDirectives[] = {
    ".if", ".elif", ".else", ".endif", ".notice", ".warning", ".alert", ".diag",
};

constexpr const char* kGlobalKeywords[] = {
    "daemon", "master-worker", "pidfile", "user", "uid", "group", "gid", "chroot", "nbproc",
    "nbthread", "maxconn", "setcap", "insecure-setuid-wanted", "insecure-fork-wanted",
    "hard-stop-after", "mworker-max-reloads", "mworker-start-timeout", "noreuseport", "stats",
};

// HAProxy 2.6 global keywords that proxyd recognises and rejects.
constexpr const char* kUnsupportedGlobal[] = {
    "busy-polling", "ca-base", "close-spread-time", "cluster-secret", "cpu-map", "crt-base", "debug",
    "default-path", "description", "expose-experimental-directives", "external-check", "fd-hard-limit",
    "grace", "h1-accept-payload-with-any-method", "h1-case-adjust", "h1-case-adjust-file",
    "h2-workaround-bogus-websocket-clients", "issuers-chain-path", "localpeer", "log",
    "log-send-hostname", "log-tag", "max-spread-checks", "maxcompcpuusage", "maxcomprate",
    "maxconnrate", "maxpipes", "maxsessrate", "maxsslconn", "maxsslrate", "maxzlibmem",
    "no-memory-trimming", "node", "noepoll", "noevports", "nogetaddrinfo", "nokqueue", "nopoll",
    "nosplice", "numa-cpu-mapping", "pp2-never-send-local", "presetenv", "quiet", "resetenv",
    "server-state-base", "server-state-file", "set-dumpable", "set-var", "set-var-fmt", "setenv",
    "spread-checks", "strict-limits", "thread-group", "thread-groups", "ulimit-n",
    "unix-bind", "unsetenv", "zero-warning",
};
// ... and every keyword starting with one of these.
constexpr const char* kUnsupportedGlobalPrefixes[] = {
    "tune.", "ssl-", "lua-", "httpclient.", "profiling.", "51degrees-", "deviceatlas-", "wurfl-",
};

constexpr const char* kProxyKeywords[] = {
    "mode", "timeout", "maxconn", "retries", "balance", "hash-type", "default_backend", "bind", "server",
};

// HAProxy 2.6 proxy keywords that proxyd recognises and rejects.
constexpr const char* kUnsupportedProxy[] = {
    "acl", "backlog", "bind-process", "capture", "clitcpka-cnt", "clitcpka-idle", "clitcpka-intvl",
    "compression", "cookie", "declare", "default-server", "description", "disabled", "dispatch",
    "dynamic-cookie-key", "email-alert", "enabled", "error-log-format", "errorfile",
    "errorloc", "errorloc302", "errorloc303", "external-check", "filter", "force-persist",
    "fullconn", "hash-balance-factor", "http-check",
    "http-error", "http-request", "http-response", "http-reuse", "http-send-name-header", "id",
    "ignore-persist", "load-server-state-from-file", "log", "log-format", "log-format-sd",
    "log-tag", "max-keep-alive-queue", "max-session-srv-conns", "monitor", "monitor-uri", "option",
    "persist", "rate-limit", "redirect", "retry-on", "server-state-file-name", "server-template",
    "source", "srvtcpka-cnt", "srvtcpka-idle", "srvtcpka-intvl", "stats", "stick", "stick-table",
    "tcp-check", "tcp-request", "tcp-response", "transparent", "unique-id-format",
    "unique-id-header", "use-fcgi-app", "use-server", "use_backend", "usesrc",
};

// Keywords whose second word selects what they do: messages quote both words.
constexpr const char* kTwoWordKeywords[] = {
    "option", "stats", "tcp-request", "tcp-response", "http-check", "tcp-check", "capture",
    "email-alert", "stick", "monitor", "declare", "external-check", "http-request",
    "http-response", "http-after-response", "http-error", "rate-limit", "persist",
};

// Keywords HAProxy itself removed, with what replaces them.
struct Obsolete {
    const char* name;
    const char* instead;
};
constexpr Obsolete kObsoleteProxy[] = {
    {"contimeout", "timeout connect"}, {"clitimeout", "timeout client"},
    {"srvtimeout", "timeout server"},  {"redispatch", "option redispatch"},
    {"redisp", "option redispatch"},   {"block", "http-request deny"},
    {"reqadd", "http-request add-header"}, {"reqallow", "http-request allow"},
    {"reqdel", "http-request del-header"}, {"reqdeny", "http-request deny"},
    {"reqiallow", "http-request allow"}, {"reqidel", "http-request del-header"},
    {"reqideny", "http-request deny"}, {"reqipass", "http-request"},
    {"reqirep", "http-request replace-header"}, {"reqitarpit", "http-request tarpit"},
    {"reqpass", "http-request"},       {"reqrep", "http-request replace-header"},
    {"reqtarpit", "http-request tarpit"}, {"rspadd", "http-response add-header"},
    {"rspdel", "http-response del-header"}, {"rspdeny", "http-response deny"},
    {"rspidel", "http-response del-header"}, {"rspideny", "http-response deny"},
    {"rspirep", "http-response replace-header"}, {"rsprep", "http-response replace-header"},
    {"cliexp", "http-request replace-header"}, {"srvexp", "http-response replace-header"},
    {"monitor-net", "tcp-request connection"}, {"appsession", "cookie"},
};

struct OptionSpec {
    const char* name;
    int args;  // number of words the option consumes after its name
};

constexpr OptionSpec kUnsupportedBindOptions[] = {
    {"accept-netscaler-cip", 1}, {"accept-proxy", 0}, {"allow-0rtt", 0}, {"alpn", 1},
    {"ca-file", 1}, {"ca-ignore-err", 1}, {"ca-sign-file", 1}, {"ca-sign-pass", 1},
    {"ca-verify-file", 1}, {"ciphers", 1}, {"ciphersuites", 1}, {"crl-file", 1}, {"crt", 1},
    {"crt-ignore-err", 1}, {"crt-list", 1}, {"curves", 1}, {"defer-accept", 0}, {"ecdhe", 1},
    {"expose-fd", 1}, {"force-sslv3", 0}, {"force-tlsv10", 0}, {"force-tlsv11", 0},
    {"force-tlsv12", 0}, {"force-tlsv13", 0}, {"generate-certificates", 0}, {"id", 1},
    {"interface", 1}, {"level", 1}, {"mss", 1}, {"namespace", 1}, {"nice", 1}, {"no-ca-names", 0},
    {"no-sslv3", 0}, {"no-tls-tickets", 0}, {"no-tlsv10", 0}, {"no-tlsv11", 0}, {"no-tlsv12", 0},
    {"no-tlsv13", 0}, {"npn", 1}, {"prefer-client-ciphers", 0}, {"process", 1}, {"proto", 1},
    {"quic-force-retry", 0}, {"severity-output", 1}, {"shards", 1}, {"ssl", 0},
    {"ssl-max-ver", 1}, {"ssl-min-ver", 1}, {"strict-sni", 0}, {"tcp-ut", 1}, {"tfo", 0},
    {"thread", 1}, {"tls-ticket-keys", 1}, {"transparent", 0}, {"verify", 1},
};

constexpr OptionSpec kUnsupportedServerOptions[] = {
    {"addr", 1}, {"agent-addr", 1}, {"agent-check", 0}, {"agent-inter", 1}, {"agent-port", 1},
    {"agent-send", 1}, {"allow-0rtt", 0}, {"alpn", 1}, {"ca-file", 1}, {"check", 0},
    {"check-alpn", 1}, {"check-proto", 1}, {"check-send-proxy", 0}, {"check-sni", 1},
    {"check-ssl", 0}, {"check-via-socks4", 0}, {"ciphers", 1}, {"ciphersuites", 1}, {"cookie", 1},
    {"crl-file", 1}, {"crt", 1}, {"downinter", 1}, {"error-limit", 1}, {"fall", 1},
    {"fastinter", 1}, {"force-sslv3", 0}, {"force-tlsv10", 0}, {"force-tlsv11", 0},
    {"force-tlsv12", 0}, {"force-tlsv13", 0}, {"id", 1}, {"init-addr", 1}, {"inter", 1},
    {"log-proto", 1}, {"max-reuse", 1}, {"maxqueue", 1}, {"minconn", 1}, {"namespace", 1},
    {"no-agent-check", 0}, {"no-check", 0}, {"no-check-send-proxy", 0}, {"no-check-ssl", 0},
    {"no-send-proxy", 0}, {"no-send-proxy-v2", 0}, {"no-send-proxy-v2-ssl", 0},
    {"no-send-proxy-v2-ssl-cn", 0}, {"no-ssl", 0}, {"no-ssl-reuse", 0}, {"no-sslv3", 0},
    {"no-tfo", 0}, {"no-tls-tickets", 0}, {"no-tlsv10", 0}, {"no-tlsv11", 0}, {"no-tlsv12", 0},
    {"no-tlsv13", 0}, {"no-verifyhost", 0}, {"non-stick", 0}, {"npn", 1}, {"observe", 1},
    {"on-error", 1}, {"on-marked-down", 1}, {"on-marked-up", 1}, {"port", 1}, {"proto", 1},
    {"proxy-v2-options", 1}, {"redir", 1}, {"resolve-net", 1}, {"resolve-opts", 1},
    {"resolve-prefer", 1}, {"resolvers", 1}, {"rise", 1}, {"send-proxy", 0}, {"send-proxy-v2", 0},
    {"send-proxy-v2-ssl", 0}, {"send-proxy-v2-ssl-cn", 0}, {"slowstart", 1}, {"sni", 1},
    {"socks4", 1}, {"source", 1}, {"ssl", 0}, {"ssl-max-ver", 1}, {"ssl-min-ver", 1},
    {"ssl-reuse", 0}, {"stick", 0}, {"tcp-ut", 1}, {"tfo", 0}, {"tls-tickets", 0}, {"track", 1},
    {"usesrc", 1}, {"verify", 1}, {"verifyhost", 1}, {"ws", 1},
};

// Load-balancing algorithms of HAProxy 2.6 that proxyd does not implement.
constexpr const char* kUnsupportedBalance[] = {"hash"};
constexpr const char* kUnsupportedBalancePrefixes[] = {"rdp-cookie"};

// capabilities(7) names, without "cap_".
struct CapName {
    const char* name;
    int value;
};
constexpr CapName kCaps[] = {
    {"chown", CAP_CHOWN}, {"dac_override", CAP_DAC_OVERRIDE},
    {"dac_read_search", CAP_DAC_READ_SEARCH}, {"fowner", CAP_FOWNER}, {"fsetid", CAP_FSETID},
    {"kill", CAP_KILL}, {"setgid", CAP_SETGID}, {"setuid", CAP_SETUID}, {"setpcap", CAP_SETPCAP},
    {"linux_immutable", CAP_LINUX_IMMUTABLE}, {"net_bind_service", CAP_NET_BIND_SERVICE},
    {"net_broadcast", CAP_NET_BROADCAST}, {"net_admin", CAP_NET_ADMIN}, {"net_raw", CAP_NET_RAW},
    {"ipc_lock", CAP_IPC_LOCK}, {"ipc_owner", CAP_IPC_OWNER}, {"sys_module", CAP_SYS_MODULE},
    {"sys_rawio", CAP_SYS_RAWIO}, {"sys_chroot", CAP_SYS_CHROOT}, {"sys_ptrace", CAP_SYS_PTRACE},
    {"sys_pacct", CAP_SYS_PACCT}, {"sys_admin", CAP_SYS_ADMIN}, {"sys_boot", CAP_SYS_BOOT},
    {"sys_nice", CAP_SYS_NICE}, {"sys_resource", CAP_SYS_RESOURCE}, {"sys_time", CAP_SYS_TIME},
    {"sys_tty_config", CAP_SYS_TTY_CONFIG}, {"mknod", CAP_MKNOD}, {"lease", CAP_LEASE},
    {"audit_write", CAP_AUDIT_WRITE}, {"audit_control", CAP_AUDIT_CONTROL},
    {"setfcap", CAP_SETFCAP}, {"mac_override", CAP_MAC_OVERRIDE}, {"mac_admin", CAP_MAC_ADMIN},
    {"syslog", CAP_SYSLOG}, {"wake_alarm", CAP_WAKE_ALARM}, {"block_suspend", CAP_BLOCK_SUSPEND},
    {"audit_read", CAP_AUDIT_READ}, {"perfmon", CAP_PERFMON}, {"bpf", CAP_BPF},
    {"checkpoint_restore", CAP_CHECKPOINT_RESTORE},
};

template <typename Range>
bool contains(const Range& r, std::string_view s) {
    return std::any_of(std::begin(r), std::end(r), [&](const char* k) { return s == k; });
}

template <typename Range>
bool has_prefix_in(const Range& r, std::string_view s) {
    return std::any_of(std::begin(r), std::end(r), [&](const char* p) { return starts_with(s, p); });
}

const OptionSpec* find_option(std::span<const OptionSpec> table, std::string_view name) {
    for (const auto& o : table)
        if (name == o.name)
            return &o;
    return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Values

enum class NumError { None, Invalid, Negative, Range };

NumError parse_integer(std::string_view s, long long min, long long max, long long* out) {
    bool negative = !s.empty() && s[0] == '-';
    std::string_view digits = negative ? s.substr(1) : s;
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), is_digit))
        return NumError::Invalid;
    if (negative && min >= 0)
        return NumError::Negative;
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range || v < min || v > max)
        return NumError::Range;
    if (ec != std::errc() || p != s.data() + s.size())
        return NumError::Invalid;
    *out = v;
    return NumError::None;
}

std::optional<uid_t> lookup_user(const std::string& name) {
    if (name.empty() || name.find('\0') != std::string::npos)
        return std::nullopt;
    long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 16384);
    passwd pw{};
    passwd* res = nullptr;
    int rc;
    while ((rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &res)) == ERANGE && buf.size() < (1u << 22))
        buf.resize(buf.size() * 2);
    if (rc != 0 || !res)
        return std::nullopt;
    return pw.pw_uid;
}

std::optional<gid_t> lookup_group(const std::string& name) {
    if (name.empty() || name.find('\0') != std::string::npos)
        return std::nullopt;
    long hint = sysconf(_SC_GETGR_R_SIZE_MAX);
    std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 16384);
    group gr{};
    group* res = nullptr;
    int rc;
    while ((rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &res)) == ERANGE && buf.size() < (1u << 22))
        buf.resize(buf.size() * 2);
    if (rc != 0 || !res)
        return std::nullopt;
    return gr.gr_gid;
}

// Characters HAProxy accepts in proxy, server and defaults names.
std::optional<char> invalid_name_char(std::string_view name) {
    for (char c : name)
        if (!(is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.' || c == ':'))
            return c;
    return std::nullopt;
}

// The address a bind occupies, flags aside: two binds with the same one cannot both listen.
std::string address_identity(const SockAddr& a) {
    switch (a.family) {
    case AddrFamily::Inet4: return "ipv4@" + a.to_string();
    case AddrFamily::Inet6: return "ipv6@" + a.to_string();
    case AddrFamily::Unix: return "unix@" + a.path;
    case AddrFamily::Abstract: return "abns@" + a.path;
    case AddrFamily::Fd: return "fd@" + std::to_string(a.inherited_fd);
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// Parser


enum Cap : unsigned { CapFe = 1, CapBe = 2 };

// `errorfile CODE FILE` or `errorfiles NAME [CODE...]`, in declaration order (defaults' first):
// applied in that order once every section is read, later ones replacing earlier pages, as
// HAProxy does.
struct PendingErrorfiles {
    SourceLoc loc;
    std::string name;        // errorfiles: the http-errors section; empty for an errorfile line
    std::vector<int> codes;  // errorfiles: empty means every page of the section
    int code = 0;            // errorfile
    std::string text;        // errorfile
};

struct HttpErrorsSection {
    SourceLoc loc;
    std::map<int, std::string> pages;
};

struct ProxyState {
    ProxyConf conf;
    std::vector<PendingErrorfiles> pending_errorfiles;  // errorfile(s) lines, resolved at the end
    bool is_defaults = false;
    SourceLoc default_backend_loc;     // where default_backend was set (maybe in a defaults)
    std::vector<std::string> timeouts_here;  // timeouts set in this very section
    // A 'bind' or 'server' line was written, even if it was refused: then "no bind" and
    // "no server" warnings would only repeat the error.
    bool bind_lines = false;
    bool server_lines = false;
};

const char* proxy_type(const ProxyState& p) {
    if (p.is_defaults)
        return "defaults";
    if (p.conf.is_frontend && p.conf.is_backend)
        return "listen";
    return p.conf.is_frontend ? "frontend" : "backend";
}

struct TimeoutSpec {
    const char* name;
    std::optional<uint64_t> Timeouts::*field;
    unsigned cap;
};
constexpr TimeoutSpec kTimeouts[] = {
    {"client", &Timeouts::client, CapFe},
    {"client-fin", &Timeouts::client_fin, CapFe},
    {"connect", &Timeouts::connect, CapBe},
    {"server", &Timeouts::server, CapBe},
    {"server-fin", &Timeouts::server_fin, CapBe},
    {"tunnel", &Timeouts::tunnel, CapBe},
    {"queue", &Timeouts::queue, CapBe},
    {"http-request", &Timeouts::http_request, CapFe | CapBe},
    {"http-keep-alive", &Timeouts::http_keep_alive, CapFe | CapBe},
};

bool read_file(const std::string& path, std::string* out, std::vector<std::string>* errors);

class Parser final : public Diagnostics {
public:
    Parser(const EnvLookup& env, bool check_paths) : env_(env), check_paths_(check_paths) {}

    void parse_source(const ConfigSource& src) {
        // Sections do not span files; the last defaults section does.
        sec_ = Sec::None;
        section_name_.clear();
        std::string_view text = src.text;
        int lineno = 0;
        size_t pos = 0;
        while (pos < text.size()) {
            size_t nl = text.find('\n', pos);
            std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
            pos = nl == std::string_view::npos ? text.size() : nl + 1;
            ++lineno;
            Line l;
            l.loc = SourceLoc{src.name, lineno};
            VarContext ctx{&env_, src.name, lineno, section_name_};
            Tokens t = Tokenizer(raw, ctx).run();
            // Lines of a block that is not taken are tokenized too, as HAProxy does: a quoting
            // error there is still an error, and '.else'/'.endif' must be recognised. But their
            // variables may well be unset (".if defined(X)" guards "${X}"), and so may those
            // of a condition: no warning for either.
            const bool cond_line = !t.words.empty() && is_cond_directive(t.words[0]);
            if (lines_taken() && !cond_line)
                for (auto& w : t.warnings)
                    warning(l.loc, std::move(w));
            if (!t.error.empty()) {
                error(l.loc, std::move(t.error));
                continue;
            }
            if (t.words.empty())
                continue;
            l.w = std::move(t.words);
            if (cond_line)
                cond_directive(l);
            else if (lines_taken())
                dispatch(l);
        }
        // Conditional blocks do not span files.
        for (const auto& c : conds_)
            error(c.loc, "'.if' block is not terminated: '.endif' missing before the end of the file");
        conds_.clear();
    }

    ParseResult finish() {
        resolve_errorfiles();
        validate();
        std::vector<ProxyConf*> all;
        for (auto& p : proxies_)
            all.push_back(&p.conf);
        rules_validate(*this, all);
        log_validate(*this, global_, all);
        if (res_.errors.empty()) {
            Config c;
            c.global = std::move(global_);
            c.proxies.reserve(proxies_.size());
            for (auto& p : proxies_)
                c.proxies.push_back(std::move(p.conf));
            res_.config = std::move(c);
        }
        return std::move(res_);
    }

private:
    enum class Sec { None, Global, Proxy, Defaults, Skipped, HttpErrors };

    void error(const SourceLoc& loc, std::string msg) override { res_.errors.push_back(Diag{loc, std::move(msg)}); }
    void warning(const SourceLoc& loc, std::string msg) override {
        res_.warnings.push_back(Diag{loc, std::move(msg)});
    }

    ProxyState& current() { return sec_ == Sec::Defaults ? defaults_[cur_] : proxies_[cur_]; }

    // --- argument helpers ------------------------------------------------------------------

    // Argument `idx` (1-based after the keyword) is present and not empty.
    bool need_arg(const Line& l, size_t idx, const char* what) {
        if (idx < l.w.size() && !l.w[idx].empty())
            return true;
        error(l.loc, strprintf("'%s' expects %s as an argument", shown(l.w[0]).c_str(), what));
        return false;
    }

    // At most `max` arguments after the keyword.
    bool no_extra(const Line& l, size_t max) {
        if (l.w.size() <= max + 1)
            return true;
        error(l.loc, strprintf("'%s': unexpected extra argument '%s'", shown(l.w[0]).c_str(),
                               shown(l.w[max + 1]).c_str()));
        return false;
    }

    bool number(const Line& l, const std::string& label, const std::string& text, long long min, long long max,
                long long* out) {
        switch (parse_integer(text, min, max, out)) {
        case NumError::None: return true;
        case NumError::Invalid:
            error(l.loc, strprintf("%s: invalid number '%s'", label.c_str(), shown(text).c_str()));
            break;
        case NumError::Negative:
            error(l.loc, strprintf("%s: negative value '%s' is not allowed", label.c_str(), shown(text).c_str()));
            break;
        case NumError::Range:
            error(l.loc, strprintf("%s: value '%s' is out of range (%lld..%lld)", label.c_str(), shown(text).c_str(),
                                   min, max));
            break;
        }
        return false;
    }

    // "'maxconn' N" style keywords: exactly one integer argument.
    bool int_keyword(const Line& l, long long min, long long max, int* out) {
        if (!need_arg(l, 1, "a number") || !no_extra(l, 1))
            return false;
        long long v = 0;
        if (!number(l, "'" + shown(l.w[0]) + "'", l.w[1], min, max, &v))
            return false;
        *out = static_cast<int>(v);
        return true;
    }

    std::optional<uint64_t> duration(const Line& l, const std::string& label, const std::string& text) {
        auto d = parse_duration_ms(text);
        if (!d) {
            error(l.loc, strprintf("%s: invalid duration '%s' (expected a number with an optional unit: us, ms, s, "
                                   "m, h, d)", label.c_str(), shown(text).c_str()));
            return std::nullopt;
        }
        if (*d > kMaxTimerMs) {
            error(l.loc, strprintf("%s: duration '%s' is too large (maximum 2147483647 ms, about 24.8 days)",
                                   label.c_str(), shown(text).c_str()));
            return std::nullopt;
        }
        return d;
    }

    std::optional<uid_t> uid_value(const Line& l, const std::string& label, const std::string& text) {
        long long v = 0;
        if (!number(l, label, text, 0, static_cast<long long>(UINT32_MAX) - 1, &v))
            return std::nullopt;
        return static_cast<uid_t>(v);
    }

    std::optional<uid_t> user_value(const Line& l, const std::string& label, const std::string& name) {
        auto uid = lookup_user(name);
        if (!uid)
            error(l.loc, strprintf("%s: unknown user '%s'", label.c_str(), shown(name).c_str()));
        return uid;
    }

    std::optional<gid_t> group_value(const Line& l, const std::string& label, const std::string& name) {
        auto gid = lookup_group(name);
        if (!gid)
            error(l.loc, strprintf("%s: unknown group '%s'", label.c_str(), shown(name).c_str()));
        return gid;
    }

    bool check_name(const Line& l, const char* kind, const std::string& name) {
        if (auto c = invalid_name_char(name)) {
            error(l.loc, strprintf("character '%s' is not permitted in %s name '%s'", shown(std::string(1, *c)).c_str(),
                                   kind, shown(name).c_str()));
            return false;
        }
        return true;
    }

    void unsupported(const Line& l, size_t kw_idx) {
        const std::string& kw = l.w[kw_idx];
        std::string detail;
        if (kw_idx > 0 || (contains(kTwoWordKeywords, kw) && l.w.size() > kw_idx + 1)) {
            size_t end = std::min(l.w.size(), contains(kTwoWordKeywords, kw) ? kw_idx + 2 : kw_idx + 1);
            std::string words;
            for (size_t i = 0; i < end; ++i)
                words += (i ? " " : "") + shown(l.w[i]);
            detail = " ('" + words + "')";
        }
        error(l.loc, strprintf("'%s' is an HAProxy keyword that proxyd does not support yet%s", shown(kw).c_str(),
                               detail.c_str()));
    }

    void unknown(const Line& l, const char* section, std::span<const char* const> known) {
        std::string hint;
        const std::string& kw = l.w[0];
        if (kw.size() >= 3) {
            size_t best = 3;
            for (const char* k : known) {
                size_t d = edit_distance(kw, k);
                if (d > 0 && d < best) {
                    best = d;
                    hint = strprintf("; did you mean '%s'?", k);
                }
            }
        }
        error(l.loc, strprintf("unknown keyword '%s' in '%s' section%s", shown(kw).c_str(), section, hint.c_str()));
    }

    // --- conditional blocks and messages (configuration.txt §2.4) ----------------------------

    // One level per '.if' open in the current file. Take: its lines are used. Wait: no branch
    // taken yet, a later '.elif'/'.else' may be. Done: a branch was taken (or the condition
    // was wrong, or the enclosing block is not taken): nothing more of this '.if' is used.
    enum class CondState { Take, Wait, Done };
    struct CondLevel {
        SourceLoc loc;
        CondState state = CondState::Done;
        bool else_seen = false;
    };
    // HAProxy's MAXNESTEDCONDS: at most 99 levels.
    static constexpr size_t kMaxNestedConds = 100;

    static bool is_cond_directive(const std::string& w) {
        return w == ".if" || w == ".elif" || w == ".else" || w == ".endif";
    }
    bool lines_taken() const { return conds_.empty() || conds_.back().state == CondState::Take; }

    // The words after '.if'/'.elif' joined by spaces, as HAProxy re-merges them, evaluated.
    bool evaluate_condition(const Line& l, bool* value) {
        if (!cond_ctx_) {
            cond_ctx_ = default_cond_context(env_);
            // 'noreuseport' earlier in the global section turns REUSEPORT off, as in HAProxy.
            cond_ctx_->enabled = [this](std::string_view opt) { return enabled_option(opt, global_.noreuseport); };
        }
        std::string text;
        for (size_t i = 1; i < l.w.size(); ++i)
            text += (i > 1 ? " " : "") + l.w[i];
        CondOutcome r = eval_condition(text, *cond_ctx_);
        if (!r.error.empty()) {
            error(l.loc, strprintf("%s in '%s' at position %zu", shown(r.error).c_str(), l.w[0].c_str(),
                                   r.error_pos + 1));
            return false;
        }
        *value = r.value;
        return true;
    }

    void cond_directive(const Line& l) {
        const std::string& kw = l.w[0];
        if (kw == ".if") {
            CondLevel c{l.loc};
            if (conds_.size() + 1 >= kMaxNestedConds) {
                error(l.loc, strprintf("too many nested '.if', max is %zu", kMaxNestedConds - 1));
            } else if (lines_taken()) {
                // Not evaluated inside a block that is not taken: it may use what this
                // version does not know (that is what the outer '.if' tests).
                bool v = false;
                if (evaluate_condition(l, &v))
                    c.state = v ? CondState::Take : CondState::Wait;
            }
            conds_.push_back(c);  // even after an error, so that its '.endif' closes it
            return;
        }
        if (kw != ".elif" && l.w.size() > 1)  // reported, then applied: the nesting stays right
            error(l.loc, strprintf("unexpected argument '%s' for '%s'", shown(l.w[1]).c_str(), kw.c_str()));
        if (conds_.empty())
            return error(l.loc, strprintf("'%s' without a matching '.if'", kw.c_str()));
        CondLevel& c = conds_.back();
        if (kw == ".endif") {
            conds_.pop_back();
            return;
        }
        if (c.else_seen)
            return error(l.loc, strprintf("'%s' after '.else' is not permitted (block opened by the '.if' at %s)",
                                          kw.c_str(), loc_str(c.loc).c_str()));
        if (kw == ".else") {
            c.else_seen = true;
            c.state = c.state == CondState::Wait ? CondState::Take : CondState::Done;
            return;
        }
        // .elif: evaluated only while no branch of this '.if' was taken.
        if (c.state != CondState::Wait) {
            c.state = CondState::Done;
            return;
        }
        bool v = false;
        if (!evaluate_condition(l, &v))
            c.state = CondState::Done;
        else if (v)
            c.state = CondState::Take;
    }

    // .notice/.warning/.alert/.diag "message" (in a taken block).
    void message_directive(const Line& l) {
        const std::string& kw = l.w[0];
        if (!contains(kDirectives, kw))
            return error(l.loc, strprintf("unknown directive '%s' (known: .if, .elif, .else, .endif, .notice, "
                                          ".warning, .alert, .diag)", shown(kw).c_str()));
        if (l.w.size() > 2)
            return error(l.loc, strprintf("unexpected argument '%s' for '%s'; use quotes if the message should "
                                          "contain spaces", shown(l.w[2]).c_str(), kw.c_str()));
        std::string msg = "'" + (l.w.size() > 1 ? shown(l.w[1]) : std::string()) + "'";
        if (kw == ".alert")
            error(l.loc, std::move(msg));  // always fatal
        else if (kw == ".warning")
            warning(l.loc, std::move(msg));
        else if (kw == ".notice")
            warning(l.loc, "notice: " + msg);  // the parser's one non-fatal channel
        // .diag: only for HAProxy's diagnostic mode (-dD), which proxyd does not have.
    }

    // --- sections ------------------------------------------------------------------------------

    void dispatch(const Line& l) {
        const std::string& kw = l.w[0];
        if (kw == "global")
            return start_global(l);
        if (kw == "defaults")
            return start_defaults(l);
        if (kw == "frontend" || kw == "backend" || kw == "listen")
            return start_proxy(l);
        if (!kw.empty() && kw[0] == '.')
            return message_directive(l);
        if (kw == "http-errors")
            return start_http_errors(l);
        if (contains(kUnsupportedSections, kw)) {
            error(l.loc, strprintf("'%s' sections are not supported by proxyd yet; the whole section is ignored",
                                   kw.c_str()));
            sec_ = Sec::Skipped;
            section_name_ = l.w.size() > 1 ? l.w[1] : kw;
            return;
        }
        switch (sec_) {
        case Sec::None:
            error(l.loc, strprintf("'%s' is outside of any section (each file must start with 'global', "
                                   "'defaults', 'frontend', 'backend' or 'listen')", shown(kw).c_str()));
            return;
        case Sec::Skipped: return;
        case Sec::HttpErrors: return http_errors_keyword(l);
        case Sec::Global: return global_keyword(l);
        case Sec::Proxy:
        case Sec::Defaults: return proxy_keyword(l, current());
        }
    }

    void start_global(const Line& l) {
        no_extra(l, 0);
        sec_ = Sec::Global;
        section_name_ = "global";
    }

    // Finds a named defaults section for "from NAME"; nullptr (after an error) if none.
    const ProxyState* find_defaults(const Line& l, const std::string& name, const char* who,
                                    const std::string& who_name) {
        const ProxyState* found = nullptr;
        for (const auto& d : defaults_) {
            if (d.conf.name != name)
                continue;
            if (found) {
                error(l.loc, strprintf("ambiguous defaults section name '%s' referenced by %s '%s': declared at %s "
                                       "and %s", shown(name).c_str(), who, shown(who_name).c_str(),
                                       loc_str(found->conf.loc).c_str(), loc_str(d.conf.loc).c_str()));
            }
            found = &d;
        }
        if (!found)
            error(l.loc, strprintf("defaults section '%s' not found for %s '%s'", shown(name).c_str(), who,
                                   shown(who_name).c_str()));
        return found;
    }

    static ProxyState inherit(const ProxyState* base) {
        ProxyState p;
        if (base) {
            // Everything a defaults section can set is inherited (it has no bind or server).
            p.conf = base->conf;
            p.conf.name.clear();
            p.conf.binds.clear();
            p.conf.servers.clear();
            p.default_backend_loc = base->default_backend_loc;
            p.pending_errorfiles = base->pending_errorfiles;
        }
        return p;
    }

    void start_defaults(const Line& l) {
        // defaults [NAME] [from NAME2]; also "defaults from NAME2"
        std::string name, from;
        bool ok = true;
        if (l.w.size() == 2) {
            name = l.w[1];
        } else if (l.w.size() == 3 && l.w[1] == "from") {
            from = l.w[2];
        } else if (l.w.size() == 4 && l.w[2] == "from") {
            name = l.w[1];
            from = l.w[3];
        } else if (l.w.size() != 1) {
            error(l.loc, "'defaults' expects [<name>] [from <defaults>] as arguments");
            ok = false;
            if (l.w[1] != "from")
                name = l.w[1];
        }
        if (!name.empty())
            check_name(l, "defaults section", name);
        const ProxyState* base = nullptr;
        if (ok && l.w.size() >= 3) {
            if (from.empty())
                error(l.loc, "'defaults': 'from' expects the name of a defaults section");
            else
                base = find_defaults(l, from, "defaults section", name);
        }
        ProxyState p = inherit(base);
        p.is_defaults = true;
        p.conf.name = name;
        p.conf.loc = l.loc;
        defaults_.push_back(std::move(p));
        cur_ = defaults_.size() - 1;
        last_defaults_ = cur_;
        sec_ = Sec::Defaults;
        section_name_ = name.empty() ? "defaults" : name;
    }

    void start_proxy(const Line& l) {
        const std::string& kw = l.w[0];
        bool fe = kw != "backend", be = kw != "frontend";
        if (l.w.size() < 2 || l.w[1].empty()) {
            error(l.loc, strprintf("'%s' expects <name> as an argument; the section is ignored", kw.c_str()));
            sec_ = Sec::Skipped;
            section_name_ = kw;
            return;
        }
        const std::string& name = l.w[1];
        check_name(l, strprintf("'%s'", kw.c_str()).c_str(), name);
        const std::string* from = nullptr;
        if (l.w.size() == 4 && l.w[2] == "from") {
            from = &l.w[3];
        } else if (l.w.size() > 2) {
            error(l.loc, strprintf("'%s %s': unexpected argument '%s'%s", kw.c_str(), shown(name).c_str(),
                                   shown(l.w[2]).c_str(),
                                   fe ? " (listening addresses go on 'bind' lines)" : ""));
        }
        for (const auto& other : proxies_) {
            if ((fe && other.conf.is_frontend) || (be && other.conf.is_backend)) {
                if (other.conf.name == name) {
                    error(l.loc, strprintf("%s '%s' has the same name as %s '%s' declared at %s", kw.c_str(),
                                           shown(name).c_str(), proxy_type(other), shown(name).c_str(),
                                           loc_str(other.conf.loc).c_str()));
                    break;
                }
            }
        }
        const ProxyState* base = nullptr;
        if (from)
            base = find_defaults(l, *from, kw.c_str(), name);
        else if (last_defaults_)
            base = &defaults_[*last_defaults_];
        ProxyState p = inherit(base);
        p.conf.name = name;
        p.conf.loc = l.loc;
        p.conf.is_frontend = fe;
        p.conf.is_backend = be;
        if (!fe) {
            // Frontend-only settings a backend inherits from defaults mean nothing to it.
            p.conf.default_backend.clear();
            p.conf.maxconn = 0;
        }
        proxies_.push_back(std::move(p));
        cur_ = proxies_.size() - 1;
        sec_ = Sec::Proxy;
        section_name_ = name;
    }

    // --- global --------------------------------------------------------------------------------

    void global_keyword(const Line& l) {
        const std::string& kw = l.w[0];
        GlobalConf& g = global_;
        if (log_global_keyword(*this, g, l))
            return;
        if (kw == "tune.bufsize") {
            int v = 0;
            if (int_keyword(l, 1024, 1 << 30, &v))
                g.tune_bufsize = static_cast<size_t>(v);
            return;
        }
        if (kw == "tune.maxrewrite" || kw == "tune.idle-pool.shared" || kw == "expose-experimental-directives") {
            // Accepted for HAProxy configurations; nothing to tune in proxyd (heads are rebuilt
            // in their own buffer; idle server connections are per worker).
            if (kw == "tune.maxrewrite") {
                int v = 0;
                (void)int_keyword(l, 0, 1 << 30, &v);
            } else if (kw == "tune.idle-pool.shared") {
                if (need_arg(l, 1, "'on' or 'off'") && no_extra(l, 1) && l.w[1] != "on" && l.w[1] != "off")
                    error(l.loc, strprintf("'tune.idle-pool.shared' expects 'on' or 'off', got '%s'",
                                           shown(l.w[1]).c_str()));
            } else {
                no_extra(l, 0);
            }
            return;
        }
        if (kw == "tune.http.maxhdr") {
            int v = 0;
            if (int_keyword(l, 1, 32767, &v))
                g.tune_maxhdr = v;
            return;
        }
        if (kw == "daemon") {
            if (no_extra(l, 0))
                g.daemon = true;
        } else if (kw == "master-worker") {
            if (!no_extra(l, 1))
                return;
            if (l.w.size() == 2) {
                if (l.w[1] == "no-exit-on-failure")
                    g.exit_on_failure = ExitOnFailure::No;
                else if (l.w[1] == "exit-on-failure")
                    g.exit_on_failure = ExitOnFailure::Yes;
                else
                    return error(l.loc, strprintf("'master-worker' only supports 'no-exit-on-failure' and "
                                                  "'exit-on-failure' (got '%s')", shown(l.w[1]).c_str()));
            }
            g.master_worker = true;
        } else if (kw == "pidfile") {
            if (need_arg(l, 1, "<path>") && no_extra(l, 1))
                g.pidfile = l.w[1];
        } else if (kw == "user") {
            if (need_arg(l, 1, "<user name>") && no_extra(l, 1)) {
                if (auto uid = user_value(l, "'user'", l.w[1])) {
                    g.uid = *uid;
                    g.user = l.w[1];
                }
            }
        } else if (kw == "uid") {
            if (need_arg(l, 1, "<number>") && no_extra(l, 1)) {
                if (auto uid = uid_value(l, "'uid'", l.w[1])) {
                    g.uid = *uid;
                    g.user.clear();
                }
            }
        } else if (kw == "group") {
            if (need_arg(l, 1, "<group name>") && no_extra(l, 1)) {
                if (auto gid = group_value(l, "'group'", l.w[1])) {
                    g.gid = *gid;
                    g.group = l.w[1];
                }
            }
        } else if (kw == "gid") {
            if (need_arg(l, 1, "<number>") && no_extra(l, 1)) {
                if (auto gid = uid_value(l, "'gid'", l.w[1])) {
                    g.gid = *gid;
                    g.group.clear();
                }
            }
        } else if (kw == "chroot") {
            if (!need_arg(l, 1, "<directory>") || !no_extra(l, 1))
                return;
            if (check_paths_) {
                struct stat st{};
                if (::stat(l.w[1].c_str(), &st) != 0)
                    return error(l.loc, strprintf("'chroot': cannot access chroot directory '%s': %s",
                                                  shown(l.w[1]).c_str(), std::strerror(errno)));
                if (!S_ISDIR(st.st_mode))
                    return error(l.loc, strprintf("'chroot': '%s' is not a directory", shown(l.w[1]).c_str()));
            }
            g.chroot = l.w[1];
        } else if (kw == "nbproc") {
            int_keyword(l, 1, kMaxProcs, &g.nbproc);
        } else if (kw == "nbthread") {
            int n = 0;
            if (int_keyword(l, 1, kMaxProcs, &n)) {
                g.nbproc = n;
                warning(l.loc, strprintf("nbthread %d: every proxyd worker is single-threaded; starting %d worker "
                                         "process%s instead", n, n, n == 1 ? "" : "es"));
            }
        } else if (kw == "maxconn") {
            int_keyword(l, 0, INT_MAX, &g.maxconn);
        } else if (kw == "setcap") {
            setcap(l);
        } else if (kw == "insecure-setuid-wanted") {
            if (no_extra(l, 0))
                g.insecure_setuid_wanted = true;
        } else if (kw == "insecure-fork-wanted") {
            if (no_extra(l, 0))
                g.insecure_fork_wanted = true;
        } else if (kw == "noreuseport") {
            if (no_extra(l, 0))
                g.noreuseport = true;
        } else if (kw == "hard-stop-after") {
            if (need_arg(l, 1, "<time>") && no_extra(l, 1)) {
                if (auto d = duration(l, "'hard-stop-after'", l.w[1]))
                    g.hard_stop_after = *d;
            }
        } else if (kw == "mworker-start-timeout") {
            if (need_arg(l, 1, "<time>") && no_extra(l, 1)) {
                if (auto d = duration(l, "'mworker-start-timeout'", l.w[1])) {
                    if (*d == 0)
                        error(l.loc, "'mworker-start-timeout' must be greater than 0");
                    else
                        g.mworker_start_timeout = *d;
                }
            }
        } else if (kw == "mworker-max-reloads") {
            int_keyword(l, 0, INT_MAX, &g.mworker_max_reloads);
        } else if (kw == "stats") {
            stats_keyword(l);
        } else if (contains(kUnsupportedGlobal, kw) || has_prefix_in(kUnsupportedGlobalPrefixes, kw)) {
            unsupported(l, 0);
        } else {
            std::vector<const char*> known(std::begin(kGlobalKeywords), std::end(kGlobalKeywords));
            unknown(l, "global", known);
        }
    }

    void stats_keyword(const Line& l) {
        if (l.w.size() < 2 || l.w[1] != "socket") {
            if (l.w.size() >= 2 && (l.w[1] == "timeout" || l.w[1] == "maxconn" || l.w[1] == "bind-process"))
                return error(l.loc, strprintf("'stats %s' is not supported yet", l.w[1].c_str()));
            return error(l.loc, "'stats' in global only supports 'stats socket <address> [level ..] [mode ..]'");
        }
        if (l.w.size() < 3 || l.w[2].empty())
            return error(l.loc, "'stats socket' expects an address (a path, 'ipv4@127.0.0.1:9999', 'fd@N')");
        StatsSocketConf sc;
        sc.loc = l.loc;
        sc.spec = l.w[2];
        std::string a = l.w[2], err;
        if (a.find('@') == std::string::npos && a[0] != '/')
            a = "unix@" + a;  // HAProxy: a relative path is a UNIX socket too
        auto addr = parse_address(a, AddrUse::Bind, &err);
        if (!addr)
            return error(l.loc, strprintf("'stats socket': %s", shown(err).c_str()));
        sc.addr = *addr;
        for (size_t i = 3; i < l.w.size(); ++i) {
            const std::string& o = l.w[i];
            std::string label = "'stats socket' option '" + o + "'";
            auto arg = [&]() -> const std::string* {
                if (i + 1 < l.w.size())
                    return &l.w[++i];
                error(l.loc, strprintf("%s expects an argument", label.c_str()));
                return nullptr;
            };
            if (o == "level") {
                if (const auto* v = arg()) {
                    auto lv = parse_cli_level(*v);
                    if (!lv)
                        return error(l.loc, strprintf("%s: expects 'user', 'operator' or 'admin', got '%s'",
                                                      label.c_str(), shown(*v).c_str()));
                    sc.level = *lv;
                }
            } else if (o == "mode") {
                if (const auto* v = arg()) {
                    bool octal = !v->empty() && v->size() <= 4 &&
                                 std::all_of(v->begin(), v->end(), [](char c) { return c >= '0' && c <= '7'; });
                    if (!octal)
                        return error(l.loc, strprintf("%s: invalid octal permissions '%s'", label.c_str(),
                                                      shown(*v).c_str()));
                    sc.mode = static_cast<mode_t>(std::strtol(v->c_str(), nullptr, 8));
                }
            } else if (o == "uid" || o == "gid") {
                if (const auto* v = arg())
                    if (auto id = uid_value(l, label, *v))
                        (o == "uid" ? sc.uid : sc.gid) = *id;
            } else if (o == "user") {
                if (const auto* v = arg())
                    if (auto id = user_value(l, label, *v))
                        sc.uid = *id;
            } else if (o == "group") {
                if (const auto* v = arg())
                    if (auto id = group_value(l, label, *v))
                        sc.gid = *id;
            } else if (o == "expose-fd") {
                // Socket transfer to a new process (-x) is not needed: the master owns every
                // listener. Accepted so existing configurations keep working.
                if (const auto* v = arg(); v && *v != "listeners")
                    return error(l.loc, strprintf("%s: only 'listeners' is valid", label.c_str()));
            } else if (o == "process" || o == "thread") {
                (void)arg();  // every worker of the generation answers (see docs/management.md)
            } else {
                return error(l.loc, strprintf("'stats socket': unknown or unsupported option '%s'", shown(o).c_str()));
            }
        }
        if ((sc.mode || sc.uid || sc.gid) && sc.addr.family != AddrFamily::Unix)
            return error(l.loc, "'stats socket': mode/uid/gid/user/group only apply to a UNIX socket path");
        for (auto& other : global_.stats_sockets)
            if (other.addr.to_string() == sc.addr.to_string())
                return error(l.loc, strprintf("'stats socket' address '%s' already used at %s:%d", sc.spec.c_str(),
                                              other.loc.file.c_str(), other.loc.line));
        global_.stats_sockets.push_back(std::move(sc));
    }

    void setcap(const Line& l) {
        if (!need_arg(l, 1, "a comma-separated list of capabilities") || !no_extra(l, 1))
            return;
        std::vector<int> caps;
        bool ok = true;
        std::string_view list = l.w[1];
        size_t pos = 0;
        while (pos <= list.size()) {
            size_t comma = std::min(list.find(',', pos), list.size());
            std::string name(list.substr(pos, comma - pos));
            pos = comma + 1;
            std::string low = name;
            std::transform(low.begin(), low.end(), low.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (starts_with(low, "cap_"))
                low.erase(0, 4);
            const CapName* found = nullptr;
            for (const auto& c : kCaps)
                if (low == c.name)
                    found = &c;
            if (!found) {
                error(l.loc, name.empty() ? std::string("'setcap': empty capability name in the list")
                                          : strprintf("'setcap': unknown capability '%s'", shown(name).c_str()));
                ok = false;
                continue;
            }
            if (std::find(caps.begin(), caps.end(), found->value) == caps.end())
                caps.push_back(found->value);
        }
        if (ok)
            global_.setcap = std::move(caps);
    }

    // --- proxies -------------------------------------------------------------------------------

    // HAProxy's rules for keywords used on the wrong side: some are refused in defaults,
    // others are ignored with a warning when the proxy lacks the capability.
    bool not_in_defaults(const Line& l, const ProxyState& p) {
        if (!p.is_defaults)
            return true;
        error(l.loc, strprintf("'%s' not allowed in 'defaults' section", l.w[0].c_str()));
        return false;
    }

    bool warn_if_not_cap(const Line& l, const ProxyState& p, unsigned cap, const std::string& what) {
        if (p.is_defaults)
            return true;
        bool has = ((cap & CapFe) && p.conf.is_frontend) || ((cap & CapBe) && p.conf.is_backend);
        if (has)
            return true;
        warning(l.loc, strprintf("'%s' ignored because %s '%s' has no %s capability", what.c_str(), proxy_type(p),
                                 shown(p.conf.name).c_str(), cap & CapFe ? "frontend" : "backend"));
        return false;
    }

    void proxy_keyword(const Line& l, ProxyState& p) {
        const std::string& kw = l.w[0];
        ProxyKw k{*this, p.conf, p.is_defaults, proxy_type(p), check_paths_};
        if (rules_proxy_keyword(k, l) || log_proxy_keyword(k, l))
            return;
        if (http_proxy_keyword(l, p))
            return;
        if (kw == "mode")
            return kw_mode(l, p);
        if (kw == "timeout")
            return kw_timeout(l, p);
        if (kw == "maxconn") {
            int v = 0;
            if (int_keyword(l, 0, INT_MAX, &v) && warn_if_not_cap(l, p, CapFe, kw))
                p.conf.maxconn = v;
            return;
        }
        if (kw == "retries") {
            int v = 0;
            if (int_keyword(l, 0, INT_MAX, &v) && warn_if_not_cap(l, p, CapBe, kw))
                p.conf.retries = v;
            return;
        }
        if (kw == "balance")
            return kw_balance(l, p);
        if (kw == "hash-type")
            return kw_hash_type(l, p);
        if (kw == "default_backend") {
            if (need_arg(l, 1, "<backend>") && no_extra(l, 1) && warn_if_not_cap(l, p, CapFe, kw)) {
                p.conf.default_backend = l.w[1];
                p.default_backend_loc = l.loc;
            }
            return;
        }
        if (kw == "bind")
            return kw_bind(l, p);
        if (kw == "server")
            return kw_server(l, p);
        for (const auto& o : kObsoleteProxy) {
            if (kw == o.name)
                return error(l.loc, strprintf("'%s' is obsolete (removed from HAProxy): use '%s' instead", o.name,
                                              o.instead));
        }
        if (contains(kUnsupportedProxy, kw))
            return unsupported(l, 0);
        if ((kw == "no" || kw == "default") && l.w.size() > 1 && contains(kUnsupportedProxy, l.w[1]))
            return unsupported(l, 1);
        std::vector<const char*> known(std::begin(kProxyKeywords), std::end(kProxyKeywords));
        for (const char* k2 : rules_proxy_keywords())
            known.push_back(k2);
        for (const char* k2 : log_proxy_keywords())
            known.push_back(k2);
        unknown(l, proxy_type(p), known);
    }

    // `errorfile CODE FILE` (in a proxy or an http-errors section): reads FILE. False after an
    // error (reported).
    bool errorfile_line(const Line& l, int* code_out, std::string* text) {
        if (!need_arg(l, 1, "<code>") || !need_arg(l, 2, "<file>") || !no_extra(l, 2))
            return false;
        long long code = 0;
        if (!number(l, "'errorfile'", l.w[1], 100, 599, &code))
            return false;
        static constexpr int kCodes[] = {200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425,
                                         429, 500, 501, 502, 503, 504};
        if (std::find(std::begin(kCodes), std::end(kCodes), code) == std::end(kCodes))
            return error(l.loc, strprintf("'errorfile': status code %lld cannot be overridden (supported: 200, 400, "
                                          "401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, "
                                          "504)", code)), false;
        std::vector<std::string> errs;
        if (!read_file(l.w[2], text, &errs))
            return error(l.loc, strprintf("'errorfile %lld': %s", code, errs.empty() ? "cannot read" : errs[0].c_str())),
                   false;
        if (text->size() > global_.tune_bufsize)
            return error(l.loc, strprintf("'errorfile %lld': file '%s' is larger than tune.bufsize (%zu bytes)", code,
                                          l.w[2].c_str(), global_.tune_bufsize)), false;
        if (!text->empty() && text->rfind("HTTP/1.", 0) != 0)
            return error(l.loc, strprintf("'errorfile %lld': file '%s' does not start with an HTTP/1.x status line",
                                          code, l.w[2].c_str())), false;
        *code_out = static_cast<int>(code);
        return true;
    }

    // An `http-errors NAME` section: `errorfile` lines only.
    void start_http_errors(const Line& l) {
        sec_ = Sec::HttpErrors;
        if (l.w.size() != 2 || l.w[1].empty()) {
            error(l.loc, "'http-errors' expects <name> as its only argument; the section is ignored");
            sec_ = Sec::Skipped;
            return;
        }
        section_name_ = l.w[1];
        for (const auto& [name, sec] : http_errors_)
            if (name == l.w[1])
                error(l.loc, strprintf("http-errors section '%s' already declared at %s", shown(name).c_str(),
                                       loc_str(sec.loc).c_str()));
        http_errors_.emplace_back(l.w[1], HttpErrorsSection{l.loc, {}});
    }

    void http_errors_keyword(const Line& l) {
        if (l.w[0] != "errorfile")
            return error(l.loc, strprintf("unknown keyword '%s' in 'http-errors' section (only 'errorfile')",
                                          shown(l.w[0]).c_str()));
        int code = 0;
        std::string text;
        if (errorfile_line(l, &code, &text))
            http_errors_.back().second.pages[code] = std::move(text);
    }

    // Builds each proxy's pages from its errorfile(s) lines in declaration order (a defaults
    // section's lines were copied first): a later line replaces an earlier page.
    void resolve_errorfiles() {
        for (auto& p : proxies_) {
            p.conf.errorfiles.clear();
            for (const auto& pe : p.pending_errorfiles) {
                if (pe.name.empty()) {
                    p.conf.errorfiles[pe.code] = pe.text;
                    continue;
                }
                const HttpErrorsSection* found = nullptr;
                for (const auto& [name, sec] : http_errors_)
                    if (name == pe.name)
                        found = &sec;
                if (!found) {
                    error(pe.loc, strprintf("'errorfiles': unknown http-errors section '%s'", shown(pe.name).c_str()));
                    continue;
                }
                for (const auto& [code, text] : found->pages)
                    if (pe.codes.empty() || std::find(pe.codes.begin(), pe.codes.end(), code) != pe.codes.end())
                        p.conf.errorfiles[code] = text;
                for (int code : pe.codes)
                    if (!found->pages.count(code))
                        warning(pe.loc, strprintf("'errorfiles %s': no page for status %d in that section",
                                                  shown(pe.name).c_str(), code));
            }
        }
    }

    // HTTP keywords handled here: option http-keep-alive|http-server-close|httpclose|redispatch|
    // forwardfor, http-reuse, errorfile. True when the keyword was one of them.
    bool http_proxy_keyword(const Line& l, ProxyState& p) {
        const std::string& kw = l.w[0];
        bool negated = kw == "no";
        if ((kw == "option" || negated) && l.w.size() >= 2) {
            size_t at = negated ? 2 : 1;
            if (negated && (l.w[1] != "option" || l.w.size() < 3))
                return false;
            const std::string& o = l.w[at];
            if (o == "http-keep-alive" || o == "http-server-close" || o == "httpclose" || o == "redispatch") {
                if (!no_extra(l, at))
                    return true;
                if (o == "redispatch") {
                    if (warn_if_not_cap(l, p, CapBe, "option redispatch"))
                        p.conf.redispatch = !negated;
                    return true;
                }
                HttpConnMode m = o == "http-keep-alive"     ? HttpConnMode::KeepAlive
                                 : o == "http-server-close" ? HttpConnMode::ServerClose
                                                            : HttpConnMode::Close;
                if (!negated)
                    p.conf.http_conn_mode = m;
                else if (p.conf.http_conn_mode == m)
                    p.conf.http_conn_mode = HttpConnMode::KeepAlive;
                return true;
            }
            if (o == "forwardfor") {
                if (negated) {
                    if (no_extra(l, at))
                        p.conf.forwardfor = ForwardFor{};
                    return true;
                }
                ForwardFor f;
                f.enabled = true;
                for (size_t i = at + 1; i < l.w.size(); ++i) {
                    const std::string& a = l.w[i];
                    if ((a == "except" || a == "header") && i + 1 >= l.w.size())
                        return error(l.loc, strprintf("'option forwardfor %s' expects an argument", a.c_str())), true;
                    if (a == "except") {
                        std::string net = l.w[++i];
                        int prefix = -1;
                        if (auto slash = net.find('/'); slash != std::string::npos) {
                            long long v = 0;
                            if (!number(l, "'option forwardfor except'", net.substr(slash + 1), 0, 128, &v))
                                return true;
                            prefix = static_cast<int>(v);
                            net.resize(slash);
                        }
                        if (::inet_pton(AF_INET, net.c_str(), f.except_addr) == 1)
                            f.except_family = AF_INET;
                        else if (::inet_pton(AF_INET6, net.c_str(), f.except_addr) == 1)
                            f.except_family = AF_INET6;
                        else
                            return error(l.loc, strprintf("'option forwardfor except': invalid network '%s'",
                                                          shown(l.w[i]).c_str())), true;
                        if (prefix < 0)
                            prefix = f.except_family == AF_INET ? 32 : 128;
                        if (f.except_family == AF_INET && prefix > 32)
                            return error(l.loc, "'option forwardfor except': IPv4 prefix longer than 32"), true;
                        f.except_prefix = prefix;
                    } else if (a == "header") {
                        f.header = l.w[++i];
                        if (f.header.empty())
                            return error(l.loc, "'option forwardfor header' expects a header name"), true;
                    } else if (a == "if-none") {
                        f.if_none = true;
                    } else {
                        return error(l.loc, strprintf("'option forwardfor': unknown argument '%s' (expected 'except', "
                                                      "'header' or 'if-none')", shown(a).c_str())), true;
                    }
                }
                p.conf.forwardfor = std::move(f);
                return true;
            }
            return false;
        }
        if (kw == "http-reuse") {
            if (!need_arg(l, 1, "'never', 'safe', 'aggressive' or 'always'") || !no_extra(l, 1))
                return true;
            const std::string& v = l.w[1];
            if (v == "never")
                p.conf.http_reuse = HttpReuse::Never;
            else if (v == "safe")
                p.conf.http_reuse = HttpReuse::Safe;
            else if (v == "aggressive")
                p.conf.http_reuse = HttpReuse::Aggressive;
            else if (v == "always")
                p.conf.http_reuse = HttpReuse::Always;
            else
                error(l.loc, strprintf("'http-reuse': unknown mode '%s' (expected 'never', 'safe', 'aggressive' or "
                                       "'always')", shown(v).c_str()));
            return true;
        }
        if (kw == "errorfile") {
            int code = 0;
            std::string text;
            if (errorfile_line(l, &code, &text))
                p.pending_errorfiles.push_back(PendingErrorfiles{l.loc, "", {}, code, std::move(text)});
            return true;
        }
        if (kw == "errorfiles") {
            // errorfiles NAME [CODE ...]: the pages of an http-errors section (resolved once
            // every section is read, so the section may come later).
            if (!need_arg(l, 1, "<http-errors section name>"))
                return true;
            PendingErrorfiles pe{l.loc, l.w[1], {}, 0, {}};
            for (size_t i = 2; i < l.w.size(); ++i) {
                long long code = 0;
                if (!number(l, "'errorfiles'", l.w[i], 100, 599, &code))
                    return true;
                pe.codes.push_back(static_cast<int>(code));
            }
            p.pending_errorfiles.push_back(std::move(pe));
            return true;
        }
        return false;
    }

    void kw_mode(const Line& l, ProxyState& p) {
        if (!need_arg(l, 1, "'tcp' or 'http'") || !no_extra(l, 1))
            return;
        if (l.w[1] == "tcp")
            p.conf.mode = ProxyMode::Tcp;
        else if (l.w[1] == "http")
            p.conf.mode = ProxyMode::Http;
        else
            error(l.loc, strprintf("'mode': unknown mode '%s' (expected 'tcp' or 'http')", shown(l.w[1]).c_str()));
    }

    void kw_timeout(const Line& l, ProxyState& p) {
        if (l.w.size() < 2 || l.w[1].empty())
            return error(l.loc, "'timeout' expects a timeout name and a duration, e.g. 'timeout client 30s'");
        const std::string& which = l.w[1];
        if (which == "check" || which == "tarpit")
            return error(l.loc, strprintf("timeout '%s' is not supported yet", which.c_str()));
        const TimeoutSpec* spec = nullptr;
        for (const auto& t : kTimeouts)
            if (which == t.name)
                spec = &t;
        if (!spec)
            return error(l.loc, strprintf("'timeout': unknown timeout '%s' (supported: 'client', 'client-fin', "
                                          "'connect', 'server', 'server-fin', 'tunnel', 'queue', 'http-request', "
                                          "'http-keep-alive')", shown(which).c_str()));
        if (l.w.size() < 3 || l.w[2].empty())
            return error(l.loc, strprintf("'timeout %s' expects a duration", spec->name));
        if (l.w.size() > 3)
            return error(l.loc, strprintf("'timeout %s': unexpected extra argument '%s'", spec->name,
                                          shown(l.w[3]).c_str()));
        auto d = parse_duration_ms(l.w[2]);
        if (!d)
            return error(l.loc, strprintf("'timeout': invalid duration '%s' for '%s' (expected a number with an "
                                          "optional unit: us, ms, s, m, h, d)", shown(l.w[2]).c_str(), spec->name));
        if (*d > kMaxTimerMs)
            return error(l.loc, strprintf("'timeout': duration '%s' for '%s' is too large (maximum 2147483647 ms, "
                                          "about 24.8 days)", shown(l.w[2]).c_str(), spec->name));
        if (!warn_if_not_cap(l, p, spec->cap, std::string("timeout ") + spec->name))
            return;
        if (std::find(p.timeouts_here.begin(), p.timeouts_here.end(), which) != p.timeouts_here.end())
            warning(l.loc, strprintf("overwriting 'timeout %s' which was already specified", spec->name));
        else
            p.timeouts_here.push_back(which);
        p.conf.timeouts.*(spec->field) = *d;
    }

    // balance ALGO [ARGS] (HAProxy's backend_parse_balance()); 'hash-type' is kept.
    void kw_balance(const Line& l, ProxyState& p) {
        if (!need_arg(l, 1, "<algorithm>"))
            return;
        const std::string& algo = l.w[1];
        BalanceConf b;
        b.consistent = p.conf.balance.consistent;
        bool ok = true;
        if (algo == "roundrobin" || algo == "static-rr" || algo == "leastconn" || algo == "first" ||
            algo == "source") {
            b.algo = algo == "roundrobin"  ? BalanceAlgo::RoundRobin
                     : algo == "static-rr" ? BalanceAlgo::StaticRR
                     : algo == "leastconn" ? BalanceAlgo::LeastConn
                     : algo == "first"     ? BalanceAlgo::First
                                           : BalanceAlgo::Source;
            ok = no_extra(l, 1);
        } else if (algo == "random" || algo.starts_with("random(")) {
            // random or random(N): N draws, the least loaded wins (default 2, "random()" too).
            b.algo = BalanceAlgo::Random;
            if (algo.size() > 6) {
                if (algo.back() != ')')
                    return error(l.loc, strprintf("'balance %s': missing closing parenthesis", shown(algo).c_str()));
                std::string n = algo.substr(7, algo.size() - 8);
                long long v = 0;
                if (!n.empty()) {
                    if (!number(l, "'balance random(N)'", n, 0, INT_MAX, &v))
                        return;
                    if (v < 1)
                        return error(l.loc, "'balance random(N)': the number of draws must be at least 1");
                    b.random_draws = static_cast<int>(v);
                }
            }
            ok = no_extra(l, 1);
        } else if (algo == "uri") {
            b.algo = BalanceAlgo::Uri;
            for (size_t i = 2; i < l.w.size(); ++i) {
                const std::string& o = l.w[i];
                if (o == "whole") {
                    b.uri_whole = true;
                } else if (o == "path-only") {
                    b.uri_path_only = true;
                } else if (o == "len" || o == "depth") {
                    long long v = 0;
                    std::string arg = i + 1 < l.w.size() ? l.w[++i] : "";
                    if (parse_integer(arg, 1, INT_MAX, &v) != NumError::None)
                        return error(l.loc, strprintf("'balance uri': '%s' expects a positive integer (got '%s')",
                                                      o.c_str(), shown(arg).c_str()));
                    (o == "len" ? b.uri_len : b.uri_depth) = static_cast<int>(v);
                } else {
                    return error(l.loc, strprintf("'balance uri' only accepts 'len', 'depth', 'path-only' and "
                                                  "'whole' (got '%s')", shown(o).c_str()));
                }
            }
        } else if (algo == "url_param") {
            b.algo = BalanceAlgo::UrlParam;
            if (l.w.size() < 3 || l.w[2].empty())
                return error(l.loc, "'balance url_param' expects a URL parameter name");
            b.param = l.w[2];
            if (l.w.size() > 3) {
                if (l.w[3] == "check_post")
                    return error(l.loc, "'balance url_param' modifier 'check_post' is not supported yet");
                return error(l.loc, strprintf("'balance url_param' only accepts the 'check_post' modifier (got '%s')",
                                              shown(l.w[3]).c_str()));
            }
        } else if (algo.starts_with("hdr(")) {
            b.algo = BalanceAlgo::Hdr;
            if (algo.size() < 6 || algo.back() != ')' || algo.find(')') != algo.size() - 1)
                return error(l.loc, strprintf("'balance %s': expected 'hdr(<name>)' with a header field name",
                                              shown(algo).c_str()));
            b.param = algo.substr(4, algo.size() - 5);
            if (l.w.size() > 2) {
                if (l.w[2] != "use_domain_only")
                    return error(l.loc, strprintf("'balance hdr()' only accepts the 'use_domain_only' modifier "
                                                  "(got '%s')", shown(l.w[2]).c_str()));
                b.hdr_use_domain_only = true;
                ok = no_extra(l, 2);
            }
        } else if (contains(kUnsupportedBalance, algo) || has_prefix_in(kUnsupportedBalancePrefixes, algo)) {
            return error(l.loc, strprintf("balance '%s' is not supported yet", shown(algo).c_str()));
        } else {
            return error(l.loc, strprintf("'balance': unknown algorithm '%s'", shown(algo).c_str()));
        }
        if (ok && warn_if_not_cap(l, p, CapBe, "balance"))
            p.conf.balance = b;
    }

    // hash-type map-based|consistent [FUNCTION [avalanche]]. BalanceConf only records the
    // method, so only HAProxy's defaults are accepted: map-based = sdbm, consistent = sdbm +
    // avalanche (what a bare 'hash-type consistent' means in HAProxy).
    void kw_hash_type(const Line& l, ProxyState& p) {
        if (!need_arg(l, 1, "'map-based' or 'consistent'"))
            return;
        const std::string& m = l.w[1];
        if (m != "map-based" && m != "consistent")
            return error(l.loc, strprintf("'hash-type': unknown method '%s' (expected 'map-based' or 'consistent')",
                                          shown(m).c_str()));
        bool consistent = m == "consistent";
        if (l.w.size() > 2) {
            const std::string& fn = l.w[2];
            if (fn == "djb2" || fn == "wt6" || fn == "crc32" || fn == "none")
                return error(l.loc, strprintf("'hash-type' function '%s' is not supported yet (only 'sdbm')",
                                              fn.c_str()));
            if (fn != "sdbm")
                return error(l.loc, strprintf("'hash-type': unknown hash function '%s' (expected 'sdbm', 'djb2', "
                                              "'wt6', 'crc32' or 'none')", shown(fn).c_str()));
            bool avalanche = false;
            if (l.w.size() > 3) {
                if (l.w[3] != "avalanche")
                    return error(l.loc, strprintf("'hash-type' only accepts 'avalanche' as a modifier for hash "
                                                  "functions (got '%s')", shown(l.w[3]).c_str()));
                avalanche = true;
                if (!no_extra(l, 3))
                    return;
            }
            if (avalanche != consistent)
                return error(l.loc, strprintf("'hash-type %s sdbm%s' is not supported yet (use 'hash-type %s')",
                                              m.c_str(), avalanche ? " avalanche" : "", m.c_str()));
        }
        if (warn_if_not_cap(l, p, CapBe, "hash-type"))
            p.conf.balance.consistent = consistent;
    }

    void kw_bind(const Line& l, ProxyState& p) {
        if (!not_in_defaults(l, p))
            return;
        if (l.w.size() < 2 || l.w[1].empty())
            return error(l.loc, "'bind' expects an address such as '*:80', '127.0.0.1:8080' or "
                                "'unix@/run/x.sock' as an argument");
        // Options first: they apply to every address of the comma-separated list.
        BindConf opts;
        std::vector<std::string> unix_opts;  // options that only make sense on a socket path
        for (size_t i = 2; i < l.w.size(); ++i) {
            const std::string& o = l.w[i];
            auto arg = [&]() -> const std::string* {
                if (i + 1 < l.w.size())
                    return &l.w[++i];
                error(l.loc, strprintf("'bind' option '%s' expects an argument", shown(o).c_str()));
                return nullptr;
            };
            std::string label = "'bind' option '" + o + "'";
            if (o == "v4v6") {
                opts.v4v6 = true;
            } else if (o == "v6only") {
                opts.v6only = true;
            } else if (o == "mode") {
                unix_opts.push_back(o);
                if (const auto* a = arg()) {
                    // Octal as in HAProxy and chmod: "600" and "0600" are the same.
                    bool octal = !a->empty() && a->size() <= 4 &&
                                 std::all_of(a->begin(), a->end(), [](char c) { return c >= '0' && c <= '7'; });
                    long m = octal ? std::strtol(a->c_str(), nullptr, 8) : -1;
                    if (m >= 0 && m <= 0777)
                        opts.mode = static_cast<mode_t>(m);
                    else
                        error(l.loc, strprintf("%s: invalid octal permissions '%s' (expected e.g. 660)", label.c_str(),
                                               shown(*a).c_str()));
                }
            } else if (o == "uid" || o == "gid") {
                unix_opts.push_back(o);
                if (const auto* a = arg()) {
                    if (auto v = uid_value(l, label, *a))
                        (o == "uid" ? opts.uid : opts.gid) = *v;
                }
            } else if (o == "user") {
                unix_opts.push_back(o);
                if (const auto* a = arg()) {
                    if (auto v = user_value(l, label, *a))
                        opts.uid = *v;
                }
            } else if (o == "group") {
                unix_opts.push_back(o);
                if (const auto* a = arg()) {
                    if (auto v = group_value(l, label, *a))
                        opts.gid = *v;
                }
            } else if (o == "backlog" || o == "maxconn") {
                if (const auto* a = arg()) {
                    long long v = 0;
                    if (number(l, label, *a, 0, INT_MAX, &v))
                        (o == "backlog" ? opts.backlog : opts.maxconn) = static_cast<int>(v);
                }
            } else if (o == "name") {
                if (const auto* a = arg())
                    opts.name = *a;
            } else if (const OptionSpec* u = find_option(kUnsupportedBindOptions, o)) {
                error(l.loc, strprintf("bind option '%s' is not supported yet", u->name));
                i += static_cast<size_t>(u->args);
            } else {
                error(l.loc, strprintf("'bind': unknown option '%s'", shown(o).c_str()));
            }
        }
        if (opts.v4v6 && opts.v6only) {
            error(l.loc, "'bind': options 'v4v6' and 'v6only' are mutually exclusive");
            opts.v4v6 = opts.v6only = false;
        }

        std::vector<BindConf> binds;
        std::string_view list = l.w[1];
        size_t pos = 0;
        while (pos <= list.size()) {
            size_t comma = std::min(list.find(',', pos), list.size());
            std::string spec(list.substr(pos, comma - pos));
            pos = comma + 1;
            if (spec.empty()) {
                error(l.loc, strprintf("'bind': empty address in '%s'", shown(list).c_str()));
                continue;
            }
            std::string err;
            auto addr = parse_address(spec, AddrUse::Bind, &err);
            if (!addr) {
                error(l.loc, strprintf("'bind': %s", shown(err).c_str()));
                continue;
            }
            BindConf b = opts;
            b.loc = l.loc;
            b.spec = spec;
            b.addr = *addr;
            if (!unix_opts.empty() && addr->family != AddrFamily::Unix) {
                for (const auto& o : unix_opts)
                    error(l.loc, strprintf("'bind': option '%s' only applies to UNIX socket paths, not to '%s'",
                                           o.c_str(), shown(spec).c_str()));
                continue;
            }
            if ((b.v4v6 || b.v6only) && addr->family != AddrFamily::Inet6) {
                warning(l.loc, strprintf("'bind': option '%s' only applies to IPv6 addresses; ignored for '%s'",
                                         b.v4v6 ? "v4v6" : "v6only", shown(spec).c_str()));
                b.v4v6 = b.v6only = false;
            }
            binds.push_back(std::move(b));
        }
        if (!warn_if_not_cap(l, p, CapFe, "bind"))
            return;
        p.bind_lines = true;
        // Binds with a valid address are kept even when an option was refused (the
        // configuration is rejected anyway), so that duplicates are still reported.
        for (auto& b : binds) {
            std::string id = address_identity(b.addr);
            auto [it, inserted] = bind_addrs_.emplace(id, b.loc);
            if (!inserted) {
                error(l.loc, strprintf("'bind': address '%s' already used by bind at %s", shown(b.spec).c_str(),
                                       loc_str(it->second).c_str()));
                continue;
            }
            p.conf.binds.push_back(std::move(b));
        }
    }

    void kw_server(const Line& l, ProxyState& p) {
        if (!not_in_defaults(l, p))
            return;
        if (!p.conf.is_backend)
            return error(l.loc, strprintf("'server' not allowed because %s '%s' has no backend capability",
                                          proxy_type(p), shown(p.conf.name).c_str()));
        p.server_lines = true;
        if (l.w.size() < 3 || l.w[1].empty() || l.w[2].empty())
            return error(l.loc, "'server' expects <name> and <address> as arguments");
        ServerConf s;
        s.loc = l.loc;
        s.name = l.w[1];
        s.addr_spec = l.w[2];
        check_name(l, "server", s.name);
        std::string err;
        if (auto addr = parse_address(s.addr_spec, AddrUse::Server, &err))
            s.addr = *addr;
        else
            error(l.loc, strprintf("'server %s': %s", shown(s.name).c_str(), shown(err).c_str()));
        for (size_t i = 3; i < l.w.size(); ++i) {
            const std::string& o = l.w[i];
            std::string label = "'server' option '" + o + "'";
            if (o == "weight" || o == "maxconn") {
                if (i + 1 >= l.w.size()) {
                    error(l.loc, strprintf("%s expects a number", label.c_str()));
                    continue;
                }
                long long v = 0;
                if (number(l, label, l.w[++i], 0, o == "weight" ? 256 : INT_MAX, &v))
                    (o == "weight" ? s.weight : s.maxconn) = static_cast<int>(v);
            } else if (o == "pool-max-conn" || o == "pool-low-conn") {
                if (i + 1 >= l.w.size()) {
                    error(l.loc, strprintf("%s expects a number (-1: no limit)", label.c_str()));
                    continue;
                }
                long long v = 0;
                if (number(l, label, l.w[++i], -1, INT_MAX, &v) && o == "pool-max-conn")
                    s.pool_max_conn = static_cast<int>(v);
                // pool-low-conn: accepted (proxyd's idle connections are per worker already)
            } else if (o == "pool-purge-delay") {
                if (i + 1 >= l.w.size()) {
                    error(l.loc, strprintf("%s expects a duration", label.c_str()));
                    continue;
                }
                if (auto d = duration(l, label, l.w[++i]))
                    s.pool_purge_delay = *d;
            } else if (o == "disabled") {
                s.disabled = true;
            } else if (o == "enabled") {
                s.disabled = false;
            } else if (o == "backup") {
                s.backup = true;
            } else if (o == "no-backup") {
                s.backup = false;
            } else if (const OptionSpec* u = find_option(kUnsupportedServerOptions, o)) {
                error(l.loc, strprintf("server option '%s' is not supported yet", u->name));
                i += static_cast<size_t>(u->args);
            } else {
                error(l.loc, strprintf("'server': unknown option '%s'", shown(o).c_str()));
            }
        }
        for (const auto& other : p.conf.servers) {
            if (other.name == s.name) {
                return error(l.loc, strprintf("'server': %s '%s' already has a server named '%s' (declared at %s)",
                                              proxy_type(p), shown(p.conf.name).c_str(), shown(s.name).c_str(),
                                              loc_str(other.loc).c_str()));
            }
        }
        // Kept even after an error (the configuration is rejected anyway), so that a later
        // duplicate name is still reported.
        p.conf.servers.push_back(std::move(s));
    }

    // --- validation ----------------------------------------------------------------------------

    const ProxyState* find_backend_state(const std::string& name) const {
        for (const auto& p : proxies_)
            if (p.conf.is_backend && p.conf.name == name)
                return &p;
        return nullptr;
    }

    void validate() {
        for (const auto& p : proxies_) {
            const ProxyConf& c = p.conf;
            const char* type = proxy_type(p);
            std::string name = shown(c.name);
            if (c.is_frontend) {
                if (!c.default_backend.empty()) {
                    const ProxyState* be = find_backend_state(c.default_backend);
                    if (!be)
                        error(p.default_backend_loc,
                              strprintf("%s '%s': unable to find required default_backend: '%s'", type,
                                        name.c_str(), shown(c.default_backend).c_str()));
                    else if (be == &p)
                        error(p.default_backend_loc,
                              strprintf("%s '%s': loop detected for default_backend: '%s'", type, name.c_str(),
                                        name.c_str()));
                    else if (be->conf.mode != c.mode)
                        error(p.default_backend_loc,
                              strprintf("%s '%s' (mode %s) cannot use default_backend '%s' (mode %s): modes must "
                                        "match", type, name.c_str(), c.mode == ProxyMode::Tcp ? "tcp" : "http",
                                        shown(be->conf.name).c_str(),
                                        be->conf.mode == ProxyMode::Tcp ? "tcp" : "http"));
                } else if (!c.is_backend && c.rules.use_backends.empty()) {
                    // HAProxy accepts it: every connection (tcp) is closed, every request (http)
                    // answered 503.
                    warning(c.loc, strprintf("frontend '%s' has no default_backend and no use_backend rule: %s",
                                             name.c_str(), c.mode == ProxyMode::Http
                                                               ? "requests will be answered with 503"
                                                               : "connections will be closed"));
                }
                if (!p.bind_lines)
                    warning(c.loc, strprintf("%s '%s' has no 'bind' directive: it accepts no connection (declare it "
                                             "as a backend if this was intended)", type, name.c_str()));
            }
            if (c.is_backend && !p.server_lines && !(c.is_frontend && !c.default_backend.empty()))
                warning(c.loc, strprintf("%s '%s' has no server: connections to it will be closed", type,
                                         name.c_str()));
            // HAProxy falls back to round-robin; so does the worker, which has no request to hash.
            BalanceAlgo algo = c.balance.algo;
            if (c.is_backend && c.mode == ProxyMode::Tcp &&
                (algo == BalanceAlgo::Uri || algo == BalanceAlgo::UrlParam || algo == BalanceAlgo::Hdr))
                warning(c.loc, strprintf("%s '%s': layer 7 hash ('balance %s') needs 'mode http': falling back to "
                                         "round-robin", type, name.c_str(),
                                         algo == BalanceAlgo::Uri ? "uri" : algo == BalanceAlgo::UrlParam ? "url_param"
                                                                                                         : "hdr"));
            // HAProxy's rule (cfgparse.c): a frontend needs 'client'; a backend with servers
            // needs 'connect', and 'server' unless a TCP proxy has 'tunnel'.
            const Timeouts& t = c.timeouts;
            bool missing = (c.is_frontend && !t.client) ||
                           (c.is_backend && !c.servers.empty() &&
                            (!t.connect || (!t.server && (c.mode == ProxyMode::Http || !t.tunnel))));
            if (missing)
                warning(c.loc, strprintf("missing timeouts for %s '%s'. While not properly invalid, you will "
                                         "certainly encounter various problems with such a configuration. To fix "
                                         "this, please ensure that all following timeouts are set to a non-zero "
                                         "value: 'client', 'connect', 'server'.", type, name.c_str()));
        }
    }

    const EnvLookup& env_;
    bool check_paths_;
    ParseResult res_;
    std::vector<CondLevel> conds_;         // conditional blocks open in the current file
    std::optional<CondContext> cond_ctx_;  // made for the first condition
    GlobalConf global_;
    std::vector<ProxyState> proxies_;
    std::vector<ProxyState> defaults_;
    Sec sec_ = Sec::None;
    size_t cur_ = 0;
    std::optional<size_t> last_defaults_;
    std::string section_name_;  // for ${.SECTION}
    std::map<std::string, SourceLoc> bind_addrs_;
    std::vector<std::pair<std::string, HttpErrorsSection>> http_errors_;
};

bool read_file(const std::string& path, std::string* out, std::vector<std::string>* errors) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        errors->push_back(strprintf("cannot open configuration file '%s': %s", path.c_str(), std::strerror(errno)));
        return false;
    }
    out->clear();
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            errors->push_back(strprintf("cannot read configuration file '%s': %s", path.c_str(), std::strerror(errno)));
            return false;
        }
        if (n == 0)
            return true;
        out->append(buf, static_cast<size_t>(n));
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string StatsSocketConf::key() const {
    std::string k = "stats:" + addr.to_string();
    if (mode)
        k += strprintf(":mode=%o", static_cast<unsigned>(*mode));
    if (uid)
        k += strprintf(":uid=%u", static_cast<unsigned>(*uid));
    if (gid)
        k += strprintf(":gid=%u", static_cast<unsigned>(*gid));
    return k;
}

std::string BindConf::key() const {
    switch (addr.family) {
    case AddrFamily::Inet4: return "ipv4@" + addr.to_string();
    case AddrFamily::Inet6:
        return "ipv6@" + addr.to_string() + (v4v6 ? " v4v6" : "") + (v6only ? " v6only" : "");
    case AddrFamily::Unix: {
        std::string k = "unix@" + addr.path;
        if (mode)
            k += strprintf(" mode=%04o", static_cast<unsigned>(*mode));
        if (uid)
            k += strprintf(" uid=%u", static_cast<unsigned>(*uid));
        if (gid)
            k += strprintf(" gid=%u", static_cast<unsigned>(*gid));
        return k;
    }
    case AddrFamily::Abstract: return "abns@" + addr.path;
    case AddrFamily::Fd: return "fd@" + std::to_string(addr.inherited_fd);
    }
    return {};
}

const ProxyConf* Config::find_backend(const std::string& name) const {
    for (const auto& p : proxies)
        if (p.is_backend && p.name == name)
            return &p;
    return nullptr;
}

int Config::worker_count() const {
    if (global.nbproc > 0)
        return global.nbproc;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(std::min<long>(n, INT_MAX)) : 1;
}

CondOutcome eval_condition_line(std::string_view text, const CondContext& ctx) {
    const EnvLookup env = ctx.env;
    const VarContext vc{&env, "-cc", 0, ""};
    Tokens t = Tokenizer(text, vc).run();
    CondOutcome out;
    if (!t.error.empty()) {
        out.error = std::move(t.error);
        return out;
    }
    std::string expr;
    for (size_t i = 0; i < t.words.size(); ++i)
        expr += (i ? " " : "") + t.words[i];
    return eval_condition(expr, ctx);
}

ParseResult parse_config(std::span<const ConfigSource> sources, const EnvLookup& env, bool check_paths) {
    Parser p(env, check_paths);
    for (const auto& s : sources)
        p.parse_source(s);
    return p.finish();
}

bool read_config_paths(const std::vector<std::string>& paths, std::vector<ConfigSource>* out,
                       std::vector<std::string>* errors) {
    bool ok = true;
    for (const auto& path : paths) {
        struct stat st{};
        if (::stat(path.c_str(), &st) != 0) {
            errors->push_back(strprintf("cannot open configuration file/directory '%s': %s", path.c_str(),
                                        std::strerror(errno)));
            ok = false;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            ConfigSource src{path, {}};
            if (read_file(path, &src.text, errors))
                out->push_back(std::move(src));
            else
                ok = false;
            continue;
        }
        DIR* dir = ::opendir(path.c_str());
        if (!dir) {
            errors->push_back(strprintf("cannot open configuration directory '%s': %s", path.c_str(),
                                        std::strerror(errno)));
            ok = false;
            continue;
        }
        std::vector<std::string> names;
        errno = 0;
        while (dirent* de = ::readdir(dir)) {
            std::string_view n = de->d_name;
            // As HAProxy: "*.cfg" only, hidden files skipped.
            if (n.empty() || n[0] == '.' || n.size() <= 4 || n.substr(n.size() - 4) != ".cfg")
                continue;
            names.emplace_back(n);
        }
        int read_errno = errno;
        ::closedir(dir);
        if (read_errno != 0) {
            errors->push_back(strprintf("cannot read configuration directory '%s': %s", path.c_str(),
                                        std::strerror(read_errno)));
            ok = false;
            continue;
        }
        std::sort(names.begin(), names.end());
        std::string prefix = path.back() == '/' ? path : path + "/";
        for (const auto& n : names) {
            std::string file = prefix + n;
            struct stat fst{};
            if (::stat(file.c_str(), &fst) != 0) {
                errors->push_back(strprintf("cannot open configuration file '%s': %s", file.c_str(),
                                            std::strerror(errno)));
                ok = false;
                continue;
            }
            if (!S_ISREG(fst.st_mode))
                continue;  // never recurse: subdirectories and devices are skipped
            ConfigSource src{file, {}};
            if (read_file(file, &src.text, errors))
                out->push_back(std::move(src));
            else
                ok = false;
        }
    }
    return ok;
}

std::optional<uint64_t> parse_duration_ms(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && is_digit(s[i]))
        ++i;
    if (i == 0)
        return std::nullopt;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + i, v);
    if (ec != std::errc() || p != s.data() + i)
        return std::nullopt;
    std::string_view unit = s.substr(i);
    if (unit.empty() || unit == "ms")
        return v;
    if (unit == "us")
        return v == 0 ? 0 : (v - 1) / 1000 + 1;  // rounded up: 1us..1000us is 1 ms
    uint64_t mul = 0;
    if (unit == "s")
        mul = 1000;
    else if (unit == "m")
        mul = 60 * 1000;
    else if (unit == "h")
        mul = 3600 * 1000;
    else if (unit == "d")
        mul = 86400 * 1000;
    else
        return std::nullopt;
    if (v > UINT64_MAX / mul)
        return std::nullopt;
    return v * mul;
}

}  // namespace proxyd::common
