// Keywords acl, use_backend, http-request, http-response, http-after-response and redirect
// (HAProxy 2.6 syntax):
// compiled into ProxyConf::rules (common/rules.h). Every message names the keyword.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "common/config_parse.h"

namespace proxyd::common {

namespace {

constexpr const char* kRuleKeywords[] = {"acl", "use_backend", "http-request", "http-response", "http-after-response",
                                         "redirect"};

// Which rule set an http-* keyword fills.
enum class RuleSet : uint8_t { Request, Response, AfterResponse };

// HAProxy 2.6 actions proxyd recognises and refuses.
constexpr const char* kUnsupportedActions[] = {
    "add-acl", "auth", "cache-store", "cache-use", "capture", "del-acl", "del-map", "disable-l7-retry",
    "do-resolve", "early-hint", "lua", "normalize-uri", "reject", "replace-pathq", "sc-add-gpc", "sc-inc-gpc",
    "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt", "sc-set-gpt0", "send-spoe-group", "set-bandwidth-limit",
    "set-dst", "set-dst-port", "set-fc-mark", "set-fc-tos", "set-log-level", "set-map", "set-mark", "set-nice",
    "set-priority-class", "set-priority-offset", "set-src", "set-src-port", "set-timeout", "set-tos",
    "silent-drop", "strict-mode", "tarpit", "track-sc0", "track-sc1",
    "track-sc2", "use-service", "wait-for-body", "wait-for-handshake",
};

bool contains(std::span<const char* const> list, std::string_view w) {
    return std::any_of(list.begin(), list.end(), [&](const char* k) { return w == k; });
}

bool parse_int_in(const std::string& s, int lo, int hi, int* out) {
    if (s.empty() || s.size() > 9)
        return false;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool read_whole_file(const std::string& path, std::string* out, std::string* err) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = "cannot open file '" + path + "': " + std::strerror(errno);
        return false;
    }
    char buf[8192];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *err = "cannot read file '" + path + "': " + std::strerror(errno);
            ::close(fd);
            return false;
        }
        if (n == 0)
            break;
        out->append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return true;
}

// Parses one keyword line for a proxy.
class RuleParser {
public:
    RuleParser(ProxyKw& k, const Line& l) : k_(k), l_(l) {}

    void acl() {
        const auto& w = l_.w;
        if (k_.is_defaults)
            return error("'acl' not allowed in 'defaults' section");
        if (w.size() < 2)
            return error("'acl' expects <name> <criterion> [flags] [patterns]: missing ACL name");
        const std::string& name = w[1];
        for (char c : name) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == ':';
            if (!ok)
                return error("acl '" + name + "': name contains invalid character '" + std::string(1, c) + "'");
        }
        if (w.size() < 3)
            return error("acl '" + name + "': missing criterion");
        std::string err, warn;
        auto e = parse_acl_expr(std::span<const std::string>(w.data() + 2, w.size() - 2), &err, &warn);
        if (!e)
            return error("acl '" + name + "': " + err);
        if (!warn.empty())
            k_.diag.warning(l_.loc, "acl '" + name + "': " + warn);
        auto& acls = k_.conf.rules.acls;
        auto it = std::find_if(acls.begin(), acls.end(), [&](const auto& a) { return a->name == name; });
        if (it == acls.end()) {
            auto a = std::make_shared<Acl>();
            a->name = name;
            acls.push_back(a);
            it = acls.end() - 1;
        }
        (*it)->exprs.push_back(std::move(e));
    }

    void use_backend() {
        const auto& w = l_.w;
        if (k_.is_defaults)
            return error("'use_backend' not allowed in 'defaults' section");
        if (w.size() < 2 || w[1] == "if" || w[1] == "unless")
            return error("'use_backend' expects a backend name");
        UseBackendRule u;
        u.name = w[1];
        u.loc = RuleLoc{l_.loc.file, l_.loc.line};
        if (u.name.find('%') != std::string::npos) {
            std::string err;
            if (!u.fmt.parse(u.name, &err))
                return error("'use_backend': " + err);
            u.dynamic = !u.fmt.is_literal();
            if (!u.dynamic)
                u.name = literal_of(u.fmt);
            if (u.fmt.needs_response())
                return error("'use_backend': the backend name '" + u.name + "' reads the response, which is not "
                             "available yet");
        }
        if (!condition(2, "use_backend", false, &u.cond))
            return;
        if (!k_.conf.is_frontend) {
            k_.diag.warning(l_.loc, std::string("'use_backend' ignored because ") + k_.type + " '" + k_.conf.name +
                                        "' has no frontend capability");
            return;
        }
        k_.conf.rules.use_backends.push_back(std::move(u));
    }

    void redirect_kw() {
        if (k_.is_defaults)
            return error("'redirect' not allowed in 'defaults' section");
        HttpRule r;
        r.action = HttpRule::Action::Redirect;
        size_t end = 0;
        if (!redirect_args(1, "redirect", &r, &end))
            return;
        if (!condition(end, "redirect", false, &r.cond))
            return;
        r.loc = RuleLoc{l_.loc.file, l_.loc.line};
        k_.conf.rules.redirects.push_back(std::move(r));
    }

    void http_rule(RuleSet set) {
        const auto& w = l_.w;
        const bool response = set != RuleSet::Request;
        const bool after = set == RuleSet::AfterResponse;
        const std::string kw = after ? "http-after-response" : response ? "http-response" : "http-request";
        if (k_.is_defaults)
            return error("'" + kw + "' not allowed in 'defaults' section (rules in defaults are not supported "
                         "yet)");
        if (w.size() < 2 || w[1] == "if" || w[1] == "unless")
            return error("'" + kw + "' expects an action (allow, " +
                         (after      ? "set-status, "
                          : response ? "deny, set-status, "
                                     : "deny, redirect, set-path, ") +
                         "set-header...)");
        const std::string& act = w[1];
        std::string what = kw + " " + act;
        size_t ci = 2;
        while (ci < w.size() && w[ci] != "if" && w[ci] != "unless")
            ++ci;
        std::vector<std::string> args(w.begin() + 2, w.begin() + static_cast<std::ptrdiff_t>(ci));
        HttpRule r;
        r.loc = RuleLoc{l_.loc.file, l_.loc.line};
        using A = HttpRule::Action;
        auto need = [&](size_t n, const char* usage) {
            if (args.size() == n)
                return true;
            error("'" + what + "' expects exactly " + std::to_string(n) + " argument" + (n > 1 ? "s" : "") + " " +
                  usage + ", got " + std::to_string(args.size()));
            return false;
        };
        auto fmt = [&](const std::string& text, RuleFormat* f) {
            std::string err;
            if (!f->parse(text, &err)) {
                error("'" + what + "': " + err);
                return false;
            }
            if (!response && f->needs_response()) {
                error("'" + what + "': '" + text + "' reads the response, which http-request rules cannot use");
                return false;
            }
            return true;
        };
        auto regex = [&](const std::string& text, std::shared_ptr<const Regex>* out) {
            std::string err;
            *out = Regex::compile(text, false, &err);
            if (!*out)
                error("'" + what + "': " + err);
            return *out != nullptr;
        };
        auto header_name = [&](const std::string& n) {
            if (!n.empty())
                return true;
            error("'" + what + "': empty header name");
            return false;
        };
        // The actions http-after-response lacks (HAProxy 2.6): they would replace the response.
        const bool final_action = act == "deny" || act == "return" || act == "redirect";
        if (act == "allow") {
            if (!args.empty())
                return error("'" + what + "' takes no argument, got '" + args[0] + "'");
            r.action = A::Allow;
        } else if (after && final_action) {
            return error("'" + kw + "': unknown action '" + act + "' (supported: allow, set-header, add-header, "
                         "del-header, replace-header, replace-value, set-status, set-var, set-var-fmt, unset-var)");
        } else if (act.rfind("set-var", 0) == 0 || act.rfind("unset-var", 0) == 0) {
            if (!var_action(act, args, what, response, &r))
                return;
        } else if (act == "deny") {
            r.action = A::Deny;
            for (size_t i = 0; i < args.size(); ++i) {
                if (args[i] == "deny_status" || args[i] == "status") {
                    if (i + 1 >= args.size() || !parse_int_in(args[i + 1], 200, 599, &r.status))
                        return error("'" + what + "': '" + args[i] + "' expects an HTTP status code between 200 "
                                     "and 599" + (i + 1 < args.size() ? ", got '" + args[i + 1] + "'" : ""));
                    ++i;
                } else if (args[i] == "content-type" || args[i] == "string" || args[i] == "lf-string" ||
                           args[i] == "file" || args[i] == "lf-file" || args[i] == "errorfile" ||
                           args[i] == "errorfiles" || args[i] == "default-errorfiles" || args[i] == "hdr") {
                    return error("'" + what + "': option '" + args[i] + "' is not supported yet (use '" + kw +
                                 " return' for a custom response)");
                } else {
                    return error("'" + what + "': expects 'deny_status <code>', 'if' or 'unless', got '" + args[i] +
                                 "'");
                }
            }
        } else if (act == "redirect" && !response) {
            r.action = A::Redirect;
            size_t end = 0;
            if (!redirect_args(2, what, &r, &end))
                return;
            ci = end;
        } else if (act == "return") {
            r.action = A::Return;
            if (!return_args(args, what, &r))
                return;
        } else if (act == "set-header" || act == "add-header") {
            if (!need(2, "(<name> <fmt>)") || !header_name(args[0]) || !fmt(args[1], &r.fmt))
                return;
            r.action = act == "set-header" ? A::SetHeader : A::AddHeader;
            r.name = args[0];
        } else if (act == "del-header") {
            r.action = A::DelHeader;
            if (args.size() == 3 && args[1] == "-m") {
                const std::string& m = args[2];
                if (m == "str")
                    r.del_match = MatchMethod::Str;
                else if (m == "beg")
                    r.del_match = MatchMethod::Beg;
                else if (m == "end")
                    r.del_match = MatchMethod::End;
                else if (m == "sub")
                    r.del_match = MatchMethod::Sub;
                else if (m == "reg")
                    r.del_match = MatchMethod::Reg;
                else
                    return error("'" + what + "': unknown matching method '" + m +
                                 "' (expects str, beg, end, sub or reg)");
                if (r.del_match == MatchMethod::Reg) {
                    std::string err;
                    r.re = Regex::compile(args[0], true, &err);
                    if (!r.re)
                        return error("'" + what + "': " + err);
                }
            } else if (args.size() != 1) {
                return error("'" + what + "' expects <name> [-m <method>], got " + std::to_string(args.size()) +
                             " arguments");
            }
            if (!header_name(args[0]))
                return;
            r.name = args[0];
        } else if (act == "replace-header" || act == "replace-value") {
            if (!need(3, "(<name> <regex> <replace-fmt>)") || !header_name(args[0]) || !regex(args[1], &r.re) ||
                !fmt(args[2], &r.fmt))
                return;
            r.action = act == "replace-header" ? A::ReplaceHeader : A::ReplaceValue;
            r.name = args[0];
        } else if (!response && (act == "set-path" || act == "set-pathq" || act == "set-query" ||
                                 act == "set-uri" || act == "set-method")) {
            if (!need(1, "(<fmt>)") || !fmt(args[0], &r.fmt))
                return;
            r.action = act == "set-path"    ? A::SetPath
                       : act == "set-pathq" ? A::SetPathQ
                       : act == "set-query" ? A::SetQuery
                       : act == "set-uri"   ? A::SetUri
                                            : A::SetMethod;
        } else if (!response && (act == "replace-path" || act == "replace-uri")) {
            if (!need(2, "(<regex> <replace-fmt>)") || !regex(args[0], &r.re) || !fmt(args[1], &r.fmt))
                return;
            r.action = act == "replace-path" ? A::ReplacePath : A::ReplaceUri;
        } else if (response && act == "set-status") {
            r.action = A::SetStatus;
            if (args.empty() || !parse_int_in(args[0], 100, 999, &r.status))
                return error("'" + what + "' expects an HTTP status code between 100 and 999" +
                             (args.empty() ? std::string() : ", got '" + args[0] + "'"));
            if (args.size() == 3 && args[1] == "reason")
                r.reason = args[2];
            else if (args.size() != 1)
                return error("'" + what + "' expects <status> [reason <text>]");
        } else if (contains(kUnsupportedActions, act.substr(0, act.find('('))) || (response && act == "redirect")) {
            return error("'" + what + "' is not supported yet");
        } else {
            return error("'" + kw + "': unknown action '" + act + "' (supported: " +
                         (after      ? "allow, set-header, add-header, del-header, replace-header, replace-value, "
                                       "set-status, "
                          : response ? "allow, deny, return, set-header, add-header, del-header, replace-header, "
                                       "replace-value, set-status, "
                                     : "allow, deny, redirect, return, set-header, add-header, del-header, "
                                       "replace-header, replace-value, set-path, set-pathq, set-query, set-uri, "
                                       "set-method, replace-path, replace-uri, ") +
                         "set-var, set-var-fmt, unset-var)");
        }
        if (!condition(ci, what, response, &r.cond))
            return;
        auto& rules = k_.conf.rules;
        (after ? rules.http_after_response : response ? rules.http_response : rules.http_request)
            .push_back(std::move(r));
    }

private:
    void error(std::string msg) { k_.diag.error(l_.loc, std::move(msg)); }

    // set-var(NAME[,COND...]) EXPR, set-var-fmt(NAME[,COND...]) FMT, unset-var(NAME).
    bool var_action(const std::string& act, const std::vector<std::string>& args, const std::string& what,
                    bool response, HttpRule* r) {
        using A = HttpRule::Action;
        std::string_view a = act;
        A kind = a.rfind("set-var-fmt", 0) == 0 ? A::SetVarFmt : a.rfind("set-var", 0) == 0 ? A::SetVar : A::UnsetVar;
        std::string_view base = kind == A::SetVarFmt ? "set-var-fmt" : kind == A::SetVar ? "set-var" : "unset-var";
        std::string_view rest = a.substr(base.size());
        if (rest.empty() || rest.front() != '(' || rest.back() != ')') {
            error("'" + what + "': invalid or incomplete action, expects 'set-var(<var-name>)', "
                  "'set-var-fmt(<var-name>)' or 'unset-var(<var-name>)'");
            return false;
        }
        rest = rest.substr(1, rest.size() - 2);
        std::string_view name = rest.substr(0, rest.find(','));
        std::string err;
        if (!parse_var_name(name, &r->var, &err)) {
            error("'" + what + "': " + err);
            return false;
        }
        if (name.size() < rest.size()) {
            if (kind == A::UnsetVar) {
                error("'" + what + "': unset-var takes no condition after the variable name");
                return false;
            }
            std::string_view conds = rest.substr(name.size() + 1);
            while (true) {
                size_t c = conds.find(',');
                if (!parse_var_cond(conds.substr(0, c), &r->var_conds, &err)) {
                    error("'" + what + "': " + err);
                    return false;
                }
                if (c == std::string_view::npos)
                    break;
                conds.remove_prefix(c + 1);
            }
        }
        r->action = kind;
        if (kind == A::UnsetVar) {
            if (!args.empty()) {
                error("'" + what + "' takes no argument, got '" + args[0] + "'");
                return false;
            }
            return true;
        }
        if (args.size() != 1) {
            error("'" + what + "' expects exactly 1 argument " +
                  (kind == A::SetVar ? "(<expr>)" : "(<fmt>)") + ", got " + std::to_string(args.size()));
            return false;
        }
        if (kind == A::SetVarFmt) {
            if (!r->fmt.parse(args[0], &err)) {
                error("'" + what + "': " + err);
                return false;
            }
            if (!response && r->fmt.needs_response()) {
                error("'" + what + "': '" + args[0] + "' reads the response, which http-request rules cannot use");
                return false;
            }
            return true;
        }
        r->expr = parse_sample_expr(args[0], &err);
        if (!r->expr) {
            error("'" + what + "': " + err);
            return false;
        }
        if (!response && sample_needs_response(*r->expr)) {
            error("'" + what + "': '" + args[0] + "' reads the response, which http-request rules cannot use");
            return false;
        }
        return true;
    }

    static std::string literal_of(const RuleFormat& f) {
        // A literal format ("%%" only) renders without a stream.
        std::string out;
        f.eval(StreamInfo{}, SampleDir::Request, &out);
        return out;
    }

    // Parses "if|unless COND" at w[at..]; nothing there is fine (unconditional).
    bool condition(size_t at, const std::string& what, bool response, std::shared_ptr<const Condition>* out) {
        const auto& w = l_.w;
        if (at >= w.size())
            return true;
        if (w[at] != "if" && w[at] != "unless") {
            error("'" + what + "': unexpected '" + w[at] + "', expects 'if' or 'unless' followed by a condition");
            return false;
        }
        std::string err;
        const ProxyRules& rules = k_.conf.rules;
        AclLookup lookup = [&rules](std::string_view name) -> std::shared_ptr<const Acl> {
            for (const auto& a : rules.acls)
                if (a->name == name)
                    return a;
            return nullptr;
        };
        *out = parse_condition(std::span<const std::string>(w.data() + at, w.size() - at), lookup, &err);
        if (!*out) {
            error("'" + what + "': " + err);
            return false;
        }
        if (!response && (*out)->needs_response) {
            error("'" + what + "': the condition uses '" + (*out)->first_response_fetch +
                  "', which reads the response and is not available to this rule");
            out->reset();
            return false;
        }
        return true;
    }

    // "location|prefix|scheme <value> [code N] [drop-query] [append-slash]" at w[at..]; *end is
    // where the condition (if any) starts.
    // location|prefix|scheme VALUE [code N] [drop-query] [append-slash] [ignore-empty], the
    // options in any order (before or after the type), as HAProxy accepts them.
    bool redirect_args(size_t at, const std::string& what, HttpRule* r, size_t* end) {
        const auto& w = l_.w;
        bool have_type = false;
        size_t i = at;
        for (; i < w.size() && w[i] != "if" && w[i] != "unless"; ++i) {
            const std::string& o = w[i];
            if (o == "location" || o == "prefix" || o == "scheme") {
                if (have_type) {
                    error("'" + what + "': only one of 'location', 'prefix' or 'scheme' may be given");
                    return false;
                }
                if (i + 1 >= w.size() || w[i + 1] == "if" || w[i + 1] == "unless") {
                    error("'" + what + " " + o + "' expects a value");
                    return false;
                }
                r->redirect = o == "location" ? HttpRule::RedirectType::Location
                              : o == "prefix" ? HttpRule::RedirectType::Prefix
                                              : HttpRule::RedirectType::Scheme;
                const std::string& v = w[++i];
                std::string err;
                if (!r->fmt.parse(v, &err)) {
                    error("'" + what + "': " + err);
                    return false;
                }
                if (r->fmt.needs_response()) {
                    error("'" + what + "': '" + v + "' reads the response, which is not available to redirects");
                    return false;
                }
                have_type = true;
            } else if (o == "code") {
                if (i + 1 >= w.size()) {
                    error("'" + what + "': 'code' expects 301, 302, 303, 307 or 308");
                    return false;
                }
                const std::string& c = w[++i];
                if (c != "301" && c != "302" && c != "303" && c != "307" && c != "308") {
                    error("'" + what + "': unsupported HTTP code '" + c + "' (expects 301, 302, 303, 307 or 308)");
                    return false;
                }
                r->status = std::stoi(c);
            } else if (o == "drop-query") {
                r->drop_query = true;
            } else if (o == "append-slash") {
                r->append_slash = true;
            } else if (o == "ignore-empty") {
                r->ignore_empty = true;
            } else if (o == "set-cookie" || o == "clear-cookie") {
                error("'" + what + "': option '" + o + "' is not supported yet");
                return false;
            } else {
                error("'" + what + "': expects 'location', 'prefix', 'scheme', 'code', 'drop-query', "
                      "'append-slash', 'ignore-empty', 'if' or 'unless', got '" + o + "'");
                return false;
            }
        }
        if (!have_type) {
            error("'" + what + "' expects 'location', 'prefix' or 'scheme' followed by a value");
            return false;
        }
        *end = i;
        return true;
    }

    bool return_args(const std::vector<std::string>& a, const std::string& what, HttpRule* r) {
        std::string payload_kw;
        for (size_t i = 0; i < a.size(); ++i) {
            const std::string& o = a[i];
            bool has_arg = i + 1 < a.size();
            if (o == "status") {
                if (!has_arg || !parse_int_in(a[i + 1], 200, 599, &r->status)) {
                    error("'" + what + "': 'status' expects an HTTP status code between 200 and 599" +
                          (has_arg ? ", got '" + a[i + 1] + "'" : std::string()));
                    return false;
                }
                ++i;
            } else if (o == "content-type") {
                if (!has_arg) {
                    error("'" + what + "': 'content-type' expects a value");
                    return false;
                }
                r->content_type = a[++i];
            } else if (o == "string" || o == "lf-string" || o == "file" || o == "lf-file") {
                if (!payload_kw.empty()) {
                    error("'" + what + "': '" + o + "' conflicts with '" + payload_kw + "': only one payload");
                    return false;
                }
                if (!has_arg) {
                    error("'" + what + "': '" + o + "' expects a value");
                    return false;
                }
                payload_kw = o;
                const std::string& v = a[++i];
                std::string text, err;
                if (o == "file" || o == "lf-file") {
                    if (!read_whole_file(v, &text, &err)) {
                        error("'" + what + "': " + err);
                        return false;
                    }
                } else {
                    text = v;
                }
                r->has_body = true;
                if (o[0] == 'l') {
                    if (!r->body_fmt.parse(text, &err)) {
                        error("'" + what + "': " + err);
                        return false;
                    }
                    r->is_lf_body = true;
                } else {
                    r->body = std::move(text);
                }
            } else if (o == "errorfile" || o == "errorfiles" || o == "default-errorfiles" || o == "hdr") {
                error("'" + what + "': option '" + o + "' is not supported yet");
                return false;
            } else {
                error("'" + what + "': expects 'status', 'content-type', 'string', 'lf-string', 'file' or "
                      "'lf-file', got '" + o + "'");
                return false;
            }
        }
        if (r->has_body && r->content_type.empty()) {
            error("'" + what + "': a 'content-type' is required with '" + payload_kw + "'");
            return false;
        }
        if (!r->has_body && !r->content_type.empty()) {
            k_.diag.warning(l_.loc, "'" + what + "': 'content-type' ignored without a payload");
            r->content_type.clear();
        }
        if (r->has_body && (r->status == 204 || r->status == 304)) {
            error("'" + what + "': status " + std::to_string(r->status) + " cannot have a payload");
            return false;
        }
        return true;
    }

    ProxyKw& k_;
    const Line& l_;
};

// Every condition of a proxy's rules, for validation.
template <class F>
void for_each_condition(const ProxyRules& r, F&& f) {
    for (const auto& u : r.use_backends)
        f(u.cond.get(), u.loc);
    for (const auto* v : {&r.http_request, &r.http_response, &r.http_after_response, &r.redirects})
        for (const auto& h : *v)
            f(h.cond.get(), h.loc);
}

const char* type_of(const ProxyConf& p) {
    if (p.is_frontend && p.is_backend)
        return "listen";
    return p.is_frontend ? "frontend" : "backend";
}

const char* mode_name(ProxyMode m) { return m == ProxyMode::Tcp ? "tcp" : "http"; }

}  // namespace

bool rules_proxy_keyword(ProxyKw& k, const Line& l) {
    const std::string& kw = l.w[0];
    if (!contains(kRuleKeywords, kw))
        return false;
    RuleParser p(k, l);
    if (kw == "acl")
        p.acl();
    else if (kw == "use_backend")
        p.use_backend();
    else if (kw == "redirect")
        p.redirect_kw();
    else
        p.http_rule(kw == "http-response"         ? RuleSet::Response
                    : kw == "http-after-response" ? RuleSet::AfterResponse
                                                  : RuleSet::Request);
    return true;
}

std::span<const char* const> rules_proxy_keywords() { return kRuleKeywords; }

void rules_validate(Diagnostics& d, std::span<ProxyConf* const> proxies) {
    auto find_backend = [&](std::string_view name) -> const ProxyConf* {
        for (const ProxyConf* p : proxies)
            if (p->is_backend && p->name == name)
                return p;
        return nullptr;
    };
    for (ProxyConf* p : proxies) {
        ProxyRules& r = p->rules;
        const char* type = type_of(*p);
        for (const auto& u : r.use_backends) {
            if (u.dynamic)
                continue;
            SourceLoc loc{u.loc.file, u.loc.line};
            const ProxyConf* be = find_backend(u.name);
            if (!be)
                d.error(loc, std::string(type) + " '" + p->name + "': unable to find required use_backend: '" +
                                 u.name + "'");
            else if (be->mode != p->mode)
                d.error(loc, std::string(type) + " '" + p->name + "' (mode " + mode_name(p->mode) +
                                 ") cannot use backend '" + be->name + "' (mode " + mode_name(be->mode) +
                                 ") in a 'use_backend' rule: modes must match");
        }
        std::set<const Acl*> seen;  // report a named ACL once, where it is first used
        for_each_condition(r, [&](const Condition* c, const RuleLoc& rl) {
            if (!c)
                return;
            for (const auto& group : c->any_of)
                for (const auto& t : group)
                    for (const auto& e : seen.insert(t.acl.get()).second ? t.acl->exprs
                                                                         : decltype(t.acl->exprs){})
                        for (const auto& b : sample_backend_refs(*e->fetch))
                            if (!find_backend(b))
                                d.error(SourceLoc{rl.file, rl.line},
                                        "acl '" + t.acl->name + "': unable to find backend '" + b +
                                            "' referenced by '" + e->criterion + "'");
        });
        if (p->mode == ProxyMode::Tcp) {
            auto warn = [&](const std::vector<HttpRule>& v, const char* kw) {
                if (!v.empty())
                    d.warning(SourceLoc{v[0].loc.file, v[0].loc.line},
                              std::string("'") + kw + "' rules ignored for " + type + " '" + p->name +
                                  "' as they require HTTP mode");
            };
            warn(r.http_request, "http-request");
            warn(r.http_response, "http-response");
            warn(r.http_after_response, "http-after-response");
            warn(r.redirects, "redirect");
        }
    }
}

}  // namespace proxyd::common
