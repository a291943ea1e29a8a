#include "common/logformat.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cctype>
#include <cstdio>
#include <ctime>

#include "common/log.h"
#include "common/sample.h"
#include "common/syslog.h"

namespace proxyd::common {

namespace {

// %{...} options (HAProxy's LOG_OPT_*).
enum : uint8_t { kOptMandatory = 1, kOptQuote = 2, kOptHexa = 4, kOptEsc = 8 };

enum class Var : uint8_t {
    ClientIp, ClientPort, FrontendIp, FrontendPort, BackendIp, BackendPort, ServerIp, ServerPort,
    Date, DateGmt, DateLocal, ReqDate, ReqDateGmt, ReqDateLocal, Ts, Ms,
    Frontend, FrontendXprt, Backend, Server, SslCipher, SslVersion,
    Th, Ti, TR, Tq, Tw, Tc, Tr, Td, Ta, Tt, Tu,
    Status, Bytes, BytesUp, CookieCli, CookieSrv, TermState, TermStateCk,
    ActConn, FeConn, BeConn, SrvConn, Retries, SrvQueue, BckQueue,
    HdrReq, HdrReqList, HdrRes, HdrResList,
    Req, HttpPath, HttpPathOnly, HttpQuery, HttpUri, HttpMethod, HttpVersion,
    Counter, LogCount, Hostname, Pid, UniqueId,
};

struct VarSpec {
    const char* name;
    Var var;
    bool http_only;
};

// HAProxy 2.6's logformat_keywords[] (those proxyd can fill).
constexpr VarSpec kVars[] = {
    {"B", Var::Bytes, false},         {"CC", Var::CookieCli, true},    {"CS", Var::CookieSrv, true},
    {"H", Var::Hostname, false},      {"ID", Var::UniqueId, false},    {"ST", Var::Status, false},
    {"T", Var::DateGmt, false},       {"Ta", Var::Ta, true},           {"Tc", Var::Tc, false},
    {"Th", Var::Th, false},           {"Ti", Var::Ti, true},           {"Tl", Var::DateLocal, false},
    {"Tq", Var::Tq, true},            {"Tr", Var::Tr, true},           {"TR", Var::TR, true},
    {"Td", Var::Td, false},           {"Ts", Var::Ts, false},          {"Tt", Var::Tt, false},
    {"Tu", Var::Tu, false},           {"Tw", Var::Tw, false},          {"U", Var::BytesUp, false},
    {"ac", Var::ActConn, false},      {"b", Var::Backend, false},      {"bc", Var::BeConn, false},
    {"bi", Var::BackendIp, false},    {"bp", Var::BackendPort, false}, {"bq", Var::BckQueue, false},
    {"ci", Var::ClientIp, false},     {"cp", Var::ClientPort, false},  {"f", Var::Frontend, false},
    {"fc", Var::FeConn, false},       {"fi", Var::FrontendIp, false},  {"fp", Var::FrontendPort, false},
    {"ft", Var::FrontendXprt, false}, {"hr", Var::HdrReq, false},      {"hrl", Var::HdrReqList, false},
    {"hs", Var::HdrRes, false},       {"hsl", Var::HdrResList, false}, {"HM", Var::HttpMethod, true},
    {"HP", Var::HttpPath, true},      {"HPO", Var::HttpPathOnly, true}, {"HQ", Var::HttpQuery, true},
    {"HU", Var::HttpUri, true},       {"HV", Var::HttpVersion, true},  {"lc", Var::LogCount, false},
    {"ms", Var::Ms, false},           {"pid", Var::Pid, false},        {"r", Var::Req, true},
    {"rc", Var::Retries, false},      {"rt", Var::Counter, false},     {"s", Var::Server, false},
    {"sc", Var::SrvConn, false},      {"si", Var::ServerIp, false},    {"sp", Var::ServerPort, false},
    {"sq", Var::SrvQueue, false},     {"sslc", Var::SslCipher, false}, {"sslv", Var::SslVersion, false},
    {"t", Var::Date, false},          {"tr", Var::ReqDate, true},      {"trg", Var::ReqDateGmt, true},
    {"trl", Var::ReqDateLocal, true}, {"ts", Var::TermState, false},   {"tsc", Var::TermStateCk, false},
};

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void apply_options(std::string_view args, uint8_t* opts) {
    while (!args.empty()) {
        size_t comma = args.find(',');
        std::string_view a = args.substr(0, comma);
        args = comma == std::string_view::npos ? std::string_view() : args.substr(comma + 1);
        if (a.size() < 2 || (a[0] != '+' && a[0] != '-'))
            continue;  // HAProxy ignores what it does not know
        std::string_view n = a.substr(1);
        uint8_t bit = n == "M" ? kOptMandatory : n == "Q" ? kOptQuote : n == "X" ? kOptHexa : n == "E" ? kOptEsc : 0;
        if (a[0] == '+')
            *opts |= bit;
        else
            *opts &= static_cast<uint8_t>(~bit);
    }
}

void append_int(std::string* out, int64_t v) {
    char buf[24];
    int n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    out->append(buf, static_cast<size_t>(n));
}

void append_hex(std::string* out, uint64_t v, int width) {
    char buf[24];
    int n = std::snprintf(buf, sizeof buf, "%0*llX", width, static_cast<unsigned long long>(v));
    out->append(buf, static_cast<size_t>(n));
}

void append_pad(std::string* out, unsigned v, int width) {
    char buf[16];
    int n = std::snprintf(buf, sizeof buf, "%0*u", width, v);
    out->append(buf, static_cast<size_t>(n));
}

bool esc_char(unsigned char c) { return c == '"' || c == '\\' || c == ']'; }

// lf_text_len(): quoted, escaped, or "-" when empty and mandatory.
void put_text(std::string* out, std::string_view v, uint8_t opts) {
    if (opts & kOptQuote)
        out->push_back('"');
    if (!v.empty()) {
        if (opts & kOptEsc) {
            for (char c : v) {
                if (esc_char(static_cast<unsigned char>(c)))
                    out->push_back('\\');
                out->push_back(c);
            }
        } else {
            out->append(v);
        }
    } else if ((opts & (kOptQuote | kOptMandatory)) == kOptMandatory) {
        out->push_back('-');
    }
    if (opts & kOptQuote)
        out->push_back('"');
}

// lf_encode_chunk() with url_encode_map: controls, DEL and above, '"' and '#' become "#XX".
void put_encoded(std::string* out, std::string_view v, uint8_t opts) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (char ch : v) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 32 || c >= 127 || c == '"' || c == '#') {
            out->push_back('#');
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 15]);
        } else {
            if ((opts & kOptEsc) && esc_char(c))
                out->push_back('\\');
            out->push_back(ch);
        }
    }
}

void put_ip(std::string* out, const sockaddr_storage* a, uint8_t opts) {
    if (!a)
        return put_text(out, {}, opts);
    if (a->ss_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(a);
        if (opts & kOptHexa)
            return append_hex(out, ntohl(in->sin_addr.s_addr), 8);
        char buf[INET_ADDRSTRLEN];
        ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
        return put_text(out, buf, opts);
    }
    if (a->ss_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(a);
        if (opts & kOptHexa) {
            for (unsigned char b : in6->sin6_addr.s6_addr)
                append_hex(out, b, 2);
            return;
        }
        char buf[INET6_ADDRSTRLEN];
        ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
        return put_text(out, buf, opts);
    }
    if (a->ss_family == AF_UNIX)
        return put_text(out, "unix", opts);
    put_text(out, {}, opts);
}

int port_of(const sockaddr_storage* a) {
    if (a->ss_family == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in*>(a)->sin_port);
    if (a->ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(a)->sin6_port);
    return 0;  // UNIX sockets: HAProxy prints the listener's id, proxyd has none
}

void put_port(std::string* out, const sockaddr_storage* a, uint8_t opts) {
    if (!a || (a->ss_family != AF_INET && a->ss_family != AF_INET6 && a->ss_family != AF_UNIX))
        return put_text(out, {}, opts);
    if (opts & kOptHexa)
        return append_hex(out, static_cast<uint64_t>(port_of(a)), 4);
    append_int(out, port_of(a));
}

tm split_time(int64_t unix_s, bool gmt) {
    time_t t = static_cast<time_t>(unix_s);
    tm r{};
    if (gmt)
        gmtime_r(&t, &r);
    else
        localtime_r(&t, &r);
    return r;
}

int64_t div_floor(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// "dd/Mmm/yyyy:HH:MM:SS" (date2str_log without the milliseconds).
void put_date(std::string* out, const tm& t) {
    append_pad(out, static_cast<unsigned>(t.tm_mday), 2);
    out->push_back('/');
    out->append(kMonths[t.tm_mon]);
    out->push_back('/');
    append_pad(out, static_cast<unsigned>(t.tm_year + 1900), 4);
    out->push_back(':');
    append_pad(out, static_cast<unsigned>(t.tm_hour), 2);
    out->push_back(':');
    append_pad(out, static_cast<unsigned>(t.tm_min), 2);
    out->push_back(':');
    append_pad(out, static_cast<unsigned>(t.tm_sec), 2);
}

enum class DateKind { Log, Gmt, Local };
void put_date_kind(std::string* out, int64_t unix_us, DateKind k) {
    int64_t s = div_floor(unix_us, 1000000);
    put_date(out, split_time(s, k == DateKind::Gmt));
    if (k == DateKind::Log) {
        out->push_back('.');
        append_pad(out, static_cast<unsigned>((unix_us - s * 1000000) / 1000), 3);
    } else if (k == DateKind::Gmt) {
        out->append(" +0000");
    } else {
        out->push_back(' ');
        append_gmt_offset(out, s, false);
    }
}

int64_t known(int64_t v) { return v < 0 ? 0 : v; }

std::string_view version_of(const HttpHead& h) { return h.version == 10 ? "HTTP/1.0" : "HTTP/1.1"; }

}  // namespace

struct LogFormat::Node {
    enum class Kind : uint8_t { Text, Separator, Var, Expr } kind = Kind::Text;
    Var var = Var::Bytes;
    uint8_t opts = 0;
    std::string text;                              // Text
    std::shared_ptr<const SampleExpr> expr;        // Expr
};

LogFormat::LogFormat() = default;
LogFormat::~LogFormat() = default;

std::shared_ptr<const LogFormat> LogFormat::compile(std::string_view fmt, bool http, std::string* err) {
    auto lf = std::make_shared<LogFormat>();
    lf->http_ = http;
    uint8_t defopts = kOptMandatory;  // HAProxy compiles log-format with LOG_OPT_MANDATORY
    std::string text;
    auto flush_text = [&] {
        if (!text.empty()) {
            Node n;
            n.kind = Node::Kind::Text;
            n.text = std::move(text);
            lf->nodes_.push_back(std::move(n));
            text.clear();
        }
    };
    size_t i = 0;
    while (i < fmt.size()) {
        char c = fmt[i];
        if (c == ' ') {
            flush_text();
            if (lf->nodes_.empty() || lf->nodes_.back().kind != Node::Kind::Separator) {
                Node n;
                n.kind = Node::Kind::Separator;
                lf->nodes_.push_back(std::move(n));
            }
            ++i;
            continue;
        }
        if (c != '%') {
            text.push_back(c);
            ++i;
            continue;
        }
        // '%'
        if (i + 1 >= fmt.size()) {
            *err = "truncated line after '%'";
            return nullptr;
        }
        char d = fmt[i + 1];
        if (d == '%') {
            text.push_back('%');
            i += 2;
            continue;
        }
        if (std::isdigit(static_cast<unsigned char>(d)) || d == ' ' || d == '\t') {
            *err = strprintf("unexpected variable name near '%c' at position %zu line : '%.*s'. Maybe you want to write "
                             "a single '%%', use the syntax '%%%%'",
                             d, i + 1, static_cast<int>(fmt.size()), fmt.data());
            return nullptr;
        }
        size_t p = i + 1;
        std::string_view args;
        bool has_args = false;
        if (d == '{') {
            size_t close = fmt.find('}', p + 1);
            if (close == std::string_view::npos) {
                *err = strprintf("truncated line after '%.*s'", static_cast<int>(fmt.size() - p - 1), fmt.data() + p + 1);
                return nullptr;
            }
            args = fmt.substr(p + 1, close - p - 1);
            has_args = true;
            p = close + 1;
            if (p >= fmt.size() || (fmt[p] != '[' && !std::isalnum(static_cast<unsigned char>(fmt[p])))) {
                *err = strprintf("parse argument modifier without variable name near '%%{%.*s}'",
                                 static_cast<int>(args.size()), args.data());
                return nullptr;
            }
        } else if (d != '[' && !std::isalpha(static_cast<unsigned char>(d))) {
            // HAProxy drops a lone '%' before any other character.
            i += 1;
            continue;
        }
        flush_text();
        if (fmt[p] == '[') {
            // The sample expression ends at the first ']' outside parentheses.
            size_t q = p + 1;
            int depth = 0;
            for (; q < fmt.size(); ++q) {
                if (fmt[q] == '(')
                    ++depth;
                else if (fmt[q] == ')' && depth > 0)
                    --depth;
                else if (fmt[q] == ']' && depth == 0)
                    break;
            }
            std::string_view expr_text = fmt.substr(p + 1, q - p - 1);
            if (q >= fmt.size()) {
                *err = strprintf("missing ']' after '%.*s'", static_cast<int>(expr_text.size()), expr_text.data());
                return nullptr;
            }
            std::string perr;
            auto expr = parse_sample_expr(expr_text, &perr);
            if (!expr) {
                *err = strprintf("failed to parse sample expression <%.*s> : %s", static_cast<int>(expr_text.size()),
                                 expr_text.data(), perr.c_str());
                return nullptr;
            }
            Node n;
            n.kind = Node::Kind::Expr;
            n.opts = defopts;
            if (has_args)
                apply_options(args, &n.opts);
            n.expr = std::move(expr);
            lf->nodes_.push_back(std::move(n));
            i = q + 1;
            continue;
        }
        size_t q = p;
        while (q < fmt.size() && std::isalnum(static_cast<unsigned char>(fmt[q])))
            ++q;
        std::string_view name = fmt.substr(p, q - p);
        i = q;
        if (name == "o") {  // global options for what follows
            if (has_args)
                apply_options(args, &defopts);
            continue;
        }
        const VarSpec* spec = nullptr;
        for (auto& v : kVars)
            if (name == v.name)
                spec = &v;
        if (!spec) {
            *err = strprintf("no such format variable '%.*s'. If you wanted to emit the '%%' character verbatim, you "
                             "need to use '%%%%'",
                             static_cast<int>(name.size()), name.data());
            return nullptr;
        }
        if (spec->http_only && !http) {
            *err = strprintf("format variable '%s' is reserved for HTTP mode", spec->name);
            return nullptr;
        }
        Node n;
        n.kind = Node::Kind::Var;
        n.var = spec->var;
        n.opts = defopts;
        if (has_args)
            apply_options(args, &n.opts);
        if (n.var == Var::LogCount)
            lf->uses_lc_ = true;
        lf->nodes_.push_back(std::move(n));
    }
    flush_text();
    return lf;
}

void LogFormat::render(const StreamInfo& s, const LogEnv& env, std::string* out) const {
    static thread_local SampleValue sample;
    static thread_local std::string scratch;
    bool last_isspace = true;
    // HAProxy's dates: accept (%t) and request start (%tr); accept_unix_us is the request start
    // in mode http, where the idle and handshake times precede it.
    int64_t req_us = s.accept_unix_us;
    int64_t acc_us = s.accept_unix_us;
    if (http_ && s.t.Ti >= 0)
        acc_us -= (s.t.Ti + known(s.t.Th)) * 1000;
    const HttpHead* rq = s.req;
    for (const Node& n : nodes_) {
        const uint8_t o = n.opts;
        switch (n.kind) {
        case Node::Kind::Separator:
            if (!last_isspace) {
                out->push_back(' ');
                last_isspace = true;
            }
            continue;
        case Node::Kind::Text:
            out->append(n.text);
            last_isspace = false;
            continue;
        case Node::Kind::Expr:
            scratch.clear();
            if (eval_sample(*n.expr, s, &sample))
                sample_to_string(sample, &scratch);
            put_text(out, scratch, o);
            last_isspace = false;
            continue;
        case Node::Kind::Var:
            break;
        }
        switch (n.var) {
        case Var::HdrReq:
        case Var::HdrReqList:
        case Var::HdrRes:
        case Var::HdrResList:
            continue;  // no header captures: nothing, and the separator state is kept
        case Var::ClientIp: put_ip(out, s.src, o); break;
        case Var::ClientPort: put_port(out, s.src, o); break;
        case Var::FrontendIp: put_ip(out, s.dst, o); break;
        case Var::FrontendPort: put_port(out, s.dst, o); break;
        case Var::BackendIp: put_ip(out, s.srv_src, o); break;
        case Var::BackendPort: put_port(out, s.srv_src, o); break;
        case Var::ServerIp: put_ip(out, s.srv_addr, o); break;
        case Var::ServerPort: put_port(out, s.srv_addr, o); break;
        case Var::Date: put_date_kind(out, acc_us, DateKind::Log); break;
        case Var::DateGmt: put_date_kind(out, acc_us, DateKind::Gmt); break;
        case Var::DateLocal: put_date_kind(out, acc_us, DateKind::Local); break;
        case Var::ReqDate: put_date_kind(out, req_us, DateKind::Log); break;
        case Var::ReqDateGmt: put_date_kind(out, req_us, DateKind::Gmt); break;
        case Var::ReqDateLocal: put_date_kind(out, req_us, DateKind::Local); break;
        case Var::Ts: {
            int64_t sec = div_floor(acc_us, 1000000);
            if (o & kOptHexa)
                append_hex(out, static_cast<uint32_t>(sec), 4);
            else
                append_int(out, sec);
            break;
        }
        case Var::Ms: {
            int64_t ms = (acc_us - div_floor(acc_us, 1000000) * 1000000) / 1000;
            if (o & kOptHexa)
                append_hex(out, static_cast<uint64_t>(ms), 2);
            else
                append_pad(out, static_cast<unsigned>(ms), 3);
            break;
        }
        case Var::Frontend: put_text(out, s.frontend, o); break;
        case Var::FrontendXprt:
            if (o & kOptQuote)
                out->push_back('"');
            out->append(s.frontend);
            if (o & kOptQuote)
                out->push_back('"');
            break;
        case Var::Backend: put_text(out, s.backend.empty() ? s.frontend : s.backend, o); break;
        case Var::Server: put_text(out, s.server.empty() ? std::string_view("<NOSRV>") : s.server, o); break;
        case Var::SslCipher:
        case Var::SslVersion:
        case Var::CookieCli:
        case Var::CookieSrv: put_text(out, {}, o); break;
        case Var::Th: append_int(out, s.t.Th); break;
        case Var::Ti: append_int(out, s.t.Ti); break;
        case Var::TR: append_int(out, s.t.TR); break;
        case Var::Tq: append_int(out, s.t.TR >= 0 ? known(s.t.Th) + known(s.t.Ti) + s.t.TR : -1); break;
        case Var::Tw: append_int(out, s.t.Tw); break;
        case Var::Tc: append_int(out, s.t.Tc); break;
        case Var::Tr: append_int(out, s.t.Tr); break;
        case Var::Td: {
            int64_t last = http_ ? s.t.Tr : s.t.Tc;
            int64_t before = known(s.t.Th) + known(s.t.Ti) + known(s.t.TR) + known(s.t.Tw) + known(s.t.Tc) +
                             (http_ ? known(s.t.Tr) : 0);
            append_int(out, last >= 0 && s.t.Tt >= 0 ? s.t.Tt - before : -1);
            break;
        }
        case Var::Ta: append_int(out, s.t.Ta); break;
        case Var::Tt: append_int(out, s.t.Tt); break;
        case Var::Tu: append_int(out, s.t.Tt >= 0 ? s.t.Tt - known(s.t.Ti) : -1); break;
        case Var::Status: append_int(out, http_ ? s.status : 0); break;
        case Var::Bytes: append_int(out, static_cast<int64_t>(s.bytes_out)); break;
        case Var::BytesUp: append_int(out, static_cast<int64_t>(s.bytes_in)); break;
        case Var::TermState:
            out->push_back(s.term[0]);
            out->push_back(s.term[1]);
            break;
        case Var::TermStateCk: out->append(s.term, 4); break;
        case Var::ActConn: append_int(out, s.actconn); break;
        case Var::FeConn: append_int(out, s.feconn); break;
        case Var::BeConn: append_int(out, s.beconn); break;
        case Var::SrvConn: append_int(out, s.srv_conn); break;
        case Var::Retries:
            if (s.redispatched)
                out->push_back('+');
            append_int(out, s.retries);
            break;
        case Var::SrvQueue: append_int(out, s.srv_queue); break;
        case Var::BckQueue: append_int(out, s.backend_queue); break;
        case Var::Req:
            if (o & kOptQuote)
                out->push_back('"');
            if (rq) {
                put_encoded(out, rq->method, o);
                out->push_back(' ');
                put_encoded(out, rq->uri, o);
                out->push_back(' ');
                out->append(version_of(*rq));
            } else {
                out->append("<BADREQ>");
            }
            if (o & kOptQuote)
                out->push_back('"');
            break;
        case Var::HttpPath:
        case Var::HttpPathOnly:
        case Var::HttpQuery:
        case Var::HttpUri:
        case Var::HttpMethod:
        case Var::HttpVersion: {
            if (o & kOptQuote)
                out->push_back('"');
            if (!rq) {
                out->append("<BADREQ>");
            } else {
                std::string_view v;
                size_t qm = rq->uri.find('?');
                switch (n.var) {
                case Var::HttpPath: v = rq->uri.substr(0, qm); break;
                case Var::HttpPathOnly: v = rq->path(); break;
                case Var::HttpQuery: v = qm == std::string_view::npos ? std::string_view() : rq->uri.substr(qm); break;
                case Var::HttpUri: v = rq->uri; break;
                case Var::HttpMethod: v = rq->method; break;
                default: v = version_of(*rq); break;
                }
                put_encoded(out, v, o);
            }
            if (o & kOptQuote)
                out->push_back('"');
            break;
        }
        case Var::Counter:
            if (o & kOptHexa)
                append_hex(out, s.request_id, 4);
            else
                append_int(out, static_cast<int64_t>(s.request_id));
            break;
        case Var::LogCount:
            if (o & kOptHexa)
                append_hex(out, env.log_count, 4);
            else
                append_int(out, static_cast<int64_t>(env.log_count));
            break;
        case Var::Hostname: put_text(out, env.hostname, o); break;
        case Var::Pid:
            if (o & kOptHexa)
                append_hex(out, static_cast<uint64_t>(env.pid), 4);
            else
                append_int(out, env.pid);
            break;
        case Var::UniqueId: put_text(out, s.unique_id, o); break;
        }
        last_isspace = false;
    }
}

void render_connect_line(const StreamInfo& s, bool http, std::string* out) {
    const char* mode = http ? "HTTP" : "TCP";
    std::string fe(s.frontend);
    if (!s.src || (s.src->ss_family != AF_INET && s.src->ss_family != AF_INET6 && s.src->ss_family != AF_UNIX)) {
        out->append(strprintf("Connect from unknown source to listener %d (%s/%s)", 0, fe.c_str(), mode));
        return;
    }
    if (s.src->ss_family == AF_UNIX) {
        out->append(strprintf("Connect to unix:%d (%s/%s)", 0, fe.c_str(), mode));
        return;
    }
    out->append("Connect from ");
    put_ip(out, s.src, 0);
    out->push_back(':');
    append_int(out, port_of(s.src));
    out->append(" to ");
    if (s.dst && (s.dst->ss_family == AF_INET || s.dst->ss_family == AF_INET6)) {
        put_ip(out, s.dst, 0);
        out->push_back(':');
        append_int(out, port_of(s.dst));
    } else {
        out->append("undetermined address:0");
    }
    out->append(strprintf(" (%s/%s)", fe.c_str(), mode));
}

}  // namespace proxyd::common
