#pragma once
// ACLs, conditions and HTTP rules of a proxy (acl, use_backend, http-request, http-response,
// http-after-response, redirect): compiled at configuration time by config_rules.cpp, evaluated
// per request by the worker through the functions at the end. Everything compiled is shared (shared_ptr to
// immutable objects), so a ProxyRules copies cheaply (defaults sections are copied into proxies).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/acl.h"
#include "common/http_head.h"
#include "common/sample.h"
#include "common/stream_info.h"
#include "common/vars.h"

namespace proxyd::common {

// A value written as a log-format string: literal text, "%%", "%[sample,conv...]", and the
// variables %ci %cp %fi %fp %f %b %s (%ID expands to nothing: no unique-id).
class RuleFormat {
public:
    // Compiles `text`; on error returns false and sets *err ("unknown format variable '%x'").
    bool parse(std::string_view text, std::string* err);
    // Appends the value for stream `s`; a sample that is not found adds nothing.
    void eval(const StreamInfo& s, SampleDir dir, std::string* out) const;
    // True when the text has no variable part (literal() is then the whole value).
    bool is_literal() const;
    const std::string& literal() const { return text_; }
    bool empty() const { return parts_.empty(); }
    // True when some part reads the response.
    bool needs_response() const;

private:
    enum class Var : uint8_t { None, Ci, Cp, Fi, Fp, Fe, Be, Srv, Id };
    struct Part {
        std::string lit;
        std::shared_ptr<const SampleExpr> expr;
        Var var = Var::None;
    };
    std::vector<Part> parts_;
    std::string text_;
};

struct RuleLoc {  // where a rule was written, for validation messages
    std::string file;
    int line = 0;
};

struct HttpRule {
    enum class Action : uint8_t {
        Allow, Deny, Redirect, Return, SetHeader, AddHeader, DelHeader, ReplaceHeader, ReplaceValue,
        SetPath, SetPathQ, SetQuery, SetUri, SetMethod, ReplacePath, ReplaceUri, SetStatus,
        SetVar, SetVarFmt, UnsetVar,
    };
    enum class RedirectType : uint8_t { Location, Prefix, Scheme };

    Action action = Action::Allow;
    std::shared_ptr<const Condition> cond;  // null: unconditional
    RuleLoc loc;
    std::string name;                       // header name
    RuleFormat fmt;                         // value, location/prefix/scheme, replacement, set-var-fmt
    std::shared_ptr<const Regex> re;        // replace-*
    MatchMethod del_match = MatchMethod::Str;  // del-header -m (str beg end sub reg)
    int status = 0;                         // deny/return/redirect/set-status
    std::string reason;                     // set-status reason
    std::string content_type;               // return
    bool has_body = false;                  // return string/file/lf-string
    std::string body;                       // return string/file
    RuleFormat body_fmt;                    // return lf-string (when is_lf_body)
    bool is_lf_body = false;
    RedirectType redirect = RedirectType::Location;
    bool drop_query = false;
    bool ignore_empty = false;  // redirect ... ignore-empty
    bool append_slash = false;
    VarName var;                            // set-var, set-var-fmt, unset-var
    unsigned var_conds = 0;                 // set-var's conditions (VarCond bits)
    std::shared_ptr<const SampleExpr> expr; // set-var's expression
};

struct UseBackendRule {
    std::string name;         // static name (dynamic == false) or the format's text
    RuleFormat fmt;           // dynamic names
    bool dynamic = false;
    std::shared_ptr<const Condition> cond;
    RuleLoc loc;
};

struct ProxyRules {
    std::vector<std::shared_ptr<Acl>> acls;         // named ACLs, in declaration order
    std::vector<UseBackendRule> use_backends;
    std::vector<HttpRule> http_request;
    std::vector<HttpRule> http_response;
    std::vector<HttpRule> http_after_response;      // allow, header edits, set-status, variables
    std::vector<HttpRule> redirects;                // the 'redirect' keyword
};

struct RuleOutcome {
    enum class Kind { Continue, Allow, Deny, Redirect, Return } kind = Kind::Continue;
    int status = 0;            // Deny: deny_status (default 403); Redirect: code (default 302); Return: status (default 200)
    std::string location;      // Redirect: the Location value, fully built
    std::string content_type;  // Return
    std::string body;          // Return (may be empty)
    bool has_body = false;     // Return had string/file
};

// The http-request rules, in order, then (when they end with Continue or Allow) the `redirect`
// rules; stops at the first final verdict. Modifies `req`; `s.req` must point to `req`.
RuleOutcome apply_http_request_rules(const ProxyRules& r, HttpHead& req, const StreamInfo& s);
// The http-response rules (deny: 502 unless deny_status). `s.res` must point to `res`.
// Enters the response phase of `s.vars` (req. variables are dropped) when there is a store.
RuleOutcome apply_http_response_rules(const ProxyRules& r, HttpHead& res, const StreamInfo& s);
// The http-after-response rules of one proxy, for EVERY response sent to the client (the
// server's, after the http-response rules, and those proxyd builds: errors, deny, redirects,
// return). The caller runs the backend's, then the frontend's (once when they are the same
// proxy). Returns Continue, or Allow when an 'allow' rule stopped this proxy's rules; it never
// ends the exchange. `s.res` must point to `res`; enters the response phase of `s.vars`.
RuleOutcome apply_http_after_response_rules(const ProxyRules& r, HttpHead& res, const StreamInfo& s);
// True when `r` has http-after-response rules (the caller can skip building an HttpHead).
bool has_after_response_rules(const ProxyRules& r);
// The backend chosen by use_backend rules (first match), or empty when none matched (the caller
// uses default_backend). A dynamic name is formatted into *scratch and the view points to it;
// the caller checks that such a backend exists.
std::string_view select_backend(const ProxyRules& r, const StreamInfo& s, std::string* scratch);
bool rules_empty(const ProxyRules& r);

// The standard reason phrase of an HTTP status ("Not Found"), or "Unknown".
std::string_view http_reason(int status);

}  // namespace proxyd::common
