#include "common/acl.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/http_head.h"

namespace proxyd::common {

// ---------------------------------------------------------------------------------------------
// Regex

struct Regex::Impl {
    pcre2_code* code = nullptr;
    pcre2_match_data* md = nullptr;
    ~Impl() {
        if (md)
            pcre2_match_data_free(md);
        if (code)
            pcre2_code_free(code);
    }
};

Regex::~Regex() = default;

std::shared_ptr<const Regex> Regex::compile(std::string_view pattern, bool icase, std::string* err) {
    int ec = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     icase ? PCRE2_CASELESS : 0, &ec, &off, nullptr);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        *err = "invalid regex '" + std::string(pattern) + "': " + reinterpret_cast<const char*>(msg) +
               " at offset " + std::to_string(off);
        return nullptr;
    }
    // Without a JIT (unsupported CPU, SELinux execmem), pcre2_match interprets: still correct.
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    std::shared_ptr<Regex> r(new Regex());
    r->impl_ = std::make_unique<Impl>();
    r->impl_->code = code;
    r->impl_->md = pcre2_match_data_create_from_pattern(code, nullptr);
    if (!r->impl_->md)
        throw std::bad_alloc();
    r->pattern_ = std::string(pattern);
    return r;
}

namespace {
PCRE2_SPTR subject_ptr(std::string_view s) {
    // PCRE2 before 10.43 refuses a null subject even with length 0.
    return reinterpret_cast<PCRE2_SPTR>(s.data() ? s.data() : "");
}
}  // namespace

bool Regex::match(std::string_view subject) const {
    return pcre2_match(impl_->code, subject_ptr(subject), subject.size(), 0, 0, impl_->md, nullptr) >= 0;
}

bool Regex::replace(std::string_view subject, std::string_view repl, std::string* out) const {
    int rc = pcre2_match(impl_->code, subject_ptr(subject), subject.size(), 0, 0, impl_->md, nullptr);
    if (rc < 0)
        return false;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(impl_->md);
    uint32_t pairs = pcre2_get_ovector_count(impl_->md);
    for (size_t i = 0; i < repl.size(); ++i) {
        char c = repl[i];
        if (c == '\\' && i + 1 < repl.size() && repl[i + 1] >= '0' && repl[i + 1] <= '9') {
            uint32_t g = static_cast<uint32_t>(repl[++i] - '0');
            if (g < pairs && static_cast<int>(g) < rc && ov[2 * g] != PCRE2_UNSET)
                out->append(subject.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]));
            continue;
        }
        out->push_back(c);
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Networks

bool parse_ip_net(std::string_view text, IpNet* out) {
    std::string_view addr = text, mask;
    if (size_t slash = text.find('/'); slash != std::string_view::npos) {
        addr = text.substr(0, slash);
        mask = text.substr(slash + 1);
        if (mask.empty())
            return false;
    }
    char buf[INET6_ADDRSTRLEN + 1];
    if (addr.empty() || addr.size() >= sizeof buf)
        return false;
    std::memcpy(buf, addr.data(), addr.size());
    buf[addr.size()] = 0;
    IpNet n;
    int max = 0;
    if (inet_pton(AF_INET, buf, n.addr) == 1) {
        n.family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, n.addr) == 1) {
        n.family = AF_INET6;
        max = 128;
    } else {
        return false;
    }
    n.prefix = max;
    if (!mask.empty()) {
        int bits = 0;
        auto r = std::from_chars(mask.data(), mask.data() + mask.size(), bits);
        if (r.ec == std::errc() && r.ptr == mask.data() + mask.size()) {
            if (bits < 0 || bits > max)
                return false;
            n.prefix = bits;
        } else if (n.family == AF_INET) {
            // Dotted mask: must be contiguous ones.
            std::string m(mask);
            in_addr ma{};
            if (inet_pton(AF_INET, m.c_str(), &ma) != 1)
                return false;
            uint32_t v = ntohl(ma.s_addr);
            int ones = 0;
            while (ones < 32 && (v & (0x80000000u >> ones)))
                ++ones;
            if (ones < 32 && (v << ones) != 0)
                return false;
            n.prefix = ones;
        } else {
            return false;
        }
    }
    int bytes = max / 8;
    for (int i = 0; i < bytes; ++i) {
        int keep = n.prefix - i * 8;
        unsigned char m = keep >= 8 ? 0xff : keep <= 0 ? 0 : static_cast<unsigned char>(0xff << (8 - keep));
        n.addr[i] &= m;
    }
    *out = n;
    return true;
}

namespace {
bool prefix_equal(const unsigned char* a, const unsigned char* net, int prefix) {
    int full = prefix / 8;
    if (std::memcmp(a, net, static_cast<size_t>(full)) != 0)
        return false;
    int rest = prefix % 8;
    if (rest == 0)
        return true;
    unsigned char m = static_cast<unsigned char>(0xff << (8 - rest));
    return (a[full] & m) == net[full];
}

constexpr unsigned char kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

bool ip_net_contains(const IpNet& net, const sockaddr_storage& a) {
    unsigned char buf[16];
    const unsigned char* bytes = nullptr;
    int fam = a.ss_family;
    if (fam == AF_INET) {
        bytes = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(&a)->sin_addr);
    } else if (fam == AF_INET6) {
        bytes = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr);
    } else {
        return false;
    }
    if (fam == net.family)
        return prefix_equal(bytes, net.addr, net.prefix);
    if (fam == AF_INET6 && net.family == AF_INET) {
        if (std::memcmp(bytes, kV4Mapped, 12) != 0)
            return false;
        return prefix_equal(bytes + 12, net.addr, net.prefix);
    }
    // IPv4 address against an IPv6 network: compare as ::ffff:a.b.c.d.
    std::memcpy(buf, kV4Mapped, 12);
    std::memcpy(buf + 12, bytes, 4);
    return prefix_equal(buf, net.addr, net.prefix);
}

// ---------------------------------------------------------------------------------------------
// Pattern files

bool read_pattern_file(const std::string& path, std::vector<std::string>* out, std::string* err) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = "cannot open pattern file '" + path + "': " + std::strerror(errno);
        return false;
    }
    std::string text;
    char buf[8192];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *err = "cannot read pattern file '" + path + "': " + std::strerror(errno);
            ::close(fd);
            return false;
        }
        if (n == 0)
            break;
        text.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
            line.remove_suffix(1);
        if (line.empty() || line.front() == '#')
            continue;
        out->emplace_back(line);
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// ACL expressions

namespace {

using T = SampleValue::Type;

struct MethodName {
    const char* name;
    MatchMethod m;
};
constexpr MethodName kMethods[] = {
    {"found", MatchMethod::Found}, {"bool", MatchMethod::Bool}, {"int", MatchMethod::Int},
    {"ip", MatchMethod::Ip},       {"str", MatchMethod::Str},   {"beg", MatchMethod::Beg},
    {"end", MatchMethod::End},     {"sub", MatchMethod::Sub},   {"reg", MatchMethod::Reg},
    {"dir", MatchMethod::Dir},     {"dom", MatchMethod::Dom},   {"len", MatchMethod::Len},
};

// ACL keywords derived from a fetch by a suffix (path_beg = path -m beg).
constexpr const char* kDerivable[] = {"path", "url", "hdr", "base", "urlp", "url_param", "shdr", "req.hdr", "res.hdr"};
constexpr MethodName kSuffixes[] = {
    {"_beg", MatchMethod::Beg}, {"_end", MatchMethod::End}, {"_sub", MatchMethod::Sub},
    {"_reg", MatchMethod::Reg}, {"_dir", MatchMethod::Dir}, {"_dom", MatchMethod::Dom},
    {"_len", MatchMethod::Len},
};

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

std::string to_lower(std::string_view s) {
    std::string r(s);
    for (char& c : r)
        c = lower(c);
    return r;
}

bool eq_at(std::string_view s, size_t at, std::string_view pat, bool icase) {
    if (at + pat.size() > s.size())
        return false;
    if (!icase)
        return s.compare(at, pat.size(), pat) == 0;
    for (size_t i = 0; i < pat.size(); ++i)
        if (lower(s[at + i]) != pat[i])  // patterns are stored in lower case with -i
            return false;
    return true;
}

size_t find_from(std::string_view s, std::string_view pat, size_t from, bool icase) {
    if (pat.size() > s.size())
        return std::string_view::npos;
    for (size_t i = from; i + pat.size() <= s.size(); ++i)
        if (eq_at(s, i, pat, icase))
            return i;
    return std::string_view::npos;
}

// HAProxy's match_word(): `pat` (its own leading/trailing delimiters ignored) found in `s`
// between delimiters or the ends of `s`.
bool match_word(std::string_view s, std::string_view pat, std::string_view delims, bool icase) {
    while (!pat.empty() && delims.find(pat.front()) != std::string_view::npos)
        pat.remove_prefix(1);
    while (!pat.empty() && delims.find(pat.back()) != std::string_view::npos)
        pat.remove_suffix(1);
    if (pat.empty())
        return false;
    size_t at = 0;
    while ((at = find_from(s, pat, at, icase)) != std::string_view::npos) {
        bool before = at == 0 || delims.find(s[at - 1]) != std::string_view::npos;
        size_t end = at + pat.size();
        bool after = end == s.size() || delims.find(s[end]) != std::string_view::npos;
        if (before && after)
            return true;
        ++at;
    }
    return false;
}

bool strict_int(std::string_view s, int64_t* v) {
    if (s.empty())
        return false;
    const char* b = s.data();
    if (*b == '+')
        ++b;
    auto r = std::from_chars(b, s.data() + s.size(), *v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_int_pattern(std::string_view s, IntRange* r) {
    size_t colon = s.find(':');
    if (colon == std::string_view::npos) {
        int64_t v = 0;
        if (!strict_int(s, &v))
            return false;
        r->lo = r->hi = v;
        return true;
    }
    std::string_view a = s.substr(0, colon), b = s.substr(colon + 1);
    if (a.empty() && b.empty())
        return false;
    IntRange out;
    if (!a.empty() && !strict_int(a, &out.lo))
        return false;
    if (!b.empty() && !strict_int(b, &out.hi))
        return false;
    *r = out;
    return true;
}

thread_local std::string t_str;

bool in_ranges(const std::vector<IntRange>& rs, int64_t v) {
    for (const auto& r : rs)
        if (v >= r.lo && v <= r.hi)
            return true;
    return false;
}

bool match_value(const AclExpr& e, const SampleValue& v) {
    switch (e.method) {
    case MatchMethod::Found: return true;
    case MatchMethod::Bool: return (v.type == T::Bool || v.type == T::Int) && v.i != 0;
    case MatchMethod::Int: {
        int64_t x = 0;
        if (v.type == T::Int || v.type == T::Bool)
            x = v.i;
        else if (v.type != T::Str || !strict_int(v.str, &x))
            return false;
        return in_ranges(e.ints, x);
    }
    case MatchMethod::Ip: {
        const sockaddr_storage* a = &v.ip;
        SampleValue tmp;
        if (v.type == T::Str) {
            IpNet n;
            if (!parse_ip_net(v.str, &n) || n.prefix != (n.family == AF_INET ? 32 : 128))
                return false;
            tmp.ip.ss_family = static_cast<sa_family_t>(n.family);
            if (n.family == AF_INET)
                std::memcpy(&reinterpret_cast<sockaddr_in*>(&tmp.ip)->sin_addr, n.addr, 4);
            else
                std::memcpy(&reinterpret_cast<sockaddr_in6*>(&tmp.ip)->sin6_addr, n.addr, 16);
            a = &tmp.ip;
        } else if (v.type != T::Ip) {
            return false;
        }
        for (const auto& n : e.nets)
            if (ip_net_contains(n, *a))
                return true;
        return false;
    }
    default: break;
    }
    std::string_view s = v.str;
    if (v.type != T::Str) {
        t_str.clear();
        sample_to_string(v, &t_str);
        s = t_str;
    }
    switch (e.method) {
    case MatchMethod::Len: return in_ranges(e.ints, static_cast<int64_t>(s.size()));
    case MatchMethod::Reg:
        for (const auto& r : e.regs)
            if (r->match(s))
                return true;
        return false;
    default: break;
    }
    for (const auto& p : e.strs) {
        switch (e.method) {
        case MatchMethod::Str:
            if (s.size() == p.size() && eq_at(s, 0, p, e.icase))
                return true;
            break;
        case MatchMethod::Beg:
            if (eq_at(s, 0, p, e.icase))
                return true;
            break;
        case MatchMethod::End:
            if (s.size() >= p.size() && eq_at(s, s.size() - p.size(), p, e.icase))
                return true;
            break;
        case MatchMethod::Sub:
            if (find_from(s, p, 0, e.icase) != std::string_view::npos)
                return true;
            break;
        case MatchMethod::Dir:
            if (match_word(s, p, "/?", e.icase))
                return true;
            break;
        case MatchMethod::Dom:
            if (match_word(s, p, "/?.:", e.icase))
                return true;
            break;
        default: break;
        }
    }
    return false;
}

// Splits "name(args),conv" into the keyword name and the rest.
std::string_view keyword_of(std::string_view crit) { return crit.substr(0, crit.find_first_of("(,")); }

}  // namespace

std::shared_ptr<const AclExpr> parse_acl_expr(std::span<const std::string> words, std::string* err,
                                              std::string* warn) {
    if (words.empty() || words[0].empty()) {
        *err = "missing criterion";
        return nullptr;
    }
    auto e = std::make_shared<AclExpr>();
    e->criterion = words[0];
    std::string ferr;
    e->fetch = parse_sample_expr(words[0], &ferr);
    bool derived = false;
    if (!e->fetch) {
        // path_beg(…) = path(…) -m beg
        std::string_view kw = keyword_of(words[0]);
        for (const auto& sfx : kSuffixes) {
            std::string_view s(sfx.name);
            if (kw.size() <= s.size() || kw.substr(kw.size() - s.size()) != s)
                continue;
            std::string_view base = kw.substr(0, kw.size() - s.size());
            bool ok = false;
            for (const char* d : kDerivable)
                ok |= base == d;
            if (!ok)
                continue;
            std::string text = std::string(base) + words[0].substr(kw.size());
            std::string derr;
            e->fetch = parse_sample_expr(text, &derr);
            if (!e->fetch) {
                *err = derr;
                return nullptr;
            }
            e->method = sfx.m;
            derived = true;
            break;
        }
        if (!e->fetch) {
            if (ferr.rfind("unknown fetch method", 0) == 0)
                *err = "unknown criterion '" + std::string(kw) + "'";
            else
                *err = ferr;
            return nullptr;
        }
    }
    if (!derived) {
        switch (sample_type(*e->fetch)) {
        case T::Int: e->method = MatchMethod::Int; break;
        case T::Ip: e->method = MatchMethod::Ip; break;
        case T::Bool: e->method = MatchMethod::Bool; break;
        default: e->method = MatchMethod::Str; break;
        }
    }
    std::vector<std::string> values;
    size_t i = 1;
    std::vector<std::string> files;
    bool dashdash = false;
    for (; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w.empty() || w[0] != '-')
            break;
        if (w == "--") {
            dashdash = true;
            ++i;
            break;
        }
        if (w == "-i") {
            e->icase = true;
        } else if (w == "-n") {
            // No DNS resolution: proxyd never resolves patterns anyway.
        } else if (w == "-m" || w == "-f") {
            if (i + 1 >= words.size()) {
                *err = "'" + w + "' expects an argument";
                return nullptr;
            }
            const std::string& arg = words[++i];
            if (w == "-f") {
                files.push_back(arg);
                continue;
            }
            bool found = false;
            for (const auto& m : kMethods) {
                if (arg == m.name) {
                    e->method = m.m;
                    found = true;
                }
            }
            if (!found) {
                bool known = arg == "bin" || arg == "ulong" || arg == "sub";
                *err = known ? "'-m " + arg + "' is not supported yet"
                             : "unknown matching method '" + arg + "' (expects found, bool, int, ip, str, beg, "
                                                                   "end, sub, reg, dir, dom or len)";
                return nullptr;
            }
        } else if (w == "-u" || w == "-M") {
            *err = "flag '" + w + "' is not supported yet";
            return nullptr;
        } else if (w.size() > 1 && w[1] >= '0' && w[1] <= '9') {
            break;  // not a flag: a negative integer pattern
        } else {
            *err = "unknown flag '" + w + "' (expects -i, -n, -m <method>, -f <file> or --)";
            return nullptr;
        }
    }
    for (; i < words.size(); ++i)
        values.push_back(words[i]);
    // Type compatibility of the matching method with the fetch.
    T type = sample_type(*e->fetch);
    if (e->method == MatchMethod::Bool && (type == T::Str || type == T::Ip)) {
        *err = "matching method 'bool' cannot be used with fetch method '" + sample_fetch_name(*e->fetch) + "'";
        return nullptr;
    }
    if (e->method == MatchMethod::Ip && (type == T::Int || type == T::Bool)) {
        *err = "matching method 'ip' cannot be used with fetch method '" + sample_fetch_name(*e->fetch) + "'";
        return nullptr;
    }
    for (const auto& f : files) {
        std::string ferr2;
        if (!read_pattern_file(f, &values, &ferr2)) {
            *err = ferr2;
            return nullptr;
        }
    }
    if ((e->method == MatchMethod::Found || e->method == MatchMethod::Bool) && !values.empty()) {
        *err = std::string("matching method '") + (e->method == MatchMethod::Found ? "found" : "bool") +
               "' takes no pattern, but got '" + values[0] + "'";
        return nullptr;
    }
    // Operators (eq ge gt le lt) apply to the integer that follows.
    for (size_t v = 0; v < values.size(); ++v) {
        const std::string& p = values[v];
        switch (e->method) {
        case MatchMethod::Found:
        case MatchMethod::Bool: break;
        case MatchMethod::Int:
        case MatchMethod::Len: {
            IntRange r;
            if (p == "eq" || p == "ge" || p == "gt" || p == "le" || p == "lt") {
                if (v + 1 >= values.size()) {
                    *err = "missing value after operator '" + p + "'";
                    return nullptr;
                }
                int64_t n = 0;
                if (!strict_int(values[v + 1], &n)) {
                    *err = "'" + values[v + 1] + "' is not a valid integer after operator '" + p + "'";
                    return nullptr;
                }
                ++v;
                if (p == "eq")
                    r.lo = r.hi = n;
                else if (p == "ge")
                    r.lo = n;
                else if (p == "gt")
                    r.lo = n == INT64_MAX ? n : n + 1;
                else if (p == "le")
                    r.hi = n;
                else
                    r.hi = n == INT64_MIN ? n : n - 1;
            } else if (!parse_int_pattern(p, &r)) {
                *err = "'" + p + "' is not a valid integer or range (N, N:M, N:, :M, or eq|ge|gt|le|lt N)";
                return nullptr;
            }
            e->ints.push_back(r);
            break;
        }
        case MatchMethod::Ip: {
            IpNet n;
            if (!parse_ip_net(p, &n)) {
                *err = "'" + p + "' is not a valid IPv4 or IPv6 address or network";
                return nullptr;
            }
            e->nets.push_back(n);
            break;
        }
        case MatchMethod::Reg: {
            std::string rerr;
            auto r = Regex::compile(p, e->icase, &rerr);
            if (!r) {
                *err = rerr;
                return nullptr;
            }
            e->regs.push_back(std::move(r));
            break;
        }
        default: e->strs.push_back(e->icase ? to_lower(p) : p); break;
        }
    }
    bool needs_patterns = e->method != MatchMethod::Found && e->method != MatchMethod::Bool;
    if (needs_patterns && values.empty() && !dashdash && warn)
        *warn = "no pattern to match against were provided, so this ACL will never match. If this is what you "
                "intended, please add '--' to get rid of this warning. If you intended to match only for "
                "existence, please use '-m found'.";
    return e;
}

namespace {
struct MatchCtx {
    const AclExpr* e;
};
bool visit(void* ctx, const SampleValue& v) { return match_value(*static_cast<MatchCtx*>(ctx)->e, v); }
}  // namespace

bool acl_expr_match(const AclExpr& e, const StreamInfo& s, SampleDir dir) {
    // Evaluations do not nest, so one scratch value per thread keeps its buffer across requests.
    thread_local SampleValue scratch;
    MatchCtx ctx{&e};
    return eval_sample_each(*e.fetch, s, dir, &scratch, visit, &ctx);
}

bool acl_match(const Acl& a, const StreamInfo& s, SampleDir dir) {
    for (const auto& e : a.exprs)
        if (acl_expr_match(*e, s, dir))
            return true;
    return false;
}

bool cond_match(const Condition* c, const StreamInfo& s, SampleDir dir) {
    if (!c)
        return true;
    bool res = false;
    for (const auto& group : c->any_of) {
        bool all = true;
        for (const auto& t : group) {
            if (acl_match(*t.acl, s, dir) == t.negate) {
                all = false;
                break;
            }
        }
        if (all) {
            res = true;
            break;
        }
    }
    return c->unless ? !res : res;
}

// ---------------------------------------------------------------------------------------------
// Conditions

namespace {

struct Predefined {
    const char* name;
    std::vector<std::string> words;
};

const std::vector<Predefined>& predefined() {
    static const std::vector<Predefined> k = {
        {"TRUE", {"always_true"}},
        {"FALSE", {"always_false"}},
        {"LOCALHOST", {"src", "127.0.0.1/8", "::1"}},
        {"HTTP", {"method", "-m", "found"}},
        {"HTTP_1.0", {"req.ver", "1.0"}},
        {"HTTP_1.1", {"req.ver", "1.1"}},
        {"HTTP_CONTENT", {"hdr_val(content-length)", "gt", "0"}},
        {"HTTP_URL_ABS", {"url_reg", "^[^/:]*://"}},
        {"HTTP_URL_SLASH", {"url_beg", "/"}},
        {"HTTP_URL_STAR", {"url", "*"}},
        {"METH_CONNECT", {"method", "CONNECT"}},
        {"METH_DELETE", {"method", "DELETE"}},
        {"METH_GET", {"method", "GET", "HEAD"}},
        {"METH_HEAD", {"method", "HEAD"}},
        {"METH_OPTIONS", {"method", "OPTIONS"}},
        {"METH_POST", {"method", "POST"}},
        {"METH_PUT", {"method", "PUT"}},
        {"METH_TRACE", {"method", "TRACE"}},
    };
    return k;
}

void note_response(Condition* c, const Acl& a) {
    if (c->needs_response)
        return;
    for (const auto& e : a.exprs) {
        if (sample_needs_response(*e->fetch)) {
            c->needs_response = true;
            c->first_response_fetch = sample_fetch_name(*e->fetch);
            return;
        }
    }
}

}  // namespace

std::shared_ptr<const Condition> parse_condition(std::span<const std::string> words, const AclLookup& lookup,
                                                 std::string* err) {
    if (words.empty() || (words[0] != "if" && words[0] != "unless")) {
        *err = "expects 'if' or 'unless'";
        return nullptr;
    }
    auto c = std::make_shared<Condition>();
    c->unless = words[0] == "unless";
    c->any_of.emplace_back();
    bool negate = false;
    for (size_t i = 1; i < words.size(); ++i) {
        std::string w = words[i];
        if (w == "||" || w == "or") {
            if (negate || c->any_of.back().empty()) {
                *err = "missing ACL before '" + w + "'";
                return nullptr;
            }
            c->any_of.emplace_back();
            continue;
        }
        while (!w.empty() && w[0] == '!') {
            negate = !negate;
            w.erase(0, 1);
        }
        if (w.empty())
            continue;  // a lone '!': applies to the next term
        std::shared_ptr<const Acl> acl;
        if (w == "{") {
            size_t close = i + 1;
            while (close < words.size() && words[close] != "}")
                ++close;
            if (close >= words.size()) {
                *err = "missing '}' to close the anonymous ACL";
                return nullptr;
            }
            if (close == i + 1) {
                *err = "empty anonymous ACL '{ }'";
                return nullptr;
            }
            std::string aerr;
            auto e = parse_acl_expr(std::span<const std::string>(words.data() + i + 1, close - i - 1), &aerr);
            if (!e) {
                *err = "anonymous ACL: " + aerr;
                return nullptr;
            }
            auto a = std::make_shared<Acl>();
            a->name = "anonymous";
            a->exprs.push_back(std::move(e));
            acl = std::move(a);
            i = close;
        } else if (w == "}") {
            *err = "unexpected '}' without '{'";
            return nullptr;
        } else {
            acl = lookup ? lookup(w) : nullptr;
            if (!acl) {
                for (const auto& p : predefined()) {
                    if (w != p.name)
                        continue;
                    std::string perr;
                    auto a = std::make_shared<Acl>();
                    a->name = w;
                    a->exprs.push_back(parse_acl_expr(p.words, &perr));
                    acl = std::move(a);
                }
            }
            if (!acl) {
                *err = "no such ACL '" + w + "'";
                return nullptr;
            }
        }
        note_response(c.get(), *acl);
        c->any_of.back().push_back(Condition::Term{std::move(acl), negate});
        negate = false;
    }
    if (negate) {
        *err = "missing ACL after '!'";
        return nullptr;
    }
    if (c->any_of.back().empty()) {
        *err = words.size() == 1 ? "missing condition after '" + words[0] + "'"
                                 : "missing ACL after '" + words[words.size() - 1] + "'";
        return nullptr;
    }
    return c;
}

}  // namespace proxyd::common
