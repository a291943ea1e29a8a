#include "common/rules.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/logformat.h"

using namespace proxyd::common;

namespace {

// Lines 1-9: an HTTP backend "be", a TCP backend "tcpbe", then "frontend fe" whose body the
// test appends (line 10 is the first appended line).
const std::string kBase =
    "defaults\n"                     // 1
    "  mode http\n"                  // 2
    "  timeout connect 5s\n"         // 3
    "  timeout client 30s\n"         // 4
    "  timeout server 30s\n"         // 5
    "backend be\n"                   // 6
    "  server s1 127.0.0.1:8081\n"   // 7
    "backend tcpbe\n"                // 8
    "  mode tcp\n"                   // 9
    "  server s1 127.0.0.1:8082\n"   // 10
    "backend api\n"                  // 11
    "  server s1 127.0.0.1:8083\n"   // 12
    "frontend fe\n"                  // 13
    "  bind :80\n"                   // 14
    "  default_backend be\n";        // 15
const int kFirst = 16;

std::string dump(const ParseResult& r) {
    std::string s;
    for (const auto& d : r.errors)
        s += "error [" + d.loc.file + ":" + std::to_string(d.loc.line) + "] " + d.message + "\n";
    for (const auto& d : r.warnings)
        s += "warning [" + d.loc.file + ":" + std::to_string(d.loc.line) + "] " + d.message + "\n";
    return s;
}

ParseResult parse(const std::string& text) {
    std::vector<ConfigSource> src{ConfigSource{"a.cfg", text}};
    return parse_config(src, [](const std::string&) -> std::optional<std::string> { return std::nullopt; },
                        false);
}

// The frontend's rules after appending `body`; the parse must succeed.
ProxyRules fe_rules(const std::string& body) {
    auto r = parse(kBase + body);
    INFO(body << "\n" << dump(r));
    REQUIRE(r.errors.empty());
    REQUIRE(r.config);
    for (const auto& p : r.config->proxies)
        if (p.name == "fe")
            return p.rules;
    FAIL("no fe");
    return {};
}

// Exactly one error containing `text` at line `line` (0: the first appended line).
void expect_error(const std::string& body, const std::string& text, int line = 0,
                  const std::string& base = kBase) {
    auto r = parse(base + body);
    INFO(body << "\n" << dump(r));
    CHECK_FALSE(r.config);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == text);
    CHECK(r.errors[0].loc.line == (line ? line : kFirst));
}

sockaddr_storage addr(const char* ip, uint16_t port) {
    sockaddr_storage ss{};
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    inet_pton(AF_INET, ip, &s4->sin_addr);
    s4->sin_port = htons(port);
    return ss;
}

struct Exchange {
    HttpHead req, res;
    sockaddr_storage src = addr("192.0.2.10", 41000), dst = addr("198.51.100.1", 80);
    StreamInfo s;
    Exchange(std::string_view method = "GET", std::string_view uri = "/a/b?x=1") {
        req.method = method;
        req.uri = uri;
        req.fields = {{"Host", "WWW.Example.com"}, {"Cookie", "foo=bar; sid=42"}, {"Accept", "a/b, c/d"}};
        res.status = 200;
        res.reason = "OK";
        res.fields = {{"Server", "nginx/1.2"}, {"Content-Type", "text/html"}};
        s.src = &src;
        s.dst = &dst;
        s.req = &req;
        s.frontend = "fe";
    }
    std::string hdr(const HttpHead& h, std::string_view name, size_t from = 0) const {
        int i = h.find(name, from);
        return i < 0 ? "<none>" : std::string(h.fields[static_cast<size_t>(i)].value);
    }
};

RuleOutcome request(const std::string& body, Exchange& x) {
    ProxyRules r = fe_rules(body);
    return apply_http_request_rules(r, x.req, x.s);
}

std::string redirect_of(const std::string& body, std::string_view uri = "/a/b?x=1", int* code = nullptr) {
    Exchange x("GET", uri);
    RuleOutcome o = request(body, x);
    REQUIRE(o.kind == RuleOutcome::Kind::Redirect);
    if (code)
        *code = o.status;
    return o.location;
}

}  // namespace

TEST_CASE("rules: acl keyword parsing", "[rules]") {
    ProxyRules r = fe_rules("  acl api path_beg /api\n  acl api hdr(host) -i api.example.com\n  acl local src 127.0.0.1\n");
    REQUIRE(r.acls.size() == 2);
    CHECK(r.acls[0]->name == "api");
    CHECK(r.acls[0]->exprs.size() == 2);
    CHECK(rules_empty(r));  // ACLs alone do nothing

    expect_error("  acl\n", "'acl' expects <name> <criterion> [flags] [patterns]: missing ACL name");
    expect_error("  acl x\n", "acl 'x': missing criterion");
    expect_error("  acl x path_reg (a\n", "acl 'x': invalid regex '(a': missing closing parenthesis at offset 2");
    expect_error("  acl x nope 1\n", "acl 'x': unknown criterion 'nope'");
    expect_error("  acl x req.cook(a) b\n", "acl 'x': fetch method 'req.cook' is not supported yet");
    expect_error("  acl x/y path /\n", "acl 'x/y': name contains invalid character '/'");
    expect_error("  acl x src -f /nonexistent/nets.lst\n",
                 "acl 'x': cannot open pattern file '/nonexistent/nets.lst': No such file or directory");
    expect_error("  acl x path /\n", "'acl' not allowed in 'defaults' section", 2,
                 "defaults\n");

    // A pattern-less ACL: HAProxy's warning.
    auto p = parse(kBase + "  acl x path\n");
    INFO(dump(p));
    REQUIRE(p.config);
    REQUIRE(p.warnings.size() == 1);
    CHECK(p.warnings[0].message.rfind("acl 'x': no pattern to match against were provided", 0) == 0);

    // -f files are read even without check_paths (workers parse again before chroot).
    char tmpl[] = "/tmp/proxyd-rules-XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    std::string nets = "# office\n192.0.2.0/24\n\n";
    REQUIRE(write(fd, nets.data(), nets.size()) == static_cast<ssize_t>(nets.size()));
    close(fd);
    Exchange x;
    RuleOutcome o = request("  acl office src -f " + std::string(tmpl) + "\n  http-request deny if office\n", x);
    CHECK(o.kind == RuleOutcome::Kind::Deny);
    unlink(tmpl);
}

TEST_CASE("rules: conditions in rules", "[rules]") {
    std::string acls = "  acl get method GET\n  acl api path_beg /api\n";
    Exchange x;
    CHECK(request(acls + "  http-request deny if get\n", x).kind == RuleOutcome::Kind::Deny);
    CHECK(request(acls + "  http-request deny if get api\n", x).kind == RuleOutcome::Kind::Continue);
    CHECK(request(acls + "  http-request deny if api || get\n", x).kind == RuleOutcome::Kind::Deny);
    CHECK(request(acls + "  http-request deny if !api get\n", x).kind == RuleOutcome::Kind::Deny);
    CHECK(request(acls + "  http-request deny unless get\n", x).kind == RuleOutcome::Kind::Continue);
    CHECK(request("  http-request deny if { path_beg /a } { hdr(host) -i www.example.com }\n", x).kind ==
          RuleOutcome::Kind::Deny);
    CHECK(request("  http-request deny if { path_beg /b } || !{ src 192.0.2.0/24 }\n", x).kind ==
          RuleOutcome::Kind::Continue);
    CHECK(request("  http-request deny if METH_GET\n", x).kind == RuleOutcome::Kind::Deny);

    expect_error("  http-request deny if nope\n", "'http-request deny': no such ACL 'nope'");
    // ACLs are declared before use, as in HAProxy.
    expect_error("  http-request deny if later\n  acl later path /\n", "'http-request deny': no such ACL 'later'");
    expect_error("  http-request deny if\n", "'http-request deny': missing condition after 'if'");
    expect_error("  http-request deny if { path_beg /x\n",
                 "'http-request deny': missing '}' to close the anonymous ACL");
    expect_error("  use_backend api if { path_reg ( }\n",
                 "'use_backend': anonymous ACL: invalid regex '(': missing closing parenthesis at offset 1");
    expect_error("  acl bad status 500\n  http-request deny if bad\n",
                 "'http-request deny': the condition uses 'status', which reads the response and is not available "
                 "to this rule",
                 kFirst + 1);
    expect_error("  use_backend api if { res.hdr(x) y }\n",
                 "'use_backend': the condition uses 'res.hdr', which reads the response and is not available to "
                 "this rule");
    expect_error("  redirect prefix /x when y\n",
                 "'redirect': expects 'location', 'prefix', 'scheme', 'code', 'drop-query', 'append-slash', "
                 "'ignore-empty', 'if' or 'unless', got 'when'");
}

TEST_CASE("rules: http-request allow, deny, return", "[rules]") {
    Exchange x;
    RuleOutcome o = request("  http-request deny\n", x);
    CHECK(o.kind == RuleOutcome::Kind::Deny);
    CHECK(o.status == 403);
    o = request("  http-request deny deny_status 429\n", x);
    CHECK(o.status == 429);
    o = request("  http-request allow\n  http-request deny\n", x);
    CHECK(o.kind == RuleOutcome::Kind::Allow);
    o = request("  http-request allow if { path /nope }\n  http-request deny\n", x);
    CHECK(o.kind == RuleOutcome::Kind::Deny);
    // allow stops http-request rules, not the redirect rules.
    o = request("  http-request allow\n  redirect location /else\n", x);
    CHECK(o.kind == RuleOutcome::Kind::Redirect);
    o = request("  http-request return status 201 content-type text/plain string hello\n", x);
    CHECK(o.kind == RuleOutcome::Kind::Return);
    CHECK(o.status == 201);
    CHECK(o.content_type == "text/plain");
    CHECK(o.body == "hello");
    CHECK(o.has_body);
    o = request("  http-request return\n", x);
    CHECK(o.status == 200);
    CHECK_FALSE(o.has_body);
    CHECK(o.body.empty());
    o = request("  http-request return content-type text/plain lf-string \"path=%[path] from %ci\"\n", x);
    CHECK(o.body == "path=/a/b from 192.0.2.10");

    char tmpl[] = "/tmp/proxyd-return-XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "<h1>maint</h1>\n", 15) == 15);
    close(fd);
    o = request("  http-request return status 503 content-type text/html file " + std::string(tmpl) + "\n", x);
    CHECK(o.status == 503);
    CHECK(o.body == "<h1>maint</h1>\n");
    unlink(tmpl);

    expect_error("  http-request deny deny_status 99\n",
                 "'http-request deny': 'deny_status' expects an HTTP status code between 200 and 599, got '99'");
    expect_error("  http-request deny deny_status\n",
                 "'http-request deny': 'deny_status' expects an HTTP status code between 200 and 599");
    expect_error("  http-request deny hdr x y\n",
                 "'http-request deny': option 'hdr' is not supported yet (use 'http-request return' for a custom "
                 "response)");
    expect_error("  http-request allow now\n", "'http-request allow' takes no argument, got 'now'");
    expect_error("  http-request return string x\n",
                 "'http-request return': a 'content-type' is required with 'string'");
    expect_error("  http-request return content-type a string x file y\n",
                 "'http-request return': 'file' conflicts with 'string': only one payload");
    expect_error("  http-request return content-type a file /nonexistent/f\n",
                 "'http-request return': cannot open file '/nonexistent/f': No such file or directory");
    expect_error("  http-request return status 204 content-type a string x\n",
                 "'http-request return': status 204 cannot have a payload");
    expect_error("  http-request return errorfile /x\n",
                 "'http-request return': option 'errorfile' is not supported yet");
    expect_error("  http-request return bogus\n",
                 "'http-request return': expects 'status', 'content-type', 'string', 'lf-string', 'file' or "
                 "'lf-file', got 'bogus'");
    auto p = parse(kBase + "  http-request return content-type text/plain\n");
    REQUIRE(p.config);
    REQUIRE(p.warnings.size() == 1);
    CHECK(p.warnings[0].message == "'http-request return': 'content-type' ignored without a payload");
}

TEST_CASE("rules: header and URI rewriting", "[rules]") {
    Exchange x;
    request("  http-request set-header X-Client %[src]:%cp\n"
            "  http-request add-header X-Host %[req.hdr(host),lower]\n"
            "  http-request add-header X-Host second\n"
            "  http-request set-header X-Lit \"100%% sure\"\n"
            "  http-request del-header accept\n",
            x);
    CHECK(x.hdr(x.req, "x-client") == "192.0.2.10:41000");
    CHECK(x.hdr(x.req, "x-host") == "www.example.com");
    CHECK(x.req.count("x-host") == 2);
    CHECK(x.hdr(x.req, "x-lit") == "100% sure");
    CHECK(x.hdr(x.req, "accept") == "<none>");

    Exchange y;
    y.req.fields.push_back({"X-Custom-1", "a"});
    y.req.fields.push_back({"x-custom-2", "b"});
    request("  http-request del-header x-custom -m beg\n", y);
    CHECK(y.req.count("x-custom-1") + y.req.count("x-custom-2") == 0);
    Exchange y2;
    y2.req.fields.push_back({"X-Custom-1", "a"});
    request("  http-request del-header ^x-c.*1$ -m reg\n", y2);
    CHECK(y2.req.count("x-custom-1") == 0);
    CHECK(y2.req.count("host") == 1);

    // replace-header: the whole value is replaced when the regex matches; \N back references.
    Exchange z;
    request("  http-request replace-header Cookie foo=([^;]*);(.*) foo=\\1;ip=%ci;\\2\n", z);
    CHECK(z.hdr(z.req, "cookie") == "foo=bar;ip=192.0.2.10; sid=42");
    // replace-value: each comma-separated value.
    request("  http-request replace-value Accept ^(.*)/(.*)$ \\2/\\1\n", z);
    CHECK(z.hdr(z.req, "accept") == "b/a, d/c");
    request("  http-request replace-value Accept ^nomatch$ x\n", z);
    CHECK(z.hdr(z.req, "accept") == "b/a, d/c");

    Exchange u("GET", "/old/path?q=1");
    request("  http-request set-path /new%[path]\n", u);
    CHECK(u.req.uri == "/new/old/path?q=1");
    request("  http-request set-query a=b&%[query]\n", u);
    CHECK(u.req.uri == "/new/old/path?a=b&q=1");
    request("  http-request set-query %[url_param(nope)]\n", u);
    CHECK(u.req.uri == "/new/old/path");
    request("  http-request replace-path ^/new(/.*)$ \\1\n", u);
    CHECK(u.req.uri == "/old/path");
    request("  http-request set-uri /x?y=%[method]\n", u);
    CHECK(u.req.uri == "/x?y=GET");
    request("  http-request replace-uri ^/x\\?(.*)$ /z?\\1&w\n", u);
    CHECK(u.req.uri == "/z?y=GET&w");
    request("  http-request set-pathq /p?q\n", u);
    CHECK(u.req.uri == "/p?q");
    request("  http-request set-method POST\n", u);
    CHECK(u.req.method == "POST");

    Exchange abs("GET", "http://h.example/a?b");
    request("  http-request set-path /c\n", abs);
    CHECK(abs.req.uri == "http://h.example/c?b");

    // Rules run in order and later conditions see earlier changes.
    Exchange o;
    RuleOutcome out = request("  http-request set-path /blocked\n  http-request deny if { path /blocked }\n", o);
    CHECK(out.kind == RuleOutcome::Kind::Deny);

    expect_error("  http-request set-header X\n",
                 "'http-request set-header' expects exactly 2 arguments (<name> <fmt>), got 1");
    expect_error("  http-request set-header X %[nope]\n",
                 "'http-request set-header': unknown fetch method 'nope' in '%[nope]'");
    expect_error("  http-request set-header X %[path\n",
                 "'http-request set-header': missing ']' after '%[' in '%[path'");
    expect_error("  http-request set-header X 100%\n",
                 "'http-request set-header': unexpected '%' at the end of '100%' (write '%%' for a percent sign)");
    expect_error("  http-request set-header X %zz\n",
                 "'http-request set-header': unknown format variable '%zz' in '%zz'");
    expect_error("  http-request set-header X %Tr\n",
                 "'http-request set-header': format variable '%Tr' in '%Tr' is not supported in rule values (only "
                 "%ci %cp %fi %fp %f %b %s %ID and %[...])");
    expect_error("  http-request set-header X %{+Q}[path]\n",
                 "'http-request set-header': format flags '%{...}' in '%{+Q}[path]' are not supported yet");
    expect_error("  http-request set-header X %[status]\n",
                 "'http-request set-header': '%[status]' reads the response, which http-request rules cannot use");
    expect_error("  http-request replace-header Cookie (a x\n",
                 "'http-request replace-header': invalid regex '(a': missing closing parenthesis at offset 2");
    expect_error("  http-request replace-path x\n",
                 "'http-request replace-path' expects exactly 2 arguments (<regex> <replace-fmt>), got 1");
    expect_error("  http-request del-header x -m foo\n",
                 "'http-request del-header': unknown matching method 'foo' (expects str, beg, end, sub or reg)");
    expect_error("  http-request del-header \"\"\n", "'http-request del-header': empty header name");
    expect_error("  http-request frobnicate\n", "'http-request': unknown action 'frobnicate' (supported: allow, "
                 "deny, redirect, return, set-header, add-header, del-header, replace-header, replace-value, "
                 "set-path, set-pathq, set-query, set-uri, set-method, replace-path, replace-uri, set-var, "
                 "set-var-fmt, unset-var)");
    expect_error("  http-request tarpit\n", "'http-request tarpit' is not supported yet");
    expect_error("  http-request deny when x\n",
                 "'http-request deny': expects 'deny_status <code>', 'if' or 'unless', got 'when'");
    expect_error("  http-request\n",
                 "'http-request' expects an action (allow, deny, redirect, set-path, set-header...)");
    expect_error("  http-request deny\n",
                 "'http-request' not allowed in 'defaults' section (rules in defaults are not supported yet)", 2,
                 "defaults\n");
}

TEST_CASE("rules: redirects", "[rules]") {
    int code = 0;
    CHECK(redirect_of("  http-request redirect location /login\n", "/a", &code) == "/login");
    CHECK(code == 302);
    CHECK(redirect_of("  http-request redirect location https://%[req.hdr(host),lower]%[url] code 301\n", "/a?b",
                      &code) == "https://www.example.com/a?b");
    CHECK(code == 301);
    // prefix keeps path and query.
    CHECK(redirect_of("  http-request redirect prefix https://new.example\n", "/a/b?x=1") ==
          "https://new.example/a/b?x=1");
    CHECK(redirect_of("  http-request redirect prefix /v2 drop-query\n", "/a/b?x=1") == "/v2/a/b");
    CHECK(redirect_of("  http-request redirect prefix / drop-query append-slash\n", "/a/b?x=1") == "/a/b/");
    CHECK(redirect_of("  http-request redirect prefix / append-slash\n", "/a/?x=1") == "/a/?x=1");
    CHECK(redirect_of("  http-request redirect prefix /p append-slash\n", "/a?x=1") == "/p/a/?x=1");
    CHECK(redirect_of("  http-request redirect prefix /p\n", "http://h/a?q") == "/p/a?q");
    // scheme: scheme://host + path (+ query).
    CHECK(redirect_of("  http-request redirect scheme https code 308\n", "/a/b?x=1", &code) ==
          "https://WWW.Example.com/a/b?x=1");
    CHECK(code == 308);
    CHECK(redirect_of("  http-request redirect scheme https drop-query\n", "/a/b?x=1") ==
          "https://WWW.Example.com/a/b");
    // Options before the type (HAProxy accepts any order); ignore-empty skips the rule.
    CHECK(redirect_of("  http-request redirect code 301 location /moved\n", "/a", &code) == "/moved");
    CHECK(code == 301);
    {
        Exchange e;
        CHECK(request("  http-request redirect location %[req.hdr(x-none)] ignore-empty\n", e).kind ==
              RuleOutcome::Kind::Continue);
        CHECK(request("  http-request redirect location %[req.hdr(x-none)]\n", e).kind == RuleOutcome::Kind::Redirect);
    }
    // The 'redirect' keyword runs after http-request rules.
    Exchange x;
    RuleOutcome o = request("  redirect prefix /r code 307 if { path_beg /a }\n  http-request set-path /a/changed\n", x);
    REQUIRE(o.kind == RuleOutcome::Kind::Redirect);
    CHECK(o.location == "/r/a/changed?x=1");
    CHECK(o.status == 307);
    CHECK(request("  redirect location /r if { path_beg /zzz }\n", x).kind == RuleOutcome::Kind::Continue);
    CHECK(request("  http-request deny\n  redirect location /r\n", x).kind == RuleOutcome::Kind::Deny);

    expect_error("  redirect\n", "'redirect' expects 'location', 'prefix' or 'scheme' followed by a value");
    expect_error("  redirect prefix\n", "'redirect prefix' expects a value");
    expect_error("  redirect location if x\n", "'redirect location' expects a value");
    expect_error("  redirect code 301 location\n", "'redirect location' expects a value");
    expect_error("  redirect location /x code 300\n",
                 "'redirect': unsupported HTTP code '300' (expects 301, 302, 303, 307 or 308)");
    expect_error("  redirect location /x code\n", "'redirect': 'code' expects 301, 302, 303, 307 or 308");
    expect_error("  redirect location /x set-cookie A=1\n", "'redirect': option 'set-cookie' is not supported yet");
    expect_error("  http-request redirect to /x\n",
                 "'http-request redirect': expects 'location', 'prefix', 'scheme', 'code', 'drop-query', "
                 "'append-slash', 'ignore-empty', 'if' or 'unless', got 'to'");
    expect_error("  http-request redirect code 301\n",
                 "'http-request redirect' expects 'location', 'prefix' or 'scheme' followed by a value");
    expect_error("  redirect location %[res.hdr(x)]\n",
                 "'redirect': '%[res.hdr(x)]' reads the response, which is not available to redirects");
    expect_error("  redirect location /x\n", "'redirect' not allowed in 'defaults' section", 2, "defaults\n");
}

TEST_CASE("rules: http-response", "[rules]") {
    ProxyRules r = fe_rules("  http-response set-header X-Served-By %[res.hdr(server)]\n"
                            "  http-response del-header Server\n"
                            "  http-response replace-value Content-Type ^text/(.*)$ application/\\1\n"
                            "  http-response set-status 404 if { status 200 } { hdr(content-type) -m sub html }\n");
    Exchange x;
    x.s.res = &x.res;
    RuleOutcome o = apply_http_response_rules(r, x.res, x.s);
    CHECK(o.kind == RuleOutcome::Kind::Continue);
    CHECK(x.hdr(x.res, "x-served-by") == "nginx/1.2");
    CHECK(x.hdr(x.res, "server") == "<none>");
    CHECK(x.hdr(x.res, "content-type") == "application/html");
    CHECK(x.res.status == 404);
    CHECK(x.res.reason == "Not Found");

    ProxyRules r2 = fe_rules("  http-response set-status 299 reason \"Very OK\"\n  http-response deny if { status 299 }\n");
    Exchange y;
    y.s.res = &y.res;
    o = apply_http_response_rules(r2, y.res, y.s);
    CHECK(y.res.status == 299);
    CHECK(y.res.reason == "Very OK");
    CHECK(o.kind == RuleOutcome::Kind::Deny);
    CHECK(o.status == 502);

    ProxyRules r3 = fe_rules("  http-response deny deny_status 500 if { res.hdr(x-leak) -m found }\n");
    Exchange z;
    z.s.res = &z.res;
    CHECK(apply_http_response_rules(r3, z.res, z.s).kind == RuleOutcome::Kind::Continue);
    z.res.fields.push_back({"X-Leak", "1"});
    o = apply_http_response_rules(r3, z.res, z.s);
    CHECK(o.kind == RuleOutcome::Kind::Deny);
    CHECK(o.status == 500);
    // Response rules do not run on the request.
    CHECK(apply_http_request_rules(r3, z.req, z.s).kind == RuleOutcome::Kind::Continue);

    expect_error("  http-response set-status abc\n",
                 "'http-response set-status' expects an HTTP status code between 100 and 999, got 'abc'");
    expect_error("  http-response set-status 200 why not\n",
                 "'http-response set-status' expects <status> [reason <text>]");
    expect_error("  http-response redirect location /x\n", "'http-response redirect' is not supported yet");
    expect_error("  http-response set-path /x\n",
                 "'http-response': unknown action 'set-path' (supported: allow, deny, return, set-header, add-header, "
                 "del-header, replace-header, replace-value, set-status, set-var, set-var-fmt, unset-var)");
}

TEST_CASE("rules: use_backend", "[rules]") {
    ProxyRules r = fe_rules("  acl is_api path_beg /api\n"
                            "  use_backend api if is_api\n"
                            "  use_backend %[req.hdr(x-backend),lower] if { req.hdr(x-backend) -m found }\n"
                            "  use_backend be if { path_beg /www }\n");
    REQUIRE(r.use_backends.size() == 3);
    CHECK_FALSE(r.use_backends[0].dynamic);
    CHECK(r.use_backends[1].dynamic);
    CHECK_FALSE(rules_empty(r));
    Exchange x("GET", "/api/v1");
    std::string scratch;
    CHECK(select_backend(r, x.s, &scratch) == "api");
    Exchange y("GET", "/www");
    y.req.fields.push_back({"X-Backend", "TCPBE"});
    CHECK(select_backend(r, y.s, &scratch) == "tcpbe");
    Exchange z("GET", "/www");
    CHECK(select_backend(r, z.s, &scratch) == "be");
    ProxyRules none = fe_rules("  use_backend api if { path_beg /api }\n");
    CHECK(select_backend(none, z.s, &scratch).empty());

    expect_error("  use_backend nope\n", "frontend 'fe': unable to find required use_backend: 'nope'");
    expect_error("  use_backend tcpbe if { path / }\n",
                 "frontend 'fe' (mode http) cannot use backend 'tcpbe' (mode tcp) in a 'use_backend' rule: modes "
                 "must match");
    expect_error("  use_backend\n", "'use_backend' expects a backend name");
    expect_error("  use_backend api when x\n",
                 "'use_backend': unexpected 'when', expects 'if' or 'unless' followed by a condition");
    expect_error("  use_backend %[nope]\n", "'use_backend': unknown fetch method 'nope' in '%[nope]'");
    expect_error("  use_backend api if { nbsrv(missing) gt 0 }\n",
                 "acl 'anonymous': unable to find backend 'missing' referenced by 'nbsrv(missing)'");
    expect_error("  use_backend be\n", "'use_backend' not allowed in 'defaults' section", 2, "defaults\n");
    // In a backend: ignored with HAProxy's warning.
    auto p = parse(kBase + "backend b2\n  use_backend be\n  server s 127.0.0.1:1\n");
    INFO(dump(p));
    REQUIRE(p.config);
    REQUIRE(p.warnings.size() == 1);
    CHECK(p.warnings[0].message == "'use_backend' ignored because backend 'b2' has no frontend capability");
}

TEST_CASE("rules: mode tcp and copies from defaults", "[rules]") {
    auto p = parse(kBase + "frontend ft\n  mode tcp\n  bind :81\n  default_backend tcpbe\n"
                           "  http-request deny\n");
    INFO(dump(p));
    REQUIRE(p.config);
    REQUIRE(p.warnings.size() == 1);
    CHECK(p.warnings[0].message == "'http-request' rules ignored for frontend 'ft' as they require HTTP mode");
    CHECK(p.warnings[0].loc.line == kFirst + 4);

    // ProxyRules is a value: a copy evaluates the same.
    ProxyRules r = fe_rules("  acl a path_beg /a\n  http-request set-header X-A 1 if a\n");
    ProxyRules copy = r;
    Exchange x;
    apply_http_request_rules(copy, x.req, x.s);
    CHECK(x.hdr(x.req, "x-a") == "1");
}

TEST_CASE("rules: http-after-response", "[rules]") {
    ProxyRules r = fe_rules("  http-after-response set-header Strict-Transport-Security \"max-age=31536000\"\n"
                            "  http-after-response add-header X-Status %[status]\n"
                            "  http-after-response del-header Server\n"
                            "  http-after-response replace-value Content-Type ^text/(.*)$ application/\\1\n"
                            "  http-after-response set-status 503 reason Busy if { status 502 }\n"
                            "  http-after-response allow if { res.hdr(x-stop) -m found }\n"
                            "  http-after-response set-header X-Last 1\n");
    REQUIRE(r.http_after_response.size() == 7);
    CHECK(r.http_response.empty());
    CHECK(has_after_response_rules(r));
    CHECK_FALSE(rules_empty(r));
    CHECK_FALSE(has_after_response_rules(fe_rules("  http-response set-header X 1\n")));

    // A server response.
    Exchange x;
    x.s.res = &x.res;
    RuleOutcome o = apply_http_after_response_rules(r, x.res, x.s);
    CHECK(o.kind == RuleOutcome::Kind::Continue);
    CHECK(x.hdr(x.res, "strict-transport-security") == "max-age=31536000");
    CHECK(x.hdr(x.res, "x-status") == "200");
    CHECK(x.hdr(x.res, "server") == "<none>");
    CHECK(x.hdr(x.res, "content-type") == "application/html");
    CHECK(x.res.status == 200);
    CHECK(x.hdr(x.res, "x-last") == "1");

    // A response proxyd generated (the caller parsed it into an HttpHead).
    Exchange y;
    y.res.status = 502;
    y.res.reason = "Bad Gateway";
    y.res.fields = {{"content-length", "0"}, {"X-Stop", "1"}};
    y.s.res = &y.res;
    o = apply_http_after_response_rules(r, y.res, y.s);
    CHECK(o.kind == RuleOutcome::Kind::Allow);
    CHECK(y.res.status == 503);
    CHECK(y.res.reason == "Busy");
    CHECK(x.hdr(y.res, "x-last") == "<none>");  // 'allow' stopped the rules

    // The other rule sets do not run them, nor do they run the other sets.
    Exchange z;
    z.s.res = &z.res;
    apply_http_response_rules(r, z.res, z.s);
    apply_http_request_rules(r, z.req, z.s);
    CHECK(x.hdr(z.res, "strict-transport-security") == "<none>");
    CHECK(x.hdr(z.req, "strict-transport-security") == "<none>");
    ProxyRules resp = fe_rules("  http-response set-header X-R 1\n");
    CHECK(apply_http_after_response_rules(resp, z.res, z.s).kind == RuleOutcome::Kind::Continue);
    CHECK(x.hdr(z.res, "x-r") == "<none>");

    const std::string after_actions = "(supported: allow, set-header, add-header, del-header, replace-header, "
                                      "replace-value, set-status, set-var, set-var-fmt, unset-var)";
    expect_error("  http-after-response deny\n", "'http-after-response': unknown action 'deny' " + after_actions);
    expect_error("  http-after-response return status 200\n",
                 "'http-after-response': unknown action 'return' " + after_actions);
    expect_error("  http-after-response redirect location /\n",
                 "'http-after-response': unknown action 'redirect' " + after_actions);
    expect_error("  http-after-response set-path /x\n",
                 "'http-after-response': unknown action 'set-path' " + after_actions);
    expect_error("  http-after-response strict-mode on\n", "'http-after-response strict-mode' is not supported yet");
    expect_error("  http-after-response capture status id 0\n",
                 "'http-after-response capture' is not supported yet");
    expect_error("  http-after-response\n",
                 "'http-after-response' expects an action (allow, set-status, set-header...)");
    expect_error("  http-after-response set-status 0\n",
                 "'http-after-response set-status' expects an HTTP status code between 100 and 999, got '0'");
    expect_error("  http-after-response set-header X 1 if nope\n", "'http-after-response set-header': no such ACL "
                                                                   "'nope'");
    expect_error("  http-after-response allow\n",
                 "'http-after-response' not allowed in 'defaults' section (rules in defaults are not supported yet)",
                 2, "defaults\n");

    auto p = parse(kBase + "frontend ft\n  mode tcp\n  bind :81\n  default_backend tcpbe\n"
                           "  http-after-response set-header X 1\n");
    INFO(dump(p));
    REQUIRE(p.config);
    REQUIRE(p.warnings.size() == 1);
    CHECK(p.warnings[0].message == "'http-after-response' rules ignored for frontend 'ft' as they require HTTP mode");
}

TEST_CASE("rules: variables across rule sets", "[rules]") {
    ProxyRules r = fe_rules(
        "  http-request set-var(txn.host) req.hdr(host),lower\n"
        "  http-request set-var(req.path) path\n"
        "  http-request set-var-fmt(txn.from) %[src]:%[src_port]\n"
        "  http-request set-var(sess.hits) int(1) if !{ var(sess.hits) -m found }\n"
        "  http-request set-var(proc.seen) str(yes)\n"
        "  http-request set-var(txn.miss) req.hdr(x-none)\n"
        "  http-request set-header X-Path %[var(req.path)]\n"
        "  http-request set-var(txn.kept,ifnotexists) str(second)\n"
        "  acl is_example var(txn.host) -m str www.example.com\n"
        "  http-request set-header X-Example 1 if is_example\n"
        "  http-request set-var(txn.tmp) str(t)\n"
        "  http-request unset-var(txn.tmp)\n"
        "  http-response set-var(res.status) status\n"
        "  http-response set-header X-Req-Path \"[%[var(req.path)]]\"\n"
        "  http-response set-header X-Res %[var(res.status)] if { var(res.status) -m int 200 }\n"
        "  http-response set-header X-From %[var(txn.from)]\n"
        "  http-after-response set-header X-Host %[var(txn.host)]\n"
        "  http-after-response set-header X-Hits %[var(sess.hits)]/%[var(proc.seen)]\n"
        "  http-after-response set-header X-Tmp %[var(txn.tmp,gone)]\n"
        "  http-after-response unset-var(txn.host)\n"
        "  http-after-response set-header X-Host2 \"<%[var(txn.host)]>\"\n");
    VarSet proc;
    VarStore vars;
    vars.proc = &proc;
    vars.txn.get_or_create("kept");  // from an earlier rule of the same transaction
    VarValue& kept = *vars.txn.find("kept");
    kept.type = SampleValue::Type::Str;
    kept.str = "first";

    Exchange x;
    x.s.vars = &vars;
    CHECK(apply_http_request_rules(r, x.req, x.s).kind == RuleOutcome::Kind::Continue);
    CHECK(x.hdr(x.req, "x-path") == "/a/b");
    CHECK(x.hdr(x.req, "x-example") == "1");
    auto get = [&](const char* n) {
        VarName vn;
        std::string err;
        REQUIRE(parse_var_name(n, &vn, &err));
        SampleValue v;
        std::string out;
        if (!var_get(&vars, vn, &v))
            return std::string("<none>");
        sample_to_string(v, &out);
        return out;
    };
    CHECK(get("txn.from") == "192.0.2.10:41000");
    CHECK(get("sess.hits") == "1");
    CHECK(get("txn.miss") == "<none>");  // a sample not found sets nothing
    CHECK(get("txn.kept") == "first");
    CHECK(get("txn.tmp") == "<none>");

    x.s.res = &x.res;
    CHECK(apply_http_response_rules(r, x.res, x.s).kind == RuleOutcome::Kind::Continue);
    CHECK(x.hdr(x.res, "x-req-path") == "[]");  // req. variables end with the request
    CHECK(x.hdr(x.res, "x-res") == "200");
    CHECK(x.hdr(x.res, "x-from") == "192.0.2.10:41000");
    CHECK(apply_http_after_response_rules(r, x.res, x.s).kind == RuleOutcome::Kind::Continue);
    CHECK(x.hdr(x.res, "x-host") == "www.example.com");
    CHECK(x.hdr(x.res, "x-hits") == "1/yes");
    CHECK(x.hdr(x.res, "x-tmp") == "gone");
    CHECK(x.hdr(x.res, "x-host2") == "<>");

    // The next request on the connection: txn. is new, sess. and proc. remain.
    vars.begin_request();
    Exchange y("GET", "/other");
    y.req.fields = {{"Host", "api.example.com"}};
    y.s.vars = &vars;
    apply_http_request_rules(r, y.req, y.s);
    CHECK(x.hdr(y.req, "x-example") == "<none>");
    CHECK(get("txn.host") == "api.example.com");
    CHECK(get("txn.kept") == "second");
    CHECK(get("sess.hits") == "1");

    // Without a store, variable rules do nothing.
    Exchange z;
    CHECK(apply_http_request_rules(r, z.req, z.s).kind == RuleOutcome::Kind::Continue);
    CHECK(x.hdr(z.req, "x-path") == "");

    // A local reply after the request rules (no response rules ran): after-response still sees
    // txn. variables, and res. is writable.
    ProxyRules a = fe_rules("  http-request set-var(txn.t) str(T)\n  http-request set-var(req.q) str(Q)\n"
                            "  http-after-response set-var(res.r) str(R)\n"
                            "  http-after-response set-header X-Vars %[var(txn.t)]%[var(req.q)]%[var(res.r)]\n");
    VarStore v2;
    Exchange w;
    w.s.vars = &v2;
    apply_http_request_rules(a, w.req, w.s);
    HttpHead reply;
    reply.status = 403;
    reply.reason = "Forbidden";
    w.s.res = &reply;
    apply_http_after_response_rules(a, reply, w.s);
    CHECK(x.hdr(reply, "x-vars") == "TR");
}

TEST_CASE("rules: variable actions parsing", "[rules]") {
    ProxyRules r = fe_rules("  http-request set-var(txn.a,ifnotempty,ifnotset) req.hdr(x)\n"
                            "  http-request set-var-fmt(sess.b) \"%[src] x\"\n"
                            "  http-request unset-var(proc.c) if { path / }\n");
    REQUIRE(r.http_request.size() == 3);
    CHECK(r.http_request[0].action == HttpRule::Action::SetVar);
    CHECK(r.http_request[0].var.scope == VarScope::Txn);
    CHECK(r.http_request[0].var.name == "a");
    CHECK(r.http_request[0].var_conds == (VarIfNotEmpty | VarIfNotSet));
    CHECK(r.http_request[1].action == HttpRule::Action::SetVarFmt);
    CHECK(r.http_request[1].var.scope == VarScope::Sess);
    CHECK(r.http_request[2].action == HttpRule::Action::UnsetVar);
    CHECK(r.http_request[2].cond);

    expect_error("  http-request set-var txn.a str(x)\n",
                 "'http-request set-var': invalid or incomplete action, expects 'set-var(<var-name>)', "
                 "'set-var-fmt(<var-name>)' or 'unset-var(<var-name>)'");
    expect_error("  http-request set-var(txn.a str(x)\n",
                 "'http-request set-var(txn.a': invalid or incomplete action, expects 'set-var(<var-name>)', "
                 "'set-var-fmt(<var-name>)' or 'unset-var(<var-name>)'");
    expect_error("  http-request set-var(a) str(x)\n",
                 "'http-request set-var(a)': invalid variable name 'a': a variable name starts with its scope, "
                 "'proc.', 'sess.', 'txn.', 'req.' or 'res.'");
    expect_error("  http-request set-var(txn.a,ifbig) str(x)\n",
                 "'http-request set-var(txn.a,ifbig)': unknown condition 'ifbig' (expects ifexists, ifnotexists, "
                 "ifempty, ifnotempty, ifset, ifnotset, ifgt or iflt)");
    expect_error("  http-request unset-var(txn.a,ifset)\n",
                 "'http-request unset-var(txn.a,ifset)': unset-var takes no condition after the variable name");
    expect_error("  http-request unset-var(txn.a) x\n", "'http-request unset-var(txn.a)' takes no argument, got 'x'");
    expect_error("  http-request set-var(txn.a)\n",
                 "'http-request set-var(txn.a)' expects exactly 1 argument (<expr>), got 0");
    expect_error("  http-request set-var-fmt(txn.a) a b\n",
                 "'http-request set-var-fmt(txn.a)' expects exactly 1 argument (<fmt>), got 2");
    expect_error("  http-request set-var(txn.a) nope\n", "'http-request set-var(txn.a)': unknown fetch method 'nope'");
    expect_error("  http-request set-var(txn.a) status\n",
                 "'http-request set-var(txn.a)': 'status' reads the response, which http-request rules cannot use");
    expect_error("  http-request set-var-fmt(txn.a) %[res.hdr(x)]\n",
                 "'http-request set-var-fmt(txn.a)': '%[res.hdr(x)]' reads the response, which http-request rules "
                 "cannot use");
    expect_error("  http-request set-var-fmt(txn.a) %[nope]\n",
                 "'http-request set-var-fmt(txn.a)': unknown fetch method 'nope' in '%[nope]'");
    // Response fetches are fine in response rules.
    CHECK(fe_rules("  http-response set-var(txn.s) status\n").http_response.size() == 1);
}

TEST_CASE("rules: variables in log formats", "[rules]") {
    ProxyRules r = fe_rules("  http-request set-var(txn.user) req.hdr(cookie)\n");
    VarStore vars;
    Exchange x;
    x.s.vars = &vars;
    apply_http_request_rules(r, x.req, x.s);
    std::string err;
    auto lf = LogFormat::compile("user=%[var(txn.user)] none=%[var(txn.none)] d=%[var(txn.none,-)]", true, &err);
    INFO(err);
    REQUIRE(lf);
    std::string out;
    lf->render(x.s, LogEnv{}, &out);
    CHECK(out == "user=foo=bar; sid=42 none=- d=-");  // a missing sample logs "-"
}
