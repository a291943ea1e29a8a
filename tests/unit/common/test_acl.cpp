#include "common/acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace proxyd::common;

namespace {

sockaddr_storage addr(const char* ip, uint16_t port = 0) {
    sockaddr_storage ss{};
    if (std::strchr(ip, ':')) {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
        s6->sin6_family = AF_INET6;
        REQUIRE(inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1);
        s6->sin6_port = htons(port);
    } else {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
        s4->sin_family = AF_INET;
        REQUIRE(inet_pton(AF_INET, ip, &s4->sin_addr) == 1);
        s4->sin_port = htons(port);
    }
    return ss;
}

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> w;
    std::string x;
    while (in >> x)
        w.push_back(x);
    return w;
}

class FakeState : public ProxyStateView {
public:
    int nbsrv(std::string_view backend) const override { return backend == "app" ? 2 : backend == "dead" ? 0 : -1; }
};

struct Req {
    HttpHead req, res;
    sockaddr_storage src = addr("192.168.1.20", 51000), dst = addr("10.0.0.1", 443);
    FakeState state;
    StreamInfo s;
    Req() {
        req.method = "GET";
        req.uri = "/static/img/Logo.PNG?size=big&v=2";
        req.fields = {{"Host", "www.Example.com:8080"}, {"Accept", "text/html, application/json"},
                      {"X-Forwarded-For", "203.0.113.9"}, {"Content-Length", "12"}};
        res.status = 503;
        res.fields = {{"Content-Type", "text/plain"}};
        s.src = &src;
        s.dst = &dst;
        s.req = &req;
        s.state = &state;
    }
    // Whether "CRITERION [flags] PATTERNS" matches.
    bool match(const std::string& acl, SampleDir dir = SampleDir::Request) {
        auto w = words(acl);
        std::string err;
        auto e = parse_acl_expr(w, &err);
        INFO(acl << ": " << err);
        REQUIRE(e);
        return acl_expr_match(*e, s, dir);
    }
};

std::string acl_error(const std::string& acl) {
    auto w = words(acl);
    std::string err;
    auto e = parse_acl_expr(w, &err);
    CHECK_FALSE(e);
    return err;
}

struct TempFile {
    std::string path;
    explicit TempFile(const std::string& content) {
        char tmpl[] = "/tmp/proxyd-acl-XXXXXX";
        int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        REQUIRE(write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
        close(fd);
        path = tmpl;
    }
    ~TempFile() { unlink(path.c_str()); }
};

}  // namespace

TEST_CASE("acl: path criteria", "[acl]") {
    Req r;
    CHECK(r.match("path /static/img/Logo.PNG"));
    CHECK_FALSE(r.match("path /static/img/logo.png"));
    CHECK(r.match("path -i /static/img/logo.png"));
    CHECK(r.match("path_beg /api /static"));
    CHECK_FALSE(r.match("path_beg /STATIC"));
    CHECK(r.match("path_beg -i /STATIC"));
    CHECK(r.match("path_end .PNG"));
    CHECK(r.match("path_end -i .png .jpg"));
    CHECK_FALSE(r.match("path_end .png"));
    CHECK(r.match("path_sub img"));
    CHECK(r.match("path_sub -i LOGO"));
    CHECK_FALSE(r.match("path_sub size"));  // the query is not part of the path
    CHECK(r.match("path_reg ^/static/.*\\.PNG$"));
    CHECK(r.match("path_reg -i \\.png$"));
    CHECK_FALSE(r.match("path_reg \\.png$"));
    CHECK(r.match("path_dir img"));
    CHECK(r.match("path_dir /static/img"));
    CHECK_FALSE(r.match("path_dir im"));
    CHECK(r.match("path_len 20"));
    CHECK(r.match("path_len gt 10"));
    CHECK(r.match("path -m beg /static"));
    CHECK(r.match("path -m sub -i logo"));
    CHECK(r.match("path -m found"));
    CHECK(r.match("path -m len 20:30"));
}

TEST_CASE("acl: url, query, base, url_param", "[acl]") {
    Req r;
    CHECK(r.match("url /static/img/Logo.PNG?size=big&v=2"));
    CHECK(r.match("url_beg /static/"));
    CHECK(r.match("url_sub size=big"));
    CHECK(r.match("url_end v=2"));
    CHECK(r.match("url_reg [?&]v=[0-9]+"));
    CHECK(r.match("url_param(size) big"));
    CHECK(r.match("urlp(v) -m int 2"));
    CHECK_FALSE(r.match("url_param(size) small"));
    CHECK(r.match("url_param(size) -m found"));
    CHECK_FALSE(r.match("url_param(nope) -m found"));
    CHECK(r.match("query size=big&v=2"));
    CHECK(r.match("query -m sub v=2"));
    CHECK(r.match("base www.Example.com:8080/static/img/Logo.PNG"));
    CHECK(r.match("base_beg -i www.example.com"));
    CHECK(r.match("base_sub :8080/"));
}

TEST_CASE("acl: headers", "[acl]") {
    Req r;
    CHECK(r.match("hdr(host) www.Example.com:8080"));
    CHECK(r.match("hdr(HOST) -i www.example.com:8080"));
    CHECK(r.match("req.hdr(host) -m beg www."));
    CHECK(r.match("hdr_beg(host) -i WWW."));
    CHECK(r.match("hdr_end(host) :8080"));
    CHECK(r.match("hdr_sub(host) Example"));
    CHECK(r.match("hdr_reg(host) ^www\\.[A-Za-z]+"));
    CHECK_FALSE(r.match("hdr_reg(host) ^www\\.[a-z]+\\.com$"));
    CHECK(r.match("hdr_dom(host) -i example.com"));
    CHECK(r.match("hdr_dom(host) -i www"));
    CHECK_FALSE(r.match("hdr_dom(host) -i ample.com"));
    CHECK(r.match("hdr_len(host) 20"));
    // Every comma-separated value is an occurrence; fhdr keeps the line whole.
    CHECK(r.match("hdr(accept) application/json"));
    CHECK(r.match("req.hdr(accept) text/html"));
    CHECK_FALSE(r.match("req.fhdr(accept) text/html"));
    CHECK(r.match("req.fhdr(accept) -m sub json"));
    CHECK(r.match("hdr(accept,1) text/html"));
    CHECK_FALSE(r.match("hdr(accept,1) application/json"));
    CHECK(r.match("hdr_cnt(accept) 2"));
    CHECK(r.match("req.hdr_cnt(accept) eq 2"));
    CHECK(r.match("hdr_cnt(nope) 0"));
    CHECK(r.match("hdr_val(content-length) gt 10"));
    CHECK_FALSE(r.match("hdr_val(content-length) lt 10"));
    CHECK(r.match("hdr_ip(x-forwarded-for) 203.0.113.0/24"));
    CHECK(r.match("hdr(x-forwarded-for) -m ip 203.0.113.9"));
    CHECK(r.match("hdr(x-missing) -m found") == false);
    CHECK(r.match("hdr(host) -m found"));
}

TEST_CASE("acl: method, ports, int operators and ranges", "[acl]") {
    Req r;
    CHECK(r.match("method GET HEAD"));
    CHECK_FALSE(r.match("method get"));
    CHECK(r.match("method -i get"));
    CHECK_FALSE(r.match("method POST"));
    CHECK(r.match("dst_port 443"));
    CHECK(r.match("dst_port 80 443"));
    CHECK(r.match("dst_port 400:500"));
    CHECK(r.match("dst_port 400:"));
    CHECK(r.match("dst_port :443"));
    CHECK_FALSE(r.match("dst_port :442"));
    CHECK(r.match("dst_port ge 443"));
    CHECK_FALSE(r.match("dst_port gt 443"));
    CHECK(r.match("dst_port le 443"));
    CHECK_FALSE(r.match("dst_port lt 443"));
    CHECK(r.match("dst_port eq 443"));
    CHECK(r.match("dst_port lt 100 443"));  // the operator applies to the next value only
    CHECK(r.match("src_port gt 50000"));
    CHECK(r.match("nbsrv(app) ge 1"));
    CHECK(r.match("nbsrv(dead) lt 1"));
    CHECK_FALSE(r.match("nbsrv(nope) -m found"));
    CHECK(r.match("always_true"));
    CHECK_FALSE(r.match("always_false"));
    CHECK(r.match("int(-5) -10:-1"));
}

TEST_CASE("acl: networks v4/v6 with masks", "[acl]") {
    Req r;
    CHECK(r.match("src 192.168.1.20"));
    CHECK(r.match("src 192.168.1.0/24"));
    CHECK(r.match("src 192.168.0.0/255.255.0.0"));
    CHECK_FALSE(r.match("src 192.168.2.0/24"));
    CHECK(r.match("src 10.0.0.0/8 192.168.1.16/28"));
    CHECK_FALSE(r.match("src 192.168.1.16/30"));
    CHECK(r.match("src 0.0.0.0/0"));
    CHECK(r.match("src ::ffff:192.168.1.20"));        // v4 address, v4-mapped v6 pattern
    CHECK(r.match("src ::ffff:192.168.1.0/120"));
    CHECK_FALSE(r.match("src 2001:db8::/32"));
    CHECK(r.match("dst 10.0.0.1"));

    sockaddr_storage v6 = addr("2001:db8:1:2::99", 1234);
    r.s.src = &v6;
    CHECK(r.match("src 2001:db8::/32"));
    CHECK(r.match("src 2001:db8:1:2::99"));
    CHECK(r.match("src 2001:db8:1:2::/64"));
    CHECK_FALSE(r.match("src 2001:db8:1:3::/64"));
    CHECK_FALSE(r.match("src 192.168.1.0/24"));
    CHECK(r.match("src 2001:0db8:0001:0002::0/63"));

    sockaddr_storage mapped = addr("::ffff:192.168.1.20", 1);
    r.s.src = &mapped;
    CHECK(r.match("src 192.168.1.0/24"));  // v4-mapped v6 address, v4 pattern
}

TEST_CASE("acl: -f pattern files", "[acl]") {
    Req r;
    TempFile nets("# trusted networks\n\n  10.1.0.0/16  \n192.168.1.0/24\r\n\t# indented comment\n2001:db8::/32\n");
    CHECK(r.match("src -f " + nets.path));
    sockaddr_storage other = addr("172.16.0.1");
    r.s.src = &other;
    CHECK_FALSE(r.match("src -f " + nets.path));
    CHECK(r.match("src -f " + nets.path + " 172.16.0.0/12"));  // file and inline patterns add up
    sockaddr_storage v6 = addr("2001:db8::1");
    r.s.src = &v6;
    CHECK(r.match("src -f " + nets.path));

    TempFile paths("/static\n/img\n");
    CHECK(r.match("path_beg -f " + paths.path));
    TempFile two("/nope\n");
    CHECK(r.match("path_beg -f " + two.path + " -f " + paths.path));
    CHECK_FALSE(r.match("path_beg -f " + two.path));

    TempFile bad("10.0.0.0/8\nnot-an-ip\n");
    CHECK(acl_error("src -f " + bad.path) == "'not-an-ip' is not a valid IPv4 or IPv6 address or network");
    CHECK(acl_error("src -f /nonexistent/x.lst") ==
          "cannot open pattern file '/nonexistent/x.lst': No such file or directory");
}

TEST_CASE("acl: response criteria", "[acl]") {
    Req r;
    r.s.res = &r.res;
    CHECK(r.match("status 503", SampleDir::Response));
    CHECK(r.match("status 500:599", SampleDir::Response));
    CHECK(r.match("res.hdr(content-type) -m beg text/", SampleDir::Response));
    CHECK(r.match("hdr(content-type) text/plain", SampleDir::Response));
    CHECK_FALSE(r.match("hdr(content-type) text/plain", SampleDir::Request));
}

TEST_CASE("acl: parse errors", "[acl]") {
    CHECK(acl_error("path_reg (a") == "invalid regex '(a': missing closing parenthesis at offset 2");
    CHECK(acl_error("nope /x") == "unknown criterion 'nope'");
    CHECK(acl_error("nope_beg /x") == "unknown criterion 'nope_beg'");
    CHECK(acl_error("req.cook(x) a") == "fetch method 'req.cook' is not supported yet");
    CHECK(acl_error("hdr_beg() x") == "fetch method 'hdr': missing header name");
    CHECK(acl_error("path -m") == "'-m' expects an argument");
    CHECK(acl_error("path -f") == "'-f' expects an argument");
    CHECK(acl_error("path -m foo x") ==
          "unknown matching method 'foo' (expects found, bool, int, ip, str, beg, end, sub, reg, dir, dom or len)");
    CHECK(acl_error("path -m bin x") == "'-m bin' is not supported yet");
    CHECK(acl_error("path -u 1 x") == "flag '-u' is not supported yet");
    CHECK(acl_error("path -M x") == "flag '-M' is not supported yet");
    CHECK(acl_error("path -z x") == "unknown flag '-z' (expects -i, -n, -m <method>, -f <file> or --)");
    CHECK(acl_error("dst_port abc") ==
          "'abc' is not a valid integer or range (N, N:M, N:, :M, or eq|ge|gt|le|lt N)");
    CHECK(acl_error("dst_port gt") == "missing value after operator 'gt'");
    CHECK(acl_error("dst_port gt x") == "'x' is not a valid integer after operator 'gt'");
    CHECK(acl_error("src 10.0.0.0/33") == "'10.0.0.0/33' is not a valid IPv4 or IPv6 address or network");
    CHECK(acl_error("src 10.0.0.0/255.0.255.0") ==
          "'10.0.0.0/255.0.255.0' is not a valid IPv4 or IPv6 address or network");
    CHECK(acl_error("src example.com") == "'example.com' is not a valid IPv4 or IPv6 address or network");
    CHECK(acl_error("path -m found /x") == "matching method 'found' takes no pattern, but got '/x'");
    CHECK(acl_error("path -m bool") == "matching method 'bool' cannot be used with fetch method 'path'");
    CHECK(acl_error("dst_port -m ip 1.2.3.4") == "matching method 'ip' cannot be used with fetch method 'dst_port'");

    // A pattern-less ACL is accepted with HAProxy's warning, silenced by '--'.
    std::string err, warn;
    auto w = words("path");
    CHECK(parse_acl_expr(w, &err, &warn));
    CHECK(warn.find("no pattern to match against were provided") != std::string::npos);
    warn.clear();
    w = words("path --");
    CHECK(parse_acl_expr(w, &err, &warn));
    CHECK(warn.empty());
    // '--' ends the flags: "-i" is then a pattern.
    Req r;
    r.req.uri = "-i";
    CHECK(r.match("path -- -i"));
    CHECK(r.match("int(-3) -3"));
}

TEST_CASE("acl: conditions", "[acl]") {
    Req r;
    std::map<std::string, std::shared_ptr<Acl>> acls;
    auto define = [&](const std::string& name, const std::string& expr) {
        auto w = words(expr);
        std::string err;
        auto e = parse_acl_expr(w, &err);
        REQUIRE(e);
        auto& a = acls[name];
        if (!a) {
            a = std::make_shared<Acl>();
            a->name = name;
        }
        a->exprs.push_back(e);
    };
    AclLookup lookup = [&](std::string_view n) -> std::shared_ptr<const Acl> {
        auto it = acls.find(std::string(n));
        return it == acls.end() ? nullptr : it->second;
    };
    define("is_get", "method GET");
    define("is_post", "method POST");
    define("static", "path_beg /static");
    define("local", "src 127.0.0.1");
    define("api", "path_beg /api");
    define("api", "hdr(host) -m beg www.");  // a second line ORs
    auto cond = [&](const std::string& text, SampleDir dir = SampleDir::Request) {
        auto w = words(text);
        std::string err;
        auto c = parse_condition(w, lookup, &err);
        INFO(text << ": " << err);
        REQUIRE(c);
        return cond_match(c.get(), r.s, dir);
    };
    auto cond_error = [&](const std::string& text) {
        auto w = words(text);
        std::string err;
        CHECK_FALSE(parse_condition(w, lookup, &err));
        return err;
    };
    CHECK(cond("if is_get"));
    CHECK_FALSE(cond("unless is_get"));
    CHECK(cond("if is_get static"));
    CHECK_FALSE(cond("if is_get local"));
    CHECK(cond("if is_post || static"));
    CHECK(cond("if is_post or static"));
    CHECK_FALSE(cond("if is_post || local"));
    CHECK(cond("if !is_post"));
    CHECK(cond("if ! is_post"));
    CHECK_FALSE(cond("if !is_get"));
    CHECK(cond("if !local is_get"));
    CHECK(cond("unless local || is_post"));
    CHECK(cond("if api"));  // via its second line
    CHECK(cond("if { path_beg /static } is_get"));
    CHECK(cond("if !{ method POST }"));
    CHECK_FALSE(cond("if { src 10.0.0.0/8 } || { path_end .gif }"));
    CHECK(cond("if { src 10.0.0.0/8 } || { path_end -i .png }"));
    CHECK(cond("if TRUE"));
    CHECK_FALSE(cond("if FALSE"));
    CHECK(cond("if METH_GET HTTP_1.1 HTTP_URL_SLASH HTTP_CONTENT HTTP"));
    CHECK_FALSE(cond("if LOCALHOST"));
    CHECK_FALSE(cond("if METH_POST || HTTP_1.0 || HTTP_URL_ABS || HTTP_URL_STAR"));
    CHECK(cond_match(nullptr, r.s, SampleDir::Request));

    CHECK(cond_error("if nope") == "no such ACL 'nope'");
    CHECK(cond_error("if is_get || nope") == "no such ACL 'nope'");
    CHECK(cond_error("if") == "missing condition after 'if'");
    CHECK(cond_error("unless") == "missing condition after 'unless'");
    CHECK(cond_error("when is_get") == "expects 'if' or 'unless'");
    CHECK(cond_error("if is_get ||") == "missing ACL after '||'");
    CHECK(cond_error("if || is_get") == "missing ACL before '||'");
    CHECK(cond_error("if is_get !") == "missing ACL after '!'");
    CHECK(cond_error("if { path_beg /x") == "missing '}' to close the anonymous ACL");
    CHECK(cond_error("if { }") == "empty anonymous ACL '{ }'");
    CHECK(cond_error("if is_get }") == "unexpected '}' without '{'");
    CHECK(cond_error("if { path_reg ( }") ==
          "anonymous ACL: invalid regex '(': missing closing parenthesis at offset 1");

    // Which conditions need the response.
    std::string err;
    auto w = words("if { status 500 } || is_get");
    auto c = parse_condition(w, lookup, &err);
    REQUIRE(c);
    CHECK(c->needs_response);
    CHECK(c->first_response_fetch == "status");
    w = words("if is_get");
    CHECK_FALSE(parse_condition(w, lookup, &err)->needs_response);
}

TEST_CASE("acl: regex replace with back references", "[acl]") {
    std::string err;
    auto re = Regex::compile("^([^:]+):(\\d+)$", false, &err);
    REQUIRE(re);
    std::string out;
    CHECK(re->replace("host:80", "\\2 on \\1 (\\0) \\9\\x", &out));
    CHECK(out == "80 on host (host:80) \\x");
    out = "keep";
    CHECK_FALSE(re->replace("nope", "x", &out));
    CHECK(out == "keep");
    CHECK(re->match("a:1"));
    CHECK_FALSE(re->match(""));
    auto ci = Regex::compile("abc", true, &err);
    REQUIRE(ci);
    CHECK(ci->match("xABCx"));
    CHECK_FALSE(Regex::compile("a{2,1}", false, &err));
    CHECK(err.rfind("invalid regex 'a{2,1}': ", 0) == 0);
    CHECK(err.find("at offset") != std::string::npos);
}
