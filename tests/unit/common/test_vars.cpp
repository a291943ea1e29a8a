#include "common/vars.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd::common;

namespace {

using T = SampleValue::Type;

VarName name(const char* text) {
    VarName n;
    std::string err;
    bool ok = parse_var_name(text, &n, &err);
    INFO(text << ": " << err);
    REQUIRE(ok);
    return n;
}

std::string name_error(const char* text) {
    VarName n;
    std::string err;
    CHECK_FALSE(parse_var_name(text, &n, &err));
    return err;
}

SampleValue str(std::string_view v) {
    SampleValue s;
    s.type = T::Str;
    s.str = v;
    return s;
}

SampleValue num(int64_t v) {
    SampleValue s;
    s.type = T::Int;
    s.i = v;
    return s;
}

// The variable as text, "<none>" when missing.
std::string get(const VarStore& vs, const char* n) {
    SampleValue v;
    if (!var_get(&vs, name(n), &v))
        return "<none>";
    std::string out;
    sample_to_string(v, &out);
    return out;
}

}  // namespace

TEST_CASE("vars: names", "[vars]") {
    VarName n = name("txn.my_var.x1");
    CHECK(n.scope == VarScope::Txn);
    CHECK(n.name == "my_var.x1");
    CHECK(n.text == "txn.my_var.x1");
    CHECK(name("proc.a").scope == VarScope::Proc);
    CHECK(name("sess.a").scope == VarScope::Sess);
    CHECK(name("req.a").scope == VarScope::Req);
    CHECK(name("res.a").scope == VarScope::Res);

    CHECK(name_error("") == "empty variable name");
    CHECK(name_error("foo.a") == "invalid variable name 'foo.a': a variable name starts with its scope, 'proc.', "
                                 "'sess.', 'txn.', 'req.' or 'res.'");
    CHECK(name_error("txn.") == "invalid variable name 'txn.': a variable name starts with its scope, 'proc.', "
                                "'sess.', 'txn.', 'req.' or 'res.'");
    CHECK(name_error("txn.a-b") == "invalid character '-' in variable name 'txn.a-b' (expects a-z, A-Z, 0-9, '_' "
                                   "and '.')");
    CHECK(name_error("check.a") == "variable 'check.a': scope 'check' is not supported yet");

    unsigned f = 0;
    std::string err;
    CHECK(parse_var_cond("ifnotempty", &f, &err));
    CHECK(parse_var_cond("ifgt", &f, &err));
    CHECK(f == (VarIfNotEmpty | VarIfGt));
    CHECK_FALSE(parse_var_cond("ifbig", &f, &err));
    CHECK(err == "unknown condition 'ifbig' (expects ifexists, ifnotexists, ifempty, ifnotempty, ifset, ifnotset, "
                 "ifgt or iflt)");
}

TEST_CASE("vars: scopes and lifetimes", "[vars]") {
    VarSet proc;
    VarStore vs;
    vs.proc = &proc;
    vs.begin_request();
    CHECK(var_set(&vs, name("proc.p"), str("P")));
    CHECK(var_set(&vs, name("sess.s"), str("S")));
    CHECK(var_set(&vs, name("txn.t"), str("T")));
    CHECK(var_set(&vs, name("req.q"), str("Q")));
    // res. is not writable nor readable during the request.
    CHECK_FALSE(var_set(&vs, name("res.r"), str("R")));
    CHECK(get(vs, "req.q") == "Q");
    CHECK(get(vs, "res.r") == "<none>");

    vs.begin_response();
    CHECK(vs.in_response());
    CHECK(get(vs, "req.q") == "<none>");  // dropped with the request phase
    CHECK_FALSE(var_set(&vs, name("req.q"), str("Q2")));
    CHECK(var_set(&vs, name("res.r"), str("R")));
    CHECK(get(vs, "res.r") == "R");
    CHECK(get(vs, "txn.t") == "T");
    vs.begin_response();  // idempotent
    CHECK(get(vs, "res.r") == "R");

    // Next request of the connection: txn. and res. gone, sess. and proc. stay.
    vs.begin_request();
    CHECK_FALSE(vs.in_response());
    CHECK(get(vs, "txn.t") == "<none>");
    CHECK(get(vs, "res.r") == "<none>");
    CHECK(get(vs, "sess.s") == "S");
    CHECK(get(vs, "proc.p") == "P");

    // Another connection of the same worker shares proc. only.
    VarStore other;
    other.proc = &proc;
    CHECK(get(other, "proc.p") == "P");
    CHECK(get(other, "sess.s") == "<none>");

    // No process set, no store: nothing happens.
    VarStore bare;
    CHECK_FALSE(var_set(&bare, name("proc.p"), str("x")));
    CHECK(get(bare, "proc.p") == "<none>");
    CHECK_FALSE(var_set(nullptr, name("txn.t"), str("x")));
    CHECK_FALSE(var_unset(nullptr, name("txn.t")));
    SampleValue v;
    CHECK_FALSE(var_get(nullptr, name("txn.t"), &v));
}

TEST_CASE("vars: types, copies and unset", "[vars]") {
    VarSet proc;
    VarStore vs;
    vs.proc = &proc;
    std::string src = "hello";
    CHECK(var_set(&vs, name("txn.s"), str(src)));
    src = "world";  // the variable holds its own copy
    CHECK(get(vs, "txn.s") == "hello");

    CHECK(var_set(&vs, name("txn.i"), num(-42)));
    SampleValue v;
    REQUIRE(var_get(&vs, name("txn.i"), &v));
    CHECK(v.type == T::Int);
    CHECK(v.i == -42);

    SampleValue b;
    b.type = T::Bool;
    b.i = 1;
    CHECK(var_set(&vs, name("txn.b"), b));
    REQUIRE(var_get(&vs, name("txn.b"), &v));
    CHECK(v.type == T::Bool);

    SampleValue ip;
    ip.type = T::Ip;
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ip.ip);
    s4->sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.1", &s4->sin_addr);
    CHECK(var_set(&vs, name("txn.ip"), ip));
    REQUIRE(var_get(&vs, name("txn.ip"), &v));
    CHECK(v.type == T::Ip);
    CHECK(get(vs, "txn.ip") == "192.0.2.1");

    // A string read back lives in the sample, not in the variable.
    REQUIRE(var_get(&vs, name("txn.s"), &v));
    CHECK(var_set(&vs, name("txn.s"), str("changed")));
    CHECK(v.str == "hello");
    // Changing the type.
    CHECK(var_set(&vs, name("txn.s"), num(7)));
    CHECK(get(vs, "txn.s") == "7");
    // An empty string is a value.
    CHECK(var_set(&vs, name("txn.e"), str("")));
    CHECK(get(vs, "txn.e") == "");
    // A sample of no type stores nothing.
    CHECK_FALSE(var_set(&vs, name("txn.none"), SampleValue{}));

    CHECK(var_unset(&vs, name("txn.s")));
    CHECK(get(vs, "txn.s") == "<none>");
    CHECK(var_unset(&vs, name("txn.never")));
    CHECK(vs.txn.find("s") == nullptr);

    // proc. variables stay declared after unset-var (HAProxy declares them at parse time).
    CHECK(var_set(&vs, name("proc.p"), str("x")));
    CHECK(var_unset(&vs, name("proc.p")));
    CHECK(get(vs, "proc.p") == "<none>");
    CHECK(proc.find("p") != nullptr);
}

TEST_CASE("vars: set-var conditions", "[vars]") {
    VarSet proc;
    VarStore vs;
    vs.proc = &proc;
    VarName a = name("txn.a");
    CHECK_FALSE(var_set(&vs, a, str("1"), VarIfExists));
    CHECK(var_set(&vs, a, str("1"), VarIfNotExists));
    CHECK_FALSE(var_set(&vs, a, str("2"), VarIfNotExists));
    CHECK(var_set(&vs, a, str("2"), VarIfExists));
    CHECK(get(vs, "txn.a") == "2");

    CHECK_FALSE(var_set(&vs, a, str(""), VarIfNotEmpty));
    CHECK(var_set(&vs, a, str(""), VarIfEmpty));
    CHECK_FALSE(var_set(&vs, a, str("x"), VarIfEmpty));
    CHECK_FALSE(var_set(&vs, a, num(0), VarIfEmpty));  // scalars are never empty
    CHECK(var_set(&vs, a, num(0), VarIfNotEmpty));

    CHECK(var_set(&vs, a, num(10)));
    CHECK_FALSE(var_set(&vs, a, num(20), VarIfGt));  // 10 > 20 is false
    CHECK(var_set(&vs, a, num(5), VarIfGt));
    CHECK(get(vs, "txn.a") == "5");
    CHECK_FALSE(var_set(&vs, a, num(1), VarIfLt));
    CHECK(var_set(&vs, a, num(9), VarIfLt));
    CHECK(var_set(&vs, a, str("s"), VarIfGt));  // not both ints: true

    CHECK_FALSE(var_set(&vs, name("txn.b"), str("x"), VarIfSet));
    CHECK(var_set(&vs, name("txn.b"), str("x"), VarIfNotSet));
    CHECK_FALSE(var_set(&vs, name("txn.b"), str("y"), VarIfNotSet));
    CHECK(var_set(&vs, name("txn.b"), str("y"), VarIfSet));

    // proc. variables always exist, but may be unset.
    CHECK(var_set(&vs, name("proc.c"), str("x"), VarIfExists));
    CHECK_FALSE(var_set(&vs, name("proc.d"), str("x"), VarIfNotExists));
    CHECK(var_unset(&vs, name("proc.c")));
    CHECK(var_set(&vs, name("proc.c"), str("y"), VarIfNotSet));
}
