#include "common/sample.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "common/vars.h"

namespace proxyd::common {

namespace {

enum class Fetch : uint8_t {
    Src, Dst, SrcPort, DstPort, Method, Path, Url, Query, Base, ReqVer, UrlParam,
    Hdr, FHdr, HdrCnt, HdrVal, HdrIp, Status, FeName, BeName, SrvName, NbSrv, True, False, Str, Int, Var,
    Pathq, FirstReq,
};

// Which message a header fetch reads.
enum class Msg : uint8_t { None, Req, Res, Dir };

struct FetchDef {
    const char* name;
    Fetch id;
    Msg msg;
    SampleValue::Type type;
    int min_args, max_args;
};

using T = SampleValue::Type;
constexpr FetchDef kFetches[] = {
    {"src", Fetch::Src, Msg::None, T::Ip, 0, 0},
    {"dst", Fetch::Dst, Msg::None, T::Ip, 0, 0},
    {"src_port", Fetch::SrcPort, Msg::None, T::Int, 0, 0},
    {"dst_port", Fetch::DstPort, Msg::None, T::Int, 0, 0},
    {"method", Fetch::Method, Msg::Req, T::Str, 0, 0},
    {"path", Fetch::Path, Msg::Req, T::Str, 0, 0},
    {"pathq", Fetch::Pathq, Msg::Req, T::Str, 0, 0},
    {"http_first_req", Fetch::FirstReq, Msg::None, T::Bool, 0, 0},
    {"url", Fetch::Url, Msg::Req, T::Str, 0, 0},
    {"query", Fetch::Query, Msg::Req, T::Str, 0, 0},
    {"base", Fetch::Base, Msg::Req, T::Str, 0, 0},
    {"req.ver", Fetch::ReqVer, Msg::Req, T::Str, 0, 0},
    {"req_ver", Fetch::ReqVer, Msg::Req, T::Str, 0, 0},
    {"url_param", Fetch::UrlParam, Msg::Req, T::Str, 1, 2},
    {"urlp", Fetch::UrlParam, Msg::Req, T::Str, 1, 2},
    {"req.hdr", Fetch::Hdr, Msg::Req, T::Str, 1, 2},
    {"hdr", Fetch::Hdr, Msg::Dir, T::Str, 1, 2},
    {"res.hdr", Fetch::Hdr, Msg::Res, T::Str, 1, 2},
    {"shdr", Fetch::Hdr, Msg::Res, T::Str, 1, 2},
    {"req.fhdr", Fetch::FHdr, Msg::Req, T::Str, 1, 2},
    {"fhdr", Fetch::FHdr, Msg::Dir, T::Str, 1, 2},
    {"res.fhdr", Fetch::FHdr, Msg::Res, T::Str, 1, 2},
    {"req.hdr_cnt", Fetch::HdrCnt, Msg::Req, T::Int, 0, 1},
    {"hdr_cnt", Fetch::HdrCnt, Msg::Dir, T::Int, 0, 1},
    {"res.hdr_cnt", Fetch::HdrCnt, Msg::Res, T::Int, 0, 1},
    {"shdr_cnt", Fetch::HdrCnt, Msg::Res, T::Int, 0, 1},
    {"req.hdr_val", Fetch::HdrVal, Msg::Req, T::Int, 1, 2},
    {"hdr_val", Fetch::HdrVal, Msg::Dir, T::Int, 1, 2},
    {"res.hdr_val", Fetch::HdrVal, Msg::Res, T::Int, 1, 2},
    {"req.hdr_ip", Fetch::HdrIp, Msg::Req, T::Ip, 1, 2},
    {"hdr_ip", Fetch::HdrIp, Msg::Dir, T::Ip, 1, 2},
    {"res.hdr_ip", Fetch::HdrIp, Msg::Res, T::Ip, 1, 2},
    {"status", Fetch::Status, Msg::Res, T::Int, 0, 0},
    {"fe_name", Fetch::FeName, Msg::None, T::Str, 0, 0},
    {"be_name", Fetch::BeName, Msg::None, T::Str, 0, 0},
    {"srv_name", Fetch::SrvName, Msg::None, T::Str, 0, 0},
    {"nbsrv", Fetch::NbSrv, Msg::None, T::Int, 1, 1},
    {"always_true", Fetch::True, Msg::None, T::Bool, 0, 0},
    {"always_false", Fetch::False, Msg::None, T::Bool, 0, 0},
    {"str", Fetch::Str, Msg::None, T::Str, 1, 1},
    {"int", Fetch::Int, Msg::None, T::Int, 1, 1},
    {"var", Fetch::Var, Msg::None, T::None, 1, 2},  // the stored type: known at run time
};

// HAProxy 2.6 fetches proxyd recognises and refuses.
constexpr const char* kUnsupportedFetches[] = {
    "be_id", "bin", "bool", "capture.req.hdr", "capture.req.method", "capture.req.uri", "capture.res.hdr",
    "cook", "cook_cnt", "cook_val", "cookie", "date", "env", "fe_id", "hdrs", "http_auth", "http_auth_group",
    "ipv4", "ipv6", "meth", "queue", "rand", "req.body", "req.body_len",
    "req.body_param", "req.cook", "req.cook_cnt", "req.cook_val", "req.hdrs", "req.len", "req.payload",
    "req.proto_http", "req.ssl_sni", "req_ssl_sni", "res.comp", "res.cook", "res.ver", "sc_http_req_rate",
    "sc0_http_req_rate", "scook", "set-cookie", "src_conn_cur", "src_http_req_rate", "srv_id", "ssl_c_used",
    "ssl_fc", "ssl_fc_sni", "ssl_fc_alpn", "ssl_fc_protocol", "stopping", "uuid", "unique-id", "url32",
    "url32+src", "url_ip", "url_port", "base32", "base32+src", "connslots", "avg_queue", "be_conn",
    "srv_conn", "srv_is_up", "fc_rtt", "so_id", "thread", "nbproc", "proc", "hostname",
};

enum class Conv : uint8_t { Lower, Upper, Base64, Hex, Length, SetVar, UnsetVar };
struct ConvDef {
    const char* name;
    Conv id;
};
constexpr ConvDef kConvs[] = {
    {"lower", Conv::Lower}, {"upper", Conv::Upper}, {"base64", Conv::Base64},
    {"hex", Conv::Hex},     {"length", Conv::Length}, {"set-var", Conv::SetVar},
    {"unset-var", Conv::UnsetVar},
};
constexpr const char* kUnsupportedConvs[] = {
    "add", "and", "b64dec", "bool", "bytes", "concat", "cpl", "crc32", "crc32c", "debug", "div", "djb2",
    "even", "field", "hex2i", "http_date", "in_table", "ipmask", "json", "language", "ltime", "map",
    "map_beg", "map_dom", "map_end", "map_int", "map_ip", "map_reg", "map_str", "map_sub", "mod", "mul",
    "neg", "not", "odd", "or", "protobuf", "regsub", "sdbm", "sha1", "sha2", "strcmp",
    "sub", "table_gpc0", "ub64dec", "ub64enc", "url_dec", "utime", "word", "wt6", "xor", "xxh32", "xxh64",
    "digest", "hmac", "secure_memcmp", "host_only", "port_only", "ltrim", "rtrim",
};

}  // namespace

namespace {
struct ConvStep {
    Conv id;
    VarName var;              // set-var, unset-var
    unsigned var_conds = 0;   // set-var's conditions (VarCond bits)
};
}  // namespace

class SampleExpr {
public:
    const FetchDef* def = nullptr;
    std::string name;
    std::string arg;          // header name, url_param name, backend name, constant, var()'s default
    char delim = '&';         // url_param delimiter
    int occ = 0;              // 0: none given
    int64_t int_const = 0;
    VarName var;              // var()
    bool has_default = false; // var(NAME,DEFAULT)
    std::vector<ConvStep> convs;
};

namespace {

std::vector<std::string> split_args(std::string_view s) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (true) {
        size_t c = s.find(',', pos);
        out.emplace_back(s.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
        if (c == std::string_view::npos)
            break;
        pos = c + 1;
    }
    return out;
}

bool parse_int(std::string_view s, int64_t* v) {
    if (s.empty())
        return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// "name(args)" at the start of `text`; `end` receives the offset after it.
bool split_call(std::string_view text, std::string_view* name, std::string_view* args, bool* has_args,
                size_t* end, std::string* err) {
    size_t p = text.find_first_of("(,");
    *name = text.substr(0, p);
    *has_args = false;
    *args = {};
    if (p == std::string_view::npos || text[p] == ',') {
        *end = p == std::string_view::npos ? text.size() : p;
        return true;
    }
    size_t close = text.find(')', p);
    if (close == std::string_view::npos) {
        *err = "missing closing parenthesis after '" + std::string(text.substr(0, p)) + "('";
        return false;
    }
    *has_args = true;
    *args = text.substr(p + 1, close - p - 1);
    *end = close + 1;
    return true;
}

bool is_ws(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view v) {
    while (!v.empty() && is_ws(v.front()))
        v.remove_prefix(1);
    while (!v.empty() && is_ws(v.back()))
        v.remove_suffix(1);
    return v;
}

const HttpHead* msg_of(const SampleExpr& e, const StreamInfo& s, SampleDir dir) {
    switch (e.def->msg) {
    case Msg::Req: return s.req;
    case Msg::Res: return s.res;
    case Msg::Dir: return dir == SampleDir::Response ? s.res : s.req;
    case Msg::None: return nullptr;
    }
    return nullptr;
}

// Calls f(value) for each value of header `name` (comma-separated values split unless `full`),
// in order, until f returns true.
template <class F>
bool for_each_hdr(const HttpHead& h, std::string_view name, bool full, F&& f) {
    for (const auto& fld : h.fields) {
        if (!ascii_iequals(fld.name, name))
            continue;
        if (full) {
            if (f(trim(fld.value)))
                return true;
            continue;
        }
        std::string_view v = fld.value;
        size_t pos = 0;
        while (true) {
            size_t c = v.find(',', pos);
            std::string_view part = trim(v.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
            if (f(part))
                return true;
            if (c == std::string_view::npos)
                break;
            pos = c + 1;
        }
    }
    return false;
}

// The selected occurrence of a header (occ > 0: Nth, occ < 0: Nth from the end).
bool hdr_occurrence(const HttpHead& h, std::string_view name, bool full, int occ, std::string_view* out) {
    int n = 0;
    if (occ < 0) {
        for_each_hdr(h, name, full, [&](std::string_view) { ++n; return false; });
        occ = n + occ + 1;
        if (occ <= 0)
            return false;
        n = 0;
    }
    return for_each_hdr(h, name, full, [&](std::string_view v) {
        if (++n == occ) {
            *out = v;
            return true;
        }
        return false;
    });
}

bool set_ip(const sockaddr_storage* a, SampleValue* out) {
    if (!a || (a->ss_family != AF_INET && a->ss_family != AF_INET6))
        return false;
    out->type = T::Ip;
    out->ip = *a;
    return true;
}

bool set_port(const sockaddr_storage* a, SampleValue* out) {
    if (!a)
        return false;
    if (a->ss_family == AF_INET)
        out->i = ntohs(reinterpret_cast<const sockaddr_in*>(a)->sin_port);
    else if (a->ss_family == AF_INET6)
        out->i = ntohs(reinterpret_cast<const sockaddr_in6*>(a)->sin6_port);
    else
        return false;
    out->type = T::Int;
    return true;
}

bool set_str(std::string_view v, SampleValue* out) {
    out->type = T::Str;
    out->str = v;
    return true;
}

bool set_int(int64_t v, SampleValue* out) {
    out->type = T::Int;
    out->i = v;
    return true;
}

// Leading integer of a string, as HAProxy's str->int cast (strl2ic): optional sign, digits.
int64_t leading_int(std::string_view v) {
    int64_t r = 0;
    size_t i = 0;
    bool neg = false;
    if (i < v.size() && (v[i] == '-' || v[i] == '+'))
        neg = v[i++] == '-';
    for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i)
        r = r * 10 + (v[i] - '0');
    return neg ? -r : r;
}

bool parse_ip_value(std::string_view v, SampleValue* out) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (v.empty() || v.size() >= sizeof buf)
        return false;
    std::memcpy(buf, v.data(), v.size());
    buf[v.size()] = 0;
    sockaddr_storage ss{};
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    else
        return false;
    out->type = T::Ip;
    out->ip = ss;
    return true;
}

// A header-derived value of `raw` as the fetch's type.
bool typed_hdr_value(const SampleExpr& e, std::string_view raw, SampleValue* out) {
    switch (e.def->id) {
    case Fetch::HdrVal: return set_int(leading_int(raw), out);
    case Fetch::HdrIp: return parse_ip_value(raw, out);
    default: return set_str(raw, out);
    }
}

// url_param: calls f(value) for each parameter `name` of the query string.
template <class F>
bool for_each_param(std::string_view query, std::string_view name, char delim, F&& f) {
    size_t pos = 0;
    while (pos <= query.size()) {
        size_t end = query.find(delim, pos);
        if (end == std::string_view::npos)
            end = query.size();
        std::string_view kv = query.substr(pos, end - pos);
        size_t eq = kv.find('=');
        std::string_view k = kv.substr(0, eq);
        if (k == name && f(eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1)))
            return true;
        pos = end + 1;
    }
    return false;
}

// The raw fetch (no converter); for multi-valued fetches, the last value (or occurrence).
bool fetch_one(const SampleExpr& e, const StreamInfo& s, SampleDir dir, SampleValue* out) {
    switch (e.def->id) {
    case Fetch::Src: return set_ip(s.src, out);
    case Fetch::Dst: return set_ip(s.dst, out);
    case Fetch::SrcPort: return set_port(s.src, out);
    case Fetch::DstPort: return set_port(s.dst, out);
    case Fetch::Method: return s.req && set_str(s.req->method, out);
    case Fetch::Path: return s.req && !s.req->uri.empty() && set_str(s.req->path(), out);
    case Fetch::Url: return s.req && set_str(s.req->uri, out);
    case Fetch::Pathq: {
        if (!s.req || s.req->uri.empty())
            return false;
        out->own.assign(s.req->path());
        if (s.req->has_query()) {
            out->own.push_back('?');
            out->own.append(s.req->query());
        }
        return set_str(out->own, out);
    }
    case Fetch::FirstReq:
        out->type = SampleValue::Type::Bool;
        out->i = s.first_req ? 1 : 0;
        return true;
    case Fetch::Query: return s.req && s.req->has_query() && set_str(s.req->query(), out);
    case Fetch::ReqVer: return s.req && set_str(s.req->version == 10 ? "1.0" : "1.1", out);
    case Fetch::Base: {
        if (!s.req)
            return false;
        out->own.clear();
        std::string_view host;
        if (hdr_occurrence(*s.req, "host", true, 1, &host))
            out->own.append(host);
        out->own.append(s.req->path());
        return set_str(out->own, out);
    }
    case Fetch::UrlParam: {
        if (!s.req)
            return false;
        std::string_view found;
        bool any = false;
        for_each_param(s.req->query(), e.arg, e.delim, [&](std::string_view v) {
            if (!any) {
                found = v;
                any = true;
            }
            return true;  // the first one, as HAProxy's url_param
        });
        return any && set_str(found, out);
    }
    case Fetch::Hdr:
    case Fetch::FHdr:
    case Fetch::HdrVal:
    case Fetch::HdrIp: {
        const HttpHead* h = msg_of(e, s, dir);
        if (!h)
            return false;
        std::string_view v;
        if (!hdr_occurrence(*h, e.arg, e.def->id == Fetch::FHdr, e.occ ? e.occ : -1, &v))
            return false;
        return typed_hdr_value(e, v, out);
    }
    case Fetch::HdrCnt: {
        const HttpHead* h = msg_of(e, s, dir);
        if (!h)
            return false;
        int64_t n = 0;
        if (e.arg.empty())
            n = static_cast<int64_t>(h->fields.size());
        else
            for_each_hdr(*h, e.arg, false, [&](std::string_view) { ++n; return false; });
        return set_int(n, out);
    }
    case Fetch::Status:
        if (s.res && s.res->status > 0)
            return set_int(s.res->status, out);
        if (dir == SampleDir::Request && s.status >= 0)
            return set_int(s.status, out);
        return false;
    case Fetch::FeName: return !s.frontend.empty() && set_str(s.frontend, out);
    case Fetch::BeName: return !s.backend.empty() && set_str(s.backend, out);
    case Fetch::SrvName: return !s.server.empty() && set_str(s.server, out);
    case Fetch::NbSrv: {
        if (!s.state)
            return false;
        int n = s.state->nbsrv(e.arg);
        return n >= 0 && set_int(n, out);
    }
    case Fetch::True:
    case Fetch::False:
        out->type = T::Bool;
        out->i = e.def->id == Fetch::True;
        return true;
    case Fetch::Str: return set_str(e.arg, out);
    case Fetch::Int: return set_int(e.int_const, out);
    case Fetch::Var:
        if (var_get(s.vars, e.var, out))
            return true;
        return e.has_default && set_str(e.arg, out);  // the default is a string, as HAProxy's
    }
    return false;
}

thread_local std::string t_conv_tmp;

void to_str(SampleValue* v) {
    if (v->type == T::Str)
        return;
    t_conv_tmp.clear();
    sample_to_string(*v, &t_conv_tmp);
    v->own.swap(t_conv_tmp);
    v->str = v->own;
    v->type = T::Str;
}

void base64_encode(std::string_view in, std::string* out) {
    static constexpr char kTab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t n = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
        out->push_back(kTab[(n >> 18) & 63]);
        out->push_back(kTab[(n >> 12) & 63]);
        out->push_back(kTab[(n >> 6) & 63]);
        out->push_back(kTab[n & 63]);
    }
    if (i < in.size()) {
        uint32_t n = uint32_t(uint8_t(in[i])) << 16;
        if (i + 1 < in.size())
            n |= uint32_t(uint8_t(in[i + 1])) << 8;
        out->push_back(kTab[(n >> 18) & 63]);
        out->push_back(kTab[(n >> 12) & 63]);
        out->push_back(i + 1 < in.size() ? kTab[(n >> 6) & 63] : '=');
        out->push_back('=');
    }
}

// False when a converter fails (set-var whose conditions do not hold, an unavailable scope):
// the whole sample is then not found, as in HAProxy.
bool apply_convs(const SampleExpr& e, const StreamInfo& s, SampleValue* v) {
    for (const ConvStep& step : e.convs) {
        Conv c = step.id;
        if (c == Conv::SetVar) {
            if (!var_set(s.vars, step.var, *v, step.var_conds))
                return false;
            continue;
        }
        if (c == Conv::UnsetVar) {
            if (!var_unset(s.vars, step.var))
                return false;
            continue;
        }
        to_str(v);
        switch (c) {
        case Conv::Lower:
        case Conv::Upper: {
            // In place when the value already lives in `own`; otherwise copied once.
            if (v->str.data() != v->own.data() || v->str.size() != v->own.size())
                v->own.assign(v->str);
            for (char& ch : v->own) {
                if (c == Conv::Lower && ch >= 'A' && ch <= 'Z')
                    ch = static_cast<char>(ch + 32);
                else if (c == Conv::Upper && ch >= 'a' && ch <= 'z')
                    ch = static_cast<char>(ch - 32);
            }
            v->str = v->own;
            break;
        }
        case Conv::Base64:
        case Conv::Hex:
            t_conv_tmp.clear();
            if (c == Conv::Base64) {
                base64_encode(v->str, &t_conv_tmp);
            } else {
                static constexpr char kHex[] = "0123456789ABCDEF";
                for (char ch : v->str) {
                    t_conv_tmp.push_back(kHex[uint8_t(ch) >> 4]);
                    t_conv_tmp.push_back(kHex[uint8_t(ch) & 15]);
                }
            }
            v->own.swap(t_conv_tmp);
            v->str = v->own;
            break;
        case Conv::Length:
            v->type = T::Int;
            v->i = static_cast<int64_t>(v->str.size());
            break;
        case Conv::SetVar:
        case Conv::UnsetVar: break;
        }
    }
    return true;
}

}  // namespace

std::shared_ptr<const SampleExpr> parse_sample_expr(std::string_view text, std::string* err) {
    std::string_view name, args;
    bool has_args = false;
    size_t end = 0;
    if (text.empty()) {
        *err = "missing fetch method";
        return nullptr;
    }
    if (!split_call(text, &name, &args, &has_args, &end, err))
        return nullptr;
    auto e = std::make_shared<SampleExpr>();
    e->name = std::string(name);
    for (const auto& d : kFetches)
        if (name == d.name)
            e->def = &d;
    if (!e->def) {
        bool known = false;
        for (const char* u : kUnsupportedFetches)
            known |= name == u;
        *err = known ? "fetch method '" + e->name + "' is not supported yet"
                     : "unknown fetch method '" + e->name + "'";
        return nullptr;
    }
    std::vector<std::string> a;
    if (has_args)
        a = split_args(args);
    if (static_cast<int>(a.size()) < e->def->min_args) {
        *err = "fetch method '" + e->name + "' expects " +
               (e->def->max_args > e->def->min_args ? "at least " : "") + std::to_string(e->def->min_args) +
               " argument(s)";
        return nullptr;
    }
    if (static_cast<int>(a.size()) > e->def->max_args) {
        *err = e->def->max_args == 0 ? "fetch method '" + e->name + "' takes no argument"
                                     : "fetch method '" + e->name + "' expects at most " +
                                           std::to_string(e->def->max_args) + " argument(s)";
        return nullptr;
    }
    switch (e->def->id) {
    case Fetch::Hdr:
    case Fetch::FHdr:
    case Fetch::HdrVal:
    case Fetch::HdrIp:
    case Fetch::HdrCnt:
    case Fetch::UrlParam:
    case Fetch::NbSrv:
    case Fetch::Str:
    case Fetch::Var:
        if (e->def->id == Fetch::Var) {
            if (!parse_var_name(a[0], &e->var, err)) {
                *err = "fetch method 'var': " + *err;
                return nullptr;
            }
            e->has_default = a.size() > 1;
            if (e->has_default)
                e->arg = a[1];
            break;
        }
        if (!a.empty())
            e->arg = a[0];
        if (e->def->id != Fetch::Str && e->def->id != Fetch::HdrCnt && e->arg.empty()) {
            *err = "fetch method '" + e->name + "': missing " +
                   (e->def->id == Fetch::NbSrv ? "backend name" : e->def->id == Fetch::UrlParam ? "parameter name"
                                                                                             : "header name");
            return nullptr;
        }
        if (a.size() > 1 && e->def->id == Fetch::UrlParam) {
            if (a[1].size() != 1) {
                *err = "fetch method '" + e->name + "': the delimiter must be one character, not '" + a[1] + "'";
                return nullptr;
            }
            e->delim = a[1][0];
        } else if (a.size() > 1) {
            int64_t occ = 0;
            if (!parse_int(a[1], &occ) || occ < -1000 || occ > 1000) {
                *err = "fetch method '" + e->name + "': invalid occurrence '" + a[1] + "'";
                return nullptr;
            }
            e->occ = static_cast<int>(occ);
        }
        break;
    case Fetch::Int:
        if (!parse_int(a[0], &e->int_const)) {
            *err = "fetch method 'int': invalid integer '" + a[0] + "'";
            return nullptr;
        }
        break;
    default: break;
    }
    // Converters.
    std::string_view rest = text.substr(end);
    while (!rest.empty()) {
        if (rest[0] != ',') {
            *err = "unexpected '" + std::string(rest) + "' after fetch method '" + e->name + "'";
            return nullptr;
        }
        rest.remove_prefix(1);
        std::string_view cname, cargs;
        bool chas = false;
        size_t cend = 0;
        if (!split_call(rest, &cname, &cargs, &chas, &cend, err))
            return nullptr;
        if (cname.empty()) {
            *err = "missing converter name after ',' in '" + std::string(text) + "'";
            return nullptr;
        }
        const ConvDef* cd = nullptr;
        for (const auto& d : kConvs)
            if (cname == d.name)
                cd = &d;
        if (!cd) {
            bool known = false;
            for (const char* u : kUnsupportedConvs)
                known |= cname == u;
            *err = known ? "converter '" + std::string(cname) + "' is not supported yet"
                         : "unknown converter '" + std::string(cname) + "'";
            return nullptr;
        }
        ConvStep step{cd->id, {}, 0};
        if (cd->id == Conv::SetVar || cd->id == Conv::UnsetVar) {
            std::vector<std::string> ca;
            if (chas)
                ca = split_args(cargs);
            if (ca.empty() || ca[0].empty()) {
                *err = "converter '" + std::string(cname) + "' expects a variable name";
                return nullptr;
            }
            if (cd->id == Conv::UnsetVar && ca.size() > 1) {
                *err = "converter 'unset-var' expects only a variable name";
                return nullptr;
            }
            std::string verr;
            if (!parse_var_name(ca[0], &step.var, &verr)) {
                *err = "converter '" + std::string(cname) + "': " + verr;
                return nullptr;
            }
            for (size_t k = 1; k < ca.size(); ++k) {
                if (!parse_var_cond(ca[k], &step.var_conds, &verr)) {
                    *err = "converter '" + std::string(cname) + "': " + verr;
                    return nullptr;
                }
            }
        } else if (chas && !cargs.empty()) {
            *err = "converter '" + std::string(cname) + "' takes no argument";
            return nullptr;
        }
        e->convs.push_back(std::move(step));
        rest = rest.substr(cend);
    }
    return e;
}

bool eval_sample(const SampleExpr& e, const StreamInfo& s, SampleValue* out) {
    return eval_sample(e, s, out, SampleDir::Request);
}

bool eval_sample(const SampleExpr& e, const StreamInfo& s, SampleValue* out, SampleDir dir) {
    out->type = T::None;
    if (!fetch_one(e, s, dir, out))
        return false;
    return apply_convs(e, s, out);
}

bool eval_sample_each(const SampleExpr& e, const StreamInfo& s, SampleDir dir, SampleValue* scratch,
                      SampleVisitor fn, void* ctx) {
    scratch->type = T::None;
    Fetch id = e.def->id;
    bool multi_hdr = (id == Fetch::Hdr || id == Fetch::FHdr || id == Fetch::HdrVal || id == Fetch::HdrIp) &&
                     e.occ == 0;
    if (multi_hdr) {
        const HttpHead* h = msg_of(e, s, dir);
        if (!h)
            return false;
        return for_each_hdr(*h, e.arg, id == Fetch::FHdr, [&](std::string_view v) {
            if (!typed_hdr_value(e, v, scratch) || !apply_convs(e, s, scratch))
                return false;
            return fn(ctx, *scratch);
        });
    }
    if (id == Fetch::UrlParam) {
        if (!s.req)
            return false;
        return for_each_param(s.req->query(), e.arg, e.delim, [&](std::string_view v) {
            set_str(v, scratch);
            if (!apply_convs(e, s, scratch))
                return false;
            return fn(ctx, *scratch);
        });
    }
    if (!eval_sample(e, s, scratch, dir))
        return false;
    return fn(ctx, *scratch);
}

SampleValue::Type sample_type(const SampleExpr& e) {
    T t = e.def->type;
    for (const ConvStep& c : e.convs) {
        if (c.id != Conv::SetVar && c.id != Conv::UnsetVar)
            t = c.id == Conv::Length ? T::Int : T::Str;
    }
    return t;
}

bool sample_needs_response(const SampleExpr& e) { return e.def->msg == Msg::Res; }
bool sample_needs_request(const SampleExpr& e) { return e.def->msg == Msg::Req; }
const std::string& sample_fetch_name(const SampleExpr& e) { return e.name; }

std::vector<std::string> sample_backend_refs(const SampleExpr& e) {
    if (e.def->id == Fetch::NbSrv)
        return {e.arg};
    return {};
}

void sample_to_string(const SampleValue& v, std::string* out) {
    switch (v.type) {
    case T::None: return;
    case T::Str: out->append(v.str); return;
    case T::Int:
    case T::Bool: {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, v.i);
        out->append(buf, r.ptr);
        return;
    }
    case T::Ip: {
        char buf[INET6_ADDRSTRLEN];
        const void* a = v.ip.ss_family == AF_INET
                            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&v.ip)->sin_addr)
                            : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&v.ip)->sin6_addr);
        if (inet_ntop(v.ip.ss_family, a, buf, sizeof buf))
            out->append(buf);
        return;
    }
    }
}

}  // namespace proxyd::common
