#include "common/cond_expr.h"

#include <openssl/crypto.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/log.h"

namespace proxyd::common {

namespace {

// User text inside a message, control characters escaped: an error is always one line.
std::string shown(std::string_view s) {
    std::string out;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f)
            out += strprintf("\\x%02x", c);
        else
            out.push_back(ch);
    }
    return out;
}

// strtol() on a string_view: the value and how many characters it used (0: no number).
long read_long(std::string_view s, int base, size_t* used) {
    // Only what strtol could use (so a long expression is not copied for every term).
    size_t n = 0;
    while (n < s.size() && (std::isalnum(static_cast<unsigned char>(s[n])) || s[n] == '+' || s[n] == '-' ||
                            std::isspace(static_cast<unsigned char>(s[n]))))
        ++n;
    std::string copy(s.substr(0, n));
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(copy.c_str(), &end, base);
    *used = static_cast<size_t>(end - copy.c_str());
    return v;
}

// HAProxy's split_version(): "1.2.3.4-dev5-g123-6" into {1,2,3,4, tag,5, 6} where the tag is
// dev=1, rc/pre=2, release=3; missing numbers are 0 ("2.6" == "2.6.0"). nullopt: unparsable.
using Version = std::array<long, 7>;
std::optional<Version> split_version(std::string_view s) {
    Version v{0, 0, 0, 0, 3, 0, 0};
    if (s.empty())
        return std::nullopt;
    size_t p = 0, used = 0;
    auto at = [&](size_t i) { return i < s.size() ? s[i] : '\0'; };
    bool tag = false;
    for (int i = 0; i < 4; ++i) {
        v[static_cast<size_t>(i)] = read_long(s.substr(p), 10, &used);
        size_t e = p + used;
        if (at(e) == '\0')
            return v;
        p = e + 1;
        if (at(e) == '-') {
            tag = true;
            break;
        }
        if (at(e) != '.' || i == 3)
            return std::nullopt;
    }
    if (!tag)
        return std::nullopt;
    std::string_view rest = s.substr(p);
    if (!(at(p) >= '0' && at(p) <= '9')) {
        int kind = rest.starts_with("dev") ? 1 : (rest.starts_with("rc") || rest.starts_with("pre")) ? 2 : 0;
        if (kind) {
            v[4] = kind;
            size_t skip = rest.starts_with("rc") ? 2 : 3;
            v[5] = read_long(rest.substr(skip), 10, &used);
            size_t e = skip + used;
            if (e >= rest.size())
                return v;
            if (rest[e] != '-')
                return std::nullopt;
            rest = rest.substr(e + 1);
        }
    }
    // The commit count: the number after the last '-' (a hash such as "g1234" counts 0).
    size_t dash = rest.rfind('-');
    if (dash != std::string_view::npos) {
        rest = rest.substr(dash + 1);
        if (rest.empty())
            return std::nullopt;
    }
    long n = read_long(rest, 10, &used);
    v[6] = used == rest.size() ? n : 0;
    return v;
}

// An OpenSSL version "3.0.11", "1.1.1k", "3.0.0-beta2" as {major, minor, fix, letters, status}
// (status: release 15, betaN N, any other pre-release 0), compared as a tuple.
using SslVersion = std::array<long, 5>;
std::optional<SslVersion> split_ssl_version(std::string_view s) {
    SslVersion v{0, 0, 0, 0, 15};
    size_t p = 0, used = 0;
    for (size_t i = 0; i < 3; ++i) {
        if (p >= s.size() || s[p] < '0' || s[p] > '9')
            return std::nullopt;
        v[i] = read_long(s.substr(p), 10, &used);
        p += used;
        if (i < 2) {
            if (p >= s.size() || s[p] != '.')
                return std::nullopt;
            ++p;
        }
    }
    std::string_view rest = s.substr(p);
    if (rest.empty())
        return v;
    if (rest[0] == '-') {
        rest.remove_prefix(1);
        v[4] = 0;
        if (rest.starts_with("beta")) {
            v[4] = read_long(rest.substr(4), 10, &used);
            if (v[4] < 0 || v[4] > 14)
                return std::nullopt;
        }
        return v;
    }
    for (char c : rest) {  // "1.1.1k": letters count up from 'a' = 1
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return std::nullopt;
        v[3] = v[3] * 26 + ((c | 0x20) - 'a' + 1);
    }
    return v;
}

enum class Pred {
    Defined, Feature, StrEq, StrNeq, VersionAtLeast, VersionBefore, SslAtLeast, SslBefore, SslName, Enabled
};
struct PredSpec {
    std::string_view name;
    Pred pred;
    size_t args;
};
constexpr PredSpec kPredicates[] = {
    {"defined", Pred::Defined, 1},
    {"feature", Pred::Feature, 1},
    {"streq", Pred::StrEq, 2},
    {"strneq", Pred::StrNeq, 2},
    {"version_atleast", Pred::VersionAtLeast, 1},
    {"version_before", Pred::VersionBefore, 1},
    {"openssl_version_atleast", Pred::SslAtLeast, 1},
    {"openssl_version_before", Pred::SslBefore, 1},
    {"ssllib_name_startswith", Pred::SslName, 1},
    {"enabled", Pred::Enabled, 1},
};

// Deeper than this many parentheses is refused (HAProxy bounds its recursion too).
constexpr int kMaxDepth = 100;

bool has_feature(std::string_view list, std::string_view name) {
    size_t p = 0;
    while (p < list.size()) {
        size_t e = list.find(' ', p);
        std::string_view w = list.substr(p, e == std::string_view::npos ? std::string_view::npos : e - p);
        if (w.size() == name.size() + 1 && w.substr(1) == name)
            return w[0] == '+';
        if (e == std::string_view::npos)
            break;
        p = e + 1;
    }
    return false;
}

class CondParser {
public:
    CondParser(std::string_view in, const CondContext& ctx) : in_(in), ctx_(ctx) {}

    CondOutcome run() {
        CondOutcome out;
        if (in_.empty())
            return out;  // an empty condition is false
        bool v = false;
        if (expr(0, &v)) {
            skip_blanks();
            if (i_ < in_.size())
                fail(i_, strprintf("unexpected character '%s' at the end of conditional expression '%s'",
                                   shown(in_.substr(i_, 1)).c_str(), all().c_str()));
        }
        if (!err_.empty()) {
            out.error = std::move(err_);
            out.error_pos = err_pos_;
            return out;
        }
        out.value = v;
        return out;
    }

private:
    bool fail(size_t pos, std::string msg) {
        if (err_.empty()) {
            err_ = std::move(msg);
            err_pos_ = pos;
        }
        return false;
    }
    void skip_blanks() {
        while (i_ < in_.size() && (in_[i_] == ' ' || in_[i_] == '\t'))
            ++i_;
    }
    bool at(std::string_view op) const { return in_.substr(i_, op.size()) == op; }
    std::string rest(size_t from) const { return shown(in_.substr(from)); }
    std::string all() const { return shown(in_); }

    // Every term is evaluated, even after the value is known: predicates have no side
    // effects and every error is a parse error, so short-circuiting would change nothing.
    bool expr(int depth, bool* v) {
        bool acc = false;
        for (;;) {
            bool t = false;
            if (!and_expr(depth, &t))
                return false;
            acc = acc || t;
            skip_blanks();
            if (!at("||"))
                break;
            i_ += 2;
        }
        *v = acc;
        return true;
    }

    bool and_expr(int depth, bool* v) {
        bool acc = true;
        for (;;) {
            bool t = false;
            if (!term(depth, &t))
                return false;
            acc = acc && t;
            skip_blanks();
            if (!at("&&"))
                break;
            i_ += 2;
        }
        *v = acc;
        return true;
    }

    bool term(int depth, bool* v) {
        skip_blanks();
        size_t start = i_;
        if (i_ >= in_.size())
            return fail(i_, strprintf("missing term at the end of conditional expression '%s'", all().c_str()));
        bool neg = false;
        while (i_ < in_.size() && in_[i_] == '!') {
            neg = !neg;
            ++i_;
            skip_blanks();
        }
        bool val = false;
        size_t used = 0;
        long n = read_long(in_.substr(i_), 0, &used);
        if (used > 0) {
            i_ += used;
            val = n != 0;
        } else if (i_ < in_.size() && in_[i_] == '(') {
            if (depth >= kMaxDepth)
                return fail(i_, strprintf("conditional expression nested deeper than %d parentheses", kMaxDepth));
            ++i_;
            if (!expr(depth + 1, &val))
                return false;
            skip_blanks();
            if (i_ >= in_.size() || in_[i_] != ')')
                return fail(i_, strprintf("expected ')' after conditional expression '%s'", rest(start).c_str()));
            ++i_;
            skip_blanks();
        } else if (!predicate(start, &val)) {
            return false;
        }
        *v = neg ? !val : val;
        return true;
    }

    // NAME(ARG[,ARG]): the name ends at a space or '(' (so "defined (X)" lacks its arguments).
    bool predicate(size_t start, bool* v) {
        size_t e = in_.find_first_of(" (", i_);
        std::string_view name = in_.substr(i_, e == std::string_view::npos ? std::string_view::npos : e - i_);
        const PredSpec* spec = nullptr;
        for (const auto& p : kPredicates)
            if (p.name == name)
                spec = &p;
        if (!spec)
            return fail(start, strprintf("unparsable conditional expression '%s'", rest(start).c_str()));
        i_ += name.size();
        std::vector<std::string> args;
        std::string why;
        if (!arguments(spec->args, &args, &why))
            return fail(i_, strprintf("%s in argument %zu of predicate '%s' used in conditional expression",
                                      why.c_str(), std::max<size_t>(1, args.size()),
                                      std::string(spec->name).c_str()));
        return evaluate(*spec, args, start, v);
    }

    // HAProxy's make_arg_list() for string arguments: "(" then up to `want` arguments separated
    // by ',', each verbatim except for '...' and "..." quoting and \\ \' \" \space \r \n \t.
    bool arguments(size_t want, std::vector<std::string>* out, std::string* why) {
        if (i_ >= in_.size() || in_[i_] != '(') {
            *why = strprintf("missing arguments (got 0/%zu), type 'string' expected", want);
            return false;
        }
        ++i_;
        while (out->size() < want) {
            std::string arg;
            bool sq = false, dq = false;
            while (i_ < in_.size()) {
                char c = in_[i_];
                if (c == '"' && !sq) {
                    dq = !dq;
                    ++i_;
                } else if (c == '\'' && !dq) {
                    sq = !sq;
                    ++i_;
                } else if (c == '\\' && !sq && i_ + 1 < in_.size()) {
                    char n = in_[i_ + 1];
                    if (n == '\\' || n == ' ' || n == '"' || n == '\'') {
                        arg.push_back(n);
                        i_ += 2;
                    } else if (n == 'r' || n == 'n' || n == 't') {
                        arg.push_back(n == 'r' ? '\r' : n == 'n' ? '\n' : '\t');
                        i_ += 2;
                    } else {
                        arg.push_back('\\');  // a lone backslash
                        ++i_;
                    }
                } else if (!sq && !dq && (c == ',' || c == ')')) {
                    break;
                } else {
                    arg.push_back(c);
                    ++i_;
                }
            }
            out->push_back(std::move(arg));
            if (i_ >= in_.size() || in_[i_] == ')' || out->size() >= want)
                break;
            ++i_;  // the comma
        }
        if (out->size() < want) {
            *why = strprintf("missing arguments (got %zu/%zu), type 'string' expected", out->size(), want);
            return false;
        }
        if (i_ < in_.size() && in_[i_] == ')') {
            ++i_;
            return true;
        }
        *why = i_ < in_.size() ? strprintf("expected ')' before '%s'", rest(i_).c_str()) : "expected ')'";
        return false;
    }

    bool evaluate(const PredSpec& spec, const std::vector<std::string>& a, size_t start, bool* v) {
        switch (spec.pred) {
        case Pred::Defined:
            if (ctx_.env)
                *v = ctx_.env(a[0]).has_value();
            else
                *v = std::getenv(a[0].c_str()) != nullptr;
            return true;
        case Pred::Feature: *v = !a[0].empty() && has_feature(ctx_.features, a[0]); return true;
        case Pred::StrEq: *v = a[0] == a[1]; return true;
        case Pred::StrNeq: *v = a[0] != a[1]; return true;
        case Pred::VersionAtLeast:
        case Pred::VersionBefore: {
            auto want = split_version(a[0]);
            auto have = split_version(ctx_.version);
            if (!want || !have)
                return fail(start, strprintf("invalid version '%s' in predicate '%s' (expected e.g. 2.6, 2.5-dev3, "
                                             "2.4.1)", shown(a[0]).c_str(), std::string(spec.name).c_str()));
            *v = spec.pred == Pred::VersionAtLeast ? *have >= *want : *have < *want;
            return true;
        }
        case Pred::SslAtLeast:
        case Pred::SslBefore: {
            auto want = split_ssl_version(a[0]);
            if (!want)
                return fail(start, strprintf("invalid OpenSSL version '%s' in predicate '%s' (expected e.g. 1.1.1, "
                                             "3.0.0-beta2)", shown(a[0]).c_str(), std::string(spec.name).c_str()));
            auto have = split_ssl_version(ctx_.ssllib_version);
            if (!have)
                return fail(start, strprintf("predicate '%s': no usable SSL library version",
                                             std::string(spec.name).c_str()));
            *v = spec.pred == Pred::SslAtLeast ? *have >= *want : *have < *want;
            return true;
        }
        case Pred::SslName: *v = std::string_view(ctx_.ssllib_name).starts_with(a[0]); return true;
        case Pred::Enabled: *v = ctx_.enabled && ctx_.enabled(a[0]); return true;
        }
        return false;
    }

    std::string_view in_;
    const CondContext& ctx_;
    size_t i_ = 0;
    std::string err_;
    size_t err_pos_ = 0;
};

}  // namespace

CondOutcome eval_condition(std::string_view expr, const CondContext& ctx) {
    if (expr.find('\0') != std::string_view::npos) {
        CondOutcome o;
        o.error = "NUL character in conditional expression";
        o.error_pos = expr.find('\0');
        return o;
    }
    return CondParser(expr, ctx).run();
}

std::string build_features() {
    uint32_t jit = 0;
    pcre2_config(PCRE2_CONFIG_JIT, &jit);
    return strprintf("+EPOLL +LINUX_SPLICE +OPENSSL +PCRE2 %cPCRE2_JIT +LINUX_CAP %cSYSTEMD +MEMFD +CLOEXEC -THREAD "
                     "-LUA -ZLIB -QUIC -PROMEX",
                     jit ? '+' : '-', PROXYD_FEATURE_SYSTEMD ? '+' : '-');
}

bool enabled_option(std::string_view opt, bool noreuseport) {
    // The worker polls with epoll only, splices bulk transfers (it cannot be turned off),
    // resolves names with getaddrinfo(), and relays bytes connection to connection with no
    // stream layer between them (what HAProxy calls fast-forwarding). No server-side TLS.
    if (opt == "EPOLL" || opt == "SPLICE" || opt == "GETADDRINFO" || opt == "FAST-FORWARD")
        return true;
    if (opt == "REUSEPORT")
        return !noreuseport;
    return false;
}

CondContext default_cond_context(std::function<std::optional<std::string>(const std::string&)> env) {
    CondContext c;
    c.env = std::move(env);
    c.features = build_features();
    c.ssllib_name = OpenSSL_version(OPENSSL_VERSION);
    c.ssllib_version = OpenSSL_version(OPENSSL_VERSION_STRING);
    c.enabled = [](std::string_view opt) { return enabled_option(opt, false); };
    return c;
}

}  // namespace proxyd::common
