#include "common/sample.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "common/vars.h"

using namespace proxyd::common;

namespace {

sockaddr_storage addr(const char* ip, uint16_t port) {
    sockaddr_storage ss{};
    if (std::strchr(ip, ':')) {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &s6->sin6_addr);
        s6->sin6_port = htons(port);
    } else {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &s4->sin_addr);
        s4->sin_port = htons(port);
    }
    return ss;
}

class FakeState : public ProxyStateView {
public:
    int nbsrv(std::string_view backend) const override { return backend == "app" ? 2 : backend == "dead" ? 0 : -1; }
};

struct Fixture {
    HttpHead req, res;
    sockaddr_storage src = addr("192.0.2.7", 40000), dst = addr("10.0.0.1", 8080);
    FakeState state;
    StreamInfo s;
    Fixture() {
        req.method = "GET";
        req.uri = "/a/b.html?x=1&y=two&x=3";
        req.fields = {{"Host", "Example.com"}, {"X-List", "a, b ,c"}, {"x-list", "d"}, {"Content-Length", "42"},
                      {"X-Fwd", "2001:db8::1"}};
        res.status = 404;
        res.fields = {{"Server", "srv"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}};
        s.src = &src;
        s.dst = &dst;
        s.req = &req;
        s.frontend = "fe";
        s.backend = "be";
        s.server = "s1";
        s.state = &state;
    }
    // The sample as text; "<none>" when not found.
    std::string get(const char* expr, SampleDir dir = SampleDir::Request) {
        std::string err;
        auto e = parse_sample_expr(expr, &err);
        INFO(expr << ": " << err);
        REQUIRE(e);
        SampleValue v;
        if (!eval_sample(*e, s, &v, dir))
            return "<none>";
        std::string out;
        sample_to_string(v, &out);
        return out;
    }
    std::string all(const char* expr, SampleDir dir = SampleDir::Request) {
        std::string err;
        auto e = parse_sample_expr(expr, &err);
        REQUIRE(e);
        SampleValue v;
        std::string out;
        eval_sample_each(*e, s, dir, &v,
                         [](void* ctx, const SampleValue& x) {
                             auto* o = static_cast<std::string*>(ctx);
                             if (!o->empty())
                                 o->push_back('|');
                             sample_to_string(x, o);
                             return false;
                         },
                         &out);
        return out;
    }
};

std::string parse_error(const char* expr) {
    std::string err;
    auto e = parse_sample_expr(expr, &err);
    CHECK_FALSE(e);
    return err;
}

}  // namespace

TEST_CASE("sample: connection and request fetches", "[sample]") {
    Fixture f;
    CHECK(f.get("src") == "192.0.2.7");
    CHECK(f.get("src_port") == "40000");
    CHECK(f.get("dst") == "10.0.0.1");
    CHECK(f.get("dst_port") == "8080");
    CHECK(f.get("method") == "GET");
    CHECK(f.get("path") == "/a/b.html");
    CHECK(f.get("url") == "/a/b.html?x=1&y=two&x=3");
    CHECK(f.get("query") == "x=1&y=two&x=3");
    CHECK(f.get("base") == "Example.com/a/b.html");
    CHECK(f.get("req.ver") == "1.1");
    CHECK(f.get("url_param(y)") == "two");
    CHECK(f.get("urlp(x)") == "1");
    CHECK(f.get("url_param(z)") == "<none>");
    CHECK(f.get("fe_name") == "fe");
    CHECK(f.get("be_name") == "be");
    CHECK(f.get("srv_name") == "s1");
    CHECK(f.get("nbsrv(app)") == "2");
    CHECK(f.get("nbsrv(nope)") == "<none>");
    CHECK(f.get("always_true") == "1");
    CHECK(f.get("always_false") == "0");
    CHECK(f.get("str(hello)") == "hello");
    CHECK(f.get("int(-12)") == "-12");

    f.req.uri = "/nq";
    CHECK(f.get("query") == "<none>");
    f.req.uri = "/nq?";
    CHECK(f.get("query").empty());
    f.s.req = nullptr;
    CHECK(f.get("path") == "<none>");
    CHECK(f.get("hdr(host)") == "<none>");
    f.s.src = nullptr;
    CHECK(f.get("src") == "<none>");

    Fixture g;
    sockaddr_storage v6 = addr("2001:db8::5", 443);
    g.s.src = &v6;
    CHECK(g.get("src") == "2001:db8::5");
    CHECK(g.get("src_port") == "443");
}

TEST_CASE("sample: headers, occurrences and direction", "[sample]") {
    Fixture f;
    CHECK(f.get("req.hdr(host)") == "Example.com");
    CHECK(f.get("hdr(HOST)") == "Example.com");
    // Without occurrence: the last value; hdr splits on commas, fhdr does not.
    CHECK(f.get("hdr(x-list)") == "d");
    CHECK(f.get("hdr(x-list,1)") == "a");
    CHECK(f.get("hdr(x-list,2)") == "b");
    CHECK(f.get("hdr(x-list,-2)") == "c");
    CHECK(f.get("hdr(x-list,9)") == "<none>");
    CHECK(f.get("fhdr(x-list,1)") == "a, b ,c");
    CHECK(f.get("req.fhdr(x-list)") == "d");
    CHECK(f.get("hdr_cnt(x-list)") == "4");
    CHECK(f.get("req.hdr_cnt(missing)") == "0");
    CHECK(f.get("hdr_cnt") == "5");
    CHECK(f.get("hdr_val(content-length)") == "42");
    CHECK(f.get("hdr_ip(x-fwd)") == "2001:db8::1");
    CHECK(f.get("hdr(missing)") == "<none>");
    CHECK(f.all("hdr(x-list)") == "a|b|c|d");
    CHECK(f.all("fhdr(x-list)") == "a, b ,c|d");
    CHECK(f.all("url_param(x)") == "1|3");

    // Response fetches: nothing until a response exists; hdr follows the direction.
    CHECK(f.get("res.hdr(server)") == "<none>");
    CHECK(f.get("status") == "<none>");
    f.s.res = &f.res;
    CHECK(f.get("res.hdr(server)") == "srv");
    CHECK(f.get("shdr(set-cookie)") == "b=2");
    CHECK(f.get("hdr(server)", SampleDir::Response) == "srv");
    CHECK(f.get("hdr(server)", SampleDir::Request) == "<none>");
    CHECK(f.get("res.hdr_cnt(set-cookie)") == "2");
    CHECK(f.get("status") == "404");
    // Logs after a locally generated response: the status sent.
    f.s.res = nullptr;
    f.s.status = 503;
    CHECK(f.get("status") == "503");
}

TEST_CASE("sample: converters", "[sample]") {
    Fixture f;
    CHECK(f.get("req.hdr(host),lower") == "example.com");
    CHECK(f.get("req.hdr(host),upper") == "EXAMPLE.COM");
    CHECK(f.get("req.hdr(host),lower,upper") == "EXAMPLE.COM");
    CHECK(f.get("str(hello),base64") == "aGVsbG8=");
    CHECK(f.get("str(hi),base64") == "aGk=");
    CHECK(f.get("str(abc),base64") == "YWJj");
    CHECK(f.get("str(AZ),hex") == "415A");
    CHECK(f.get("path,length") == "9");
    CHECK(f.get("src_port,base64") == "NDAwMDA=");  // the integer as text first
    CHECK(f.all("hdr(x-list),upper") == "A|B|C|D");
    std::string err;
    auto e = parse_sample_expr("path,length", &err);
    REQUIRE(e);
    CHECK(sample_type(*e) == SampleValue::Type::Int);
}

TEST_CASE("sample: variables", "[sample]") {
    Fixture f;
    CHECK(f.get("var(txn.a)") == "<none>");  // no store: no variable
    CHECK(f.get("str(x),set-var(txn.a)") == "<none>");  // set-var fails without a store
    VarSet proc;
    VarStore vars;
    vars.proc = &proc;
    f.s.vars = &vars;
    CHECK(f.get("var(txn.a)") == "<none>");
    CHECK(f.get("var(txn.a,dflt)") == "dflt");
    // The converter stores the value with its type and passes it on.
    CHECK(f.get("req.hdr(host),lower,set-var(txn.host),upper") == "EXAMPLE.COM");
    CHECK(f.get("var(txn.host)") == "example.com");
    CHECK(f.get("src_port,set-var(sess.port)") == "40000");
    CHECK(f.get("src,set-var(proc.ip)") == "192.0.2.7");
    SampleValue v;
    std::string err;
    auto e = parse_sample_expr("var(sess.port)", &err);
    REQUIRE(e);
    CHECK(sample_type(*e) == SampleValue::Type::None);  // known at run time
    REQUIRE(eval_sample(*e, f.s, &v));
    CHECK(v.type == SampleValue::Type::Int);
    CHECK(v.i == 40000);
    e = parse_sample_expr("var(proc.ip)", &err);
    REQUIRE(eval_sample(*e, f.s, &v));
    CHECK(v.type == SampleValue::Type::Ip);
    CHECK(f.get("var(txn.host),length") == "11");
    e = parse_sample_expr("var(txn.host),set-var(txn.b)", &err);
    REQUIRE(e);
    CHECK(sample_type(*e) == SampleValue::Type::None);
    // Conditions: a failed condition fails the sample (HAProxy's converter).
    CHECK(f.get("str(new),set-var(txn.host,ifnotexists)") == "<none>");
    CHECK(f.get("var(txn.host)") == "example.com");
    CHECK(f.get("str(),set-var(txn.host,ifnotempty)") == "<none>");
    CHECK(f.get("str(v2),set-var(txn.host,ifexists,ifnotempty)") == "v2");
    CHECK(f.get("var(txn.host)") == "v2");
    // unset-var passes its input on.
    CHECK(f.get("str(k),unset-var(txn.host)") == "k");
    CHECK(f.get("var(txn.host)") == "<none>");
    // Scopes of the direction: res. is unavailable during the request.
    CHECK(f.get("str(r),set-var(res.x)") == "<none>");
    vars.begin_response();
    CHECK(f.get("str(r),set-var(res.x)") == "r");
    CHECK(f.get("var(res.x)") == "r");
    // Multi-valued fetches store each value in turn (ACL evaluation): the last one stays.
    CHECK(f.all("hdr(x-list),set-var(txn.last)") == "a|b|c|d");
    CHECK(f.get("var(txn.last)") == "d");

    CHECK(parse_error("var") == "fetch method 'var' expects at least 1 argument(s)");
    CHECK(parse_error("var(a)") == "fetch method 'var': invalid variable name 'a': a variable name starts with its "
                                   "scope, 'proc.', 'sess.', 'txn.', 'req.' or 'res.'");
    CHECK(parse_error("var(txn.a,b,c)") == "fetch method 'var' expects at most 2 argument(s)");
    CHECK(parse_error("path,set-var") == "converter 'set-var' expects a variable name");
    CHECK(parse_error("path,set-var(txn.a,ifbig)") ==
          "converter 'set-var': unknown condition 'ifbig' (expects ifexists, ifnotexists, ifempty, ifnotempty, "
          "ifset, ifnotset, ifgt or iflt)");
    CHECK(parse_error("path,set-var(x.a)") == "converter 'set-var': invalid variable name 'x.a': a variable name "
                                              "starts with its scope, 'proc.', 'sess.', 'txn.', 'req.' or 'res.'");
    CHECK(parse_error("path,unset-var(txn.a,ifset)") == "converter 'unset-var' expects only a variable name");
}

TEST_CASE("sample: properties for validation", "[sample]") {
    std::string err;
    auto e = parse_sample_expr("res.hdr(x)", &err);
    REQUIRE(e);
    CHECK(sample_needs_response(*e));
    CHECK_FALSE(sample_needs_request(*e));
    e = parse_sample_expr("req.hdr(x)", &err);
    CHECK(sample_needs_request(*e));
    CHECK(sample_fetch_name(*e) == "req.hdr");
    e = parse_sample_expr("nbsrv(app)", &err);
    CHECK(sample_backend_refs(*e) == std::vector<std::string>{"app"});
    e = parse_sample_expr("status", &err);
    CHECK(sample_needs_response(*e));
}

TEST_CASE("sample: parse errors", "[sample]") {
    CHECK(parse_error("foo") == "unknown fetch method 'foo'");
    CHECK(parse_error("") == "missing fetch method");
    CHECK(parse_error("req.cook(a)") == "fetch method 'req.cook' is not supported yet");
    CHECK(parse_error("path(x)") == "fetch method 'path' takes no argument");
    CHECK(parse_error("hdr") == "fetch method 'hdr' expects at least 1 argument(s)");
    CHECK(parse_error("hdr()") == "fetch method 'hdr': missing header name");
    CHECK(parse_error("hdr(a,1,2)") == "fetch method 'hdr' expects at most 2 argument(s)");
    CHECK(parse_error("hdr(a,x)") == "fetch method 'hdr': invalid occurrence 'x'");
    CHECK(parse_error("hdr(a") == "missing closing parenthesis after 'hdr('");
    CHECK(parse_error("nbsrv") == "fetch method 'nbsrv' expects 1 argument(s)");
    CHECK(parse_error("url_param(a,xy)") == "fetch method 'url_param': the delimiter must be one character, not 'xy'");
    CHECK(parse_error("int(x)") == "fetch method 'int': invalid integer 'x'");
    CHECK(parse_error("path,foo") == "unknown converter 'foo'");
    CHECK(parse_error("path,map(x)") == "converter 'map' is not supported yet");
    CHECK(parse_error("path,") == "missing converter name after ',' in 'path,'");
    CHECK(parse_error("path,lower(1)") == "converter 'lower' takes no argument");
    CHECK(parse_error("hdr(a)x") == "unexpected 'x' after fetch method 'hdr'");
}
