#include "common/rules.h"

#include <netinet/in.h>

#include <algorithm>

namespace proxyd::common {

// ---------------------------------------------------------------------------------------------
// RuleFormat

namespace {
// Log-format variables HAProxy knows but rule values here do not expand.
constexpr const char* kLogOnlyVars[] = {
    "B", "CC", "CS", "H", "HM", "HP", "HPO", "HQ", "HU", "HV", "Ta", "Tc", "Td", "Th", "Ti", "Tq", "Tr",
    "Tt", "Tw", "T", "TR", "Tl", "Ts", "U", "ST", "ac", "bc", "bi", "bp", "bq", "br", "bs", "fc", "ft",
    "hr", "hrl", "hs", "hsl", "lc", "ms", "pid", "r", "rc", "rt", "sc", "si", "sp", "sq", "sslc", "sslv",
    "t", "tr", "trg", "trl", "ts", "tsc", "rc", "ci_", "pid", "rt",
};
}  // namespace

bool RuleFormat::parse(std::string_view text, std::string* err) {
    parts_.clear();
    text_ = std::string(text);
    auto lit = [&](std::string_view s) {
        if (s.empty())
            return;
        if (parts_.empty() || parts_.back().expr || parts_.back().var != Var::None)
            parts_.emplace_back();
        parts_.back().lit.append(s);
    };
    size_t i = 0;
    while (i < text.size()) {
        size_t pct = text.find('%', i);
        if (pct == std::string_view::npos) {
            lit(text.substr(i));
            break;
        }
        lit(text.substr(i, pct - i));
        if (pct + 1 >= text.size()) {
            *err = "unexpected '%' at the end of '" + text_ + "' (write '%%' for a percent sign)";
            return false;
        }
        char n = text[pct + 1];
        if (n == '%') {
            lit("%");
            i = pct + 2;
            continue;
        }
        if (n == '{') {
            *err = "format flags '%{...}' in '" + text_ + "' are not supported yet";
            return false;
        }
        if (n == '[') {
            size_t close = text.find(']', pct + 2);
            if (close == std::string_view::npos) {
                *err = "missing ']' after '%[' in '" + text_ + "'";
                return false;
            }
            std::string serr;
            auto e = parse_sample_expr(text.substr(pct + 2, close - pct - 2), &serr);
            if (!e) {
                *err = serr + " in '" + text_ + "'";
                return false;
            }
            Part p;
            p.expr = std::move(e);
            parts_.push_back(std::move(p));
            i = close + 1;
            continue;
        }
        size_t j = pct + 1;
        while (j < text.size() && ((text[j] >= 'a' && text[j] <= 'z') || (text[j] >= 'A' && text[j] <= 'Z') ||
                                   text[j] == '_'))
            ++j;
        std::string_view name = text.substr(pct + 1, j - pct - 1);
        Var v = Var::None;
        if (name == "ci")
            v = Var::Ci;
        else if (name == "cp")
            v = Var::Cp;
        else if (name == "fi")
            v = Var::Fi;
        else if (name == "fp")
            v = Var::Fp;
        else if (name == "f")
            v = Var::Fe;
        else if (name == "b")
            v = Var::Be;
        else if (name == "s")
            v = Var::Srv;
        else if (name == "ID")
            v = Var::Id;
        if (v == Var::None) {
            bool known = std::any_of(std::begin(kLogOnlyVars), std::end(kLogOnlyVars),
                                     [&](const char* k) { return name == k; });
            *err = known ? "format variable '%" + std::string(name) + "' in '" + text_ +
                               "' is not supported in rule values (only %ci %cp %fi %fp %f %b %s %ID and %[...])"
                         : "unknown format variable '%" + std::string(name) + "' in '" + text_ + "'";
            return false;
        }
        Part p;
        p.var = v;
        parts_.push_back(std::move(p));
        i = j;
    }
    return true;
}

bool RuleFormat::is_literal() const {
    return std::all_of(parts_.begin(), parts_.end(), [](const Part& p) { return !p.expr && p.var == Var::None; });
}

bool RuleFormat::needs_response() const {
    return std::any_of(parts_.begin(), parts_.end(),
                       [](const Part& p) { return p.expr && sample_needs_response(*p.expr); });
}

namespace {
thread_local SampleValue t_val;

void append_addr(const sockaddr_storage* a, bool port, std::string* out) {
    if (!a)
        return;
    if (a->ss_family == AF_UNIX) {
        out->append("unix");
        return;
    }
    if (a->ss_family != AF_INET && a->ss_family != AF_INET6)
        return;
    SampleValue& v = t_val;
    if (port) {
        v.type = SampleValue::Type::Int;
        v.i = ntohs(a->ss_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(a)->sin_port
                                             : reinterpret_cast<const sockaddr_in6*>(a)->sin6_port);
    } else {
        v.type = SampleValue::Type::Ip;
        v.ip = *a;
    }
    sample_to_string(v, out);
}
}  // namespace

void RuleFormat::eval(const StreamInfo& s, SampleDir dir, std::string* out) const {
    for (const auto& p : parts_) {
        if (p.expr) {
            if (eval_sample(*p.expr, s, &t_val, dir))
                sample_to_string(t_val, out);
            continue;
        }
        switch (p.var) {
        case Var::None: out->append(p.lit); break;
        case Var::Ci: append_addr(s.src, false, out); break;
        case Var::Cp: append_addr(s.src, true, out); break;
        case Var::Fi: append_addr(s.dst, false, out); break;
        case Var::Fp: append_addr(s.dst, true, out); break;
        case Var::Fe: out->append(s.frontend); break;
        case Var::Be: out->append(s.backend); break;
        case Var::Srv: out->append(s.server); break;
        case Var::Id: break;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request target pieces

namespace {

struct UriParts {
    std::string_view head;   // "scheme://authority" of an absolute-form target, else ""
    std::string_view path;   // up to '?'
    std::string_view query;  // after '?'
    bool has_query = false;
};

UriParts split_uri(std::string_view uri) {
    UriParts u;
    size_t start = 0;
    if (!uri.empty() && uri[0] != '/') {
        size_t scheme = uri.find("://");
        if (scheme != std::string_view::npos) {
            start = uri.find_first_of("/?", scheme + 3);
            if (start == std::string_view::npos)
                start = uri.size();
        }
    }
    u.head = uri.substr(0, start);
    std::string_view rest = uri.substr(start);
    size_t q = rest.find('?');
    if (q == std::string_view::npos) {
        u.path = rest;
    } else {
        u.path = rest.substr(0, q);
        u.query = rest.substr(q + 1);
        u.has_query = true;
    }
    return u;
}

thread_local std::string t_buf, t_buf2, t_buf3;
thread_local SampleValue t_var_val;

bool name_matches(const HttpRule& r, std::string_view name) {
    auto lower_eq_at = [](std::string_view s, size_t at, std::string_view p) {
        return at + p.size() <= s.size() && ascii_iequals(s.substr(at, p.size()), p);
    };
    switch (r.del_match) {
    case MatchMethod::Beg: return lower_eq_at(name, 0, r.name);
    case MatchMethod::End: return name.size() >= r.name.size() && lower_eq_at(name, name.size() - r.name.size(), r.name);
    case MatchMethod::Sub:
        for (size_t i = 0; i + r.name.size() <= name.size(); ++i)
            if (lower_eq_at(name, i, r.name))
                return true;
        return false;
    case MatchMethod::Reg: return r.re->match(name);
    default: return ascii_iequals(name, r.name);
    }
}

// replace-header (whole value) / replace-value (each comma-separated value).
void replace_in_fields(const HttpRule& r, HttpHead& h, std::string_view repl, bool per_value) {
    for (auto& f : h.fields) {
        if (!ascii_iequals(f.name, r.name))
            continue;
        std::string& out = t_buf2;
        out.clear();
        if (!per_value) {
            if (r.re->replace(f.value, repl, &out))
                f.value = h.store(out);
            continue;
        }
        bool changed = false;
        std::string_view v = f.value;
        size_t pos = 0;
        while (true) {
            size_t c = v.find(',', pos);
            std::string_view seg = v.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos);
            size_t lead = 0;
            while (lead < seg.size() && (seg[lead] == ' ' || seg[lead] == '\t'))
                ++lead;
            size_t end = seg.size();
            while (end > lead && (seg[end - 1] == ' ' || seg[end - 1] == '\t'))
                --end;
            out.append(seg.substr(0, lead));
            if (r.re->replace(seg.substr(lead, end - lead), repl, &out))
                changed = true;
            else
                out.append(seg.substr(lead, end - lead));
            out.append(seg.substr(end));
            if (c == std::string_view::npos)
                break;
            out.push_back(',');
            pos = c + 1;
        }
        if (changed)
            f.value = h.store(out);
    }
}

RuleOutcome build_redirect(const HttpRule& r, const HttpHead& req, const StreamInfo& s) {
    RuleOutcome o;
    o.kind = RuleOutcome::Kind::Redirect;
    o.status = r.status ? r.status : 302;
    std::string& loc = o.location;
    r.fmt.eval(s, SampleDir::Request, &loc);
    if (loc.empty() && r.ignore_empty)
        return RuleOutcome{};  // ignore-empty: the rule does nothing
    if (r.redirect == HttpRule::RedirectType::Location)
        return o;
    if (r.redirect == HttpRule::RedirectType::Prefix) {
        // A prefix of exactly "/" inserts nothing before the original path.
        if (loc == "/")
            loc.clear();
    } else {
        loc.append("://");
        int h = req.find("host");
        if (h >= 0)
            loc.append(req.fields[static_cast<size_t>(h)].value);
    }
    UriParts u = split_uri(req.uri);
    loc.append(u.path.empty() ? std::string_view("/") : u.path);
    if (r.append_slash && (u.path.empty() ? '/' : u.path.back()) != '/')
        loc.push_back('/');
    if (u.has_query && !r.drop_query) {
        loc.push_back('?');
        loc.append(u.query);
    }
    return o;
}

RuleOutcome build_return(const HttpRule& r, const StreamInfo& s, SampleDir dir) {
    RuleOutcome o;
    o.kind = RuleOutcome::Kind::Return;
    o.status = r.status ? r.status : 200;
    o.has_body = r.has_body;
    o.content_type = r.content_type;
    if (r.is_lf_body)
        r.body_fmt.eval(s, dir, &o.body);
    else
        o.body = r.body;
    return o;
}

// Applies one non-final action to `h`. `dir` says which message `h` is.
void apply_edit(const HttpRule& r, HttpHead& h, const StreamInfo& s, SampleDir dir) {
    using A = HttpRule::Action;
    std::string& v = t_buf;
    v.clear();
    switch (r.action) {
    case A::SetHeader:
    case A::AddHeader:
        r.fmt.eval(s, dir, &v);
        if (r.action == A::SetHeader)
            h.set(r.name, v);
        else
            h.add(r.name, v);
        return;
    case A::DelHeader:
        if (r.del_match == MatchMethod::Str)
            h.del(r.name);
        else
            std::erase_if(h.fields, [&](const HttpField& f) { return name_matches(r, f.name); });
        return;
    case A::ReplaceHeader:
    case A::ReplaceValue:
        r.fmt.eval(s, dir, &v);
        replace_in_fields(r, h, v, r.action == A::ReplaceValue);
        return;
    case A::SetMethod:
        r.fmt.eval(s, dir, &v);
        h.set_method(v);
        return;
    case A::SetUri:
        r.fmt.eval(s, dir, &v);
        h.set_uri(v);
        return;
    case A::ReplaceUri: {
        r.fmt.eval(s, dir, &v);
        std::string& out = t_buf3;
        out.clear();
        if (r.re->replace(h.uri, v, &out))
            h.set_uri(out);
        return;
    }
    case A::SetPath:
    case A::SetPathQ:
    case A::SetQuery:
    case A::ReplacePath: {
        r.fmt.eval(s, dir, &v);
        UriParts u = split_uri(h.uri);
        std::string& out = t_buf3;
        out.assign(u.head);
        if (r.action == A::SetPath) {
            out.append(v);
        } else if (r.action == A::SetPathQ) {
            out.append(v);  // path and query given together
            h.set_uri(out);
            return;
        } else if (r.action == A::ReplacePath) {
            std::string& np = t_buf2;
            np.clear();
            if (!r.re->replace(u.path, v, &np))
                return;
            out.append(np);
        } else {
            out.append(u.path);
            // An empty query removes the '?' too.
            if (!v.empty()) {
                out.push_back('?');
                out.append(v);
            }
            h.set_uri(out);
            return;
        }
        if (u.has_query) {
            out.push_back('?');
            out.append(u.query);
        }
        h.set_uri(out);
        return;
    }
    case A::SetStatus:
        h.status = r.status;
        h.reason = r.reason.empty() ? http_reason(r.status) : h.store(r.reason);
        return;
    case A::SetVar:
        // A sample that is not found stores nothing, as in HAProxy.
        if (eval_sample(*r.expr, s, &t_var_val, dir))
            var_set(s.vars, r.var, t_var_val, r.var_conds);
        return;
    case A::SetVarFmt: {
        r.fmt.eval(s, dir, &v);
        SampleValue& sv = t_var_val;
        sv.type = SampleValue::Type::Str;
        sv.str = v;
        var_set(s.vars, r.var, sv, r.var_conds);
        return;
    }
    case A::UnsetVar: var_unset(s.vars, r.var); return;
    default: return;
    }
}

}  // namespace

namespace {
// One rule set, in order, until a final verdict. Which actions a set may hold is checked when
// parsing (redirect only in requests; no deny/return/redirect after the response), so one
// loop serves the three sets.
RuleOutcome run_rules(const std::vector<HttpRule>& rules, HttpHead& head, const StreamInfo& s, SampleDir dir,
                      int deny_status) {
    using A = HttpRule::Action;
    RuleOutcome verdict;
    for (const auto& rule : rules) {
        if (!cond_match(rule.cond.get(), s, dir))
            continue;
        if (rule.action == A::Allow) {
            verdict.kind = RuleOutcome::Kind::Allow;
            break;
        }
        if (rule.action == A::Deny) {
            RuleOutcome o;
            o.kind = RuleOutcome::Kind::Deny;
            o.status = rule.status ? rule.status : deny_status;
            return o;
        }
        if (rule.action == A::Redirect) {
            RuleOutcome o = build_redirect(rule, head, s);
            if (o.kind != RuleOutcome::Kind::Continue)
                return o;
            continue;
        }
        if (rule.action == A::Return)
            return build_return(rule, s, dir);
        apply_edit(rule, head, s, dir);
    }
    return verdict;
}
}  // namespace

RuleOutcome apply_http_request_rules(const ProxyRules& r, HttpHead& req, const StreamInfo& s) {
    RuleOutcome verdict = run_rules(r.http_request, req, s, SampleDir::Request, 403);
    if (verdict.kind != RuleOutcome::Kind::Continue && verdict.kind != RuleOutcome::Kind::Allow)
        return verdict;
    for (const auto& rule : r.redirects) {
        if (!cond_match(rule.cond.get(), s, SampleDir::Request))
            continue;
        RuleOutcome o = build_redirect(rule, req, s);
        if (o.kind != RuleOutcome::Kind::Continue)
            return o;
    }
    return verdict;
}

RuleOutcome apply_http_response_rules(const ProxyRules& r, HttpHead& res, const StreamInfo& s) {
    if (s.vars)
        s.vars->begin_response();
    return run_rules(r.http_response, res, s, SampleDir::Response, 502);
}

RuleOutcome apply_http_after_response_rules(const ProxyRules& r, HttpHead& res, const StreamInfo& s) {
    if (s.vars)
        s.vars->begin_response();
    return run_rules(r.http_after_response, res, s, SampleDir::Response, 502);
}

bool has_after_response_rules(const ProxyRules& r) { return !r.http_after_response.empty(); }

std::string_view select_backend(const ProxyRules& r, const StreamInfo& s, std::string* scratch) {
    for (const auto& u : r.use_backends) {
        if (!cond_match(u.cond.get(), s, SampleDir::Request))
            continue;
        if (!u.dynamic)
            return u.name;
        scratch->clear();
        u.fmt.eval(s, SampleDir::Request, scratch);
        return *scratch;
    }
    return {};
}

bool rules_empty(const ProxyRules& r) {
    return r.use_backends.empty() && r.http_request.empty() && r.http_response.empty() &&
           r.http_after_response.empty() && r.redirects.empty();
}

std::string_view http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

}  // namespace proxyd::common
