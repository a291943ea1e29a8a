#include "common/cond_expr.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>

using namespace proxyd::common;

namespace {

CondContext test_context() {
    CondContext c;
    c.env = [](const std::string& name) -> std::optional<std::string> {
        static const std::map<std::string, std::string> vars{{"SET", "yes"}, {"EMPTY", ""}};
        auto it = vars.find(name);
        if (it == vars.end())
            return std::nullopt;
        return it->second;
    };
    c.features = "+EPOLL +OPENSSL -LUA +PCRE2 -PCRE2_JIT";
    c.version = "2.6.0";
    c.ssllib_name = "OpenSSL 3.0.11 19 Sep 2023";
    c.ssllib_version = "3.0.11";
    c.enabled = [](std::string_view o) { return enabled_option(o, false); };
    return c;
}

// The value of a valid expression (a failure if it is not valid).
bool value(const std::string& expr) {
    CondOutcome r = eval_condition(expr, test_context());
    INFO("expression: " << expr << "\nerror: " << r.error);
    REQUIRE(r.error.empty());
    return r.value;
}

// The error of an invalid expression (a failure if it is valid).
CondOutcome failure(const std::string& expr) {
    CondOutcome r = eval_condition(expr, test_context());
    INFO("expression: " << expr << " = " << r.value);
    REQUIRE_FALSE(r.error.empty());
    CHECK(r.error.find('\n') == std::string::npos);
    CHECK(r.error_pos <= expr.size());
    return r;
}

}  // namespace

TEST_CASE("cond_expr: empty and integers", "[cond_expr]") {
    CHECK_FALSE(value(""));
    CHECK(value("1"));
    CHECK_FALSE(value("0"));
    CHECK(value("-1000"));
    CHECK(value("-1000 && 200"));
    CHECK(value("0x10"));
    CHECK_FALSE(value("0x0"));
    CHECK(value("  7  "));
    CHECK_FALSE(value("!1"));
    CHECK(value("!0"));
    CHECK(value("!!1"));
    CHECK(value("! ! 1"));
}

TEST_CASE("cond_expr: defined", "[cond_expr]") {
    CHECK(value("defined(SET)"));
    CHECK(value("defined(EMPTY)"));  // set, even to nothing
    CHECK_FALSE(value("defined(UNSET)"));
    CHECK_FALSE(value("defined()"));
    CHECK(value("!defined(UNSET)"));
}

TEST_CASE("cond_expr: feature", "[cond_expr]") {
    CHECK(value("feature(EPOLL)"));
    CHECK(value("feature(OPENSSL)"));
    CHECK(value("feature(PCRE2)"));
    CHECK_FALSE(value("feature(PCRE2_JIT)"));  // listed with '-'
    CHECK_FALSE(value("feature(LUA)"));
    CHECK_FALSE(value("feature(PCRE)"));       // a prefix of PCRE2 is not PCRE2
    CHECK_FALSE(value("feature(POLL)"));       // nor a suffix of EPOLL
    CHECK_FALSE(value("feature(NOPE)"));
    CHECK_FALSE(value("feature()"));
}

TEST_CASE("cond_expr: the real feature list is the -vv one", "[cond_expr]") {
    std::string f = build_features();
    CHECK(f.find("+EPOLL") != std::string::npos);
    CHECK(f.find("+OPENSSL") != std::string::npos);
    CondContext c = default_cond_context();
    CHECK(eval_condition("feature(OPENSSL) && feature(LINUX_SPLICE) && !feature(LUA)", c).value);
    CHECK(eval_condition("ssllib_name_startswith(OpenSSL) && openssl_version_atleast(1.1.1)", c).value);
    CHECK(eval_condition("version_atleast(2.6) && version_before(2.6.1)", c).value);
}

TEST_CASE("cond_expr: streq and strneq", "[cond_expr]") {
    CHECK(value("streq(a,a)"));
    CHECK_FALSE(value("streq(a,b)"));
    CHECK(value("strneq(a,b)"));
    CHECK_FALSE(value("strneq(a,a)"));
    CHECK(value("streq(,)"));
    // Arguments are verbatim between the commas: spaces count, as in HAProxy.
    CHECK_FALSE(value("streq(a, a)"));
    CHECK(value("streq(' a',\" a\")"));
    // Quotes and escapes protect ',' and ')'.
    CHECK(value("streq('a,b',\"a,b\")"));
    // "\," is not an escape: a lone '\', then the comma ends "a\"; "b" is one argument too many.
    CHECK(failure("streq(a\\,b,'a,b')").error.find("expected ')' before ',\'a,b\')'") != std::string::npos);
    CHECK(value("streq(\"x)\",'x)')"));
    CHECK(value("streq(a\\ b,'a b')"));
    CHECK(value("streq(\\'q,\"'q\")"));
    CHECK(value("streq(foo bar,'foo bar')"));
}

TEST_CASE("cond_expr: versions", "[cond_expr]") {
    // proxyd answers as HAProxy 2.6.0.
    CHECK(value("version_atleast(2.4)"));
    CHECK(value("version_atleast(2.5-dev0)"));
    CHECK(value("version_atleast(2.5-dev9)"));
    CHECK(value("version_atleast(2.6-dev0)"));
    CHECK(value("version_atleast(2.6-dev12)"));
    CHECK(value("version_atleast(2.6)"));
    CHECK(value("version_atleast(2.6.0)"));
    CHECK_FALSE(value("version_atleast(2.6.1)"));
    CHECK_FALSE(value("version_atleast(2.7-dev0)"));
    CHECK_FALSE(value("version_atleast(1024)"));
    CHECK(value("version_atleast(2)"));
    CHECK(value("version_before(2.6.1)"));
    CHECK(value("version_before(2.7)"));
    CHECK_FALSE(value("version_before(2.6)"));
    CHECK_FALSE(value("version_before(2.6-dev5)"));
    CHECK_FALSE(value("version_before(2.5)"));
    // rc and pre rank after dev, before the release; a commit count after all.
    CHECK(value("version_atleast(2.6-rc1)"));
    CHECK(value("version_atleast(2.6-pre3)"));
    CHECK(value("version_atleast(2.5.0-dev18-f6818d-20)"));
    CHECK(value("version_atleast(2.6.0.0)"));
    CHECK_FALSE(value("version_atleast(2.6.0.1)"));
    CHECK(failure("version_atleast(abc)").error.find("invalid version 'abc'") != std::string::npos);
    failure("version_atleast()");
    failure("version_before(2.6x)");
    failure("version_before(2.6.0.0.0)");
}

TEST_CASE("cond_expr: OpenSSL predicates", "[cond_expr]") {
    CHECK(value("ssllib_name_startswith(OpenSSL)"));
    CHECK_FALSE(value("ssllib_name_startswith(BoringSSL)"));
    CHECK(value("ssllib_name_startswith()"));
    CHECK(value("openssl_version_atleast(1.1.1)"));
    CHECK(value("openssl_version_atleast(1.1.1k)"));
    CHECK(value("openssl_version_atleast(3.0.11)"));
    CHECK(value("openssl_version_atleast(3.0.11-beta2)"));
    CHECK_FALSE(value("openssl_version_atleast(3.0.12)"));
    CHECK(value("openssl_version_before(3.1.0)"));
    CHECK_FALSE(value("openssl_version_before(3.0.11)"));
    CHECK(failure("openssl_version_atleast(3)").error.find("invalid OpenSSL version") != std::string::npos);
    failure("openssl_version_before(x.y.z)");
}

TEST_CASE("cond_expr: enabled", "[cond_expr]") {
    CHECK(value("enabled(EPOLL)"));
    CHECK(value("enabled(SPLICE)"));
    CHECK(value("enabled(GETADDRINFO)"));
    CHECK(value("enabled(REUSEPORT)"));
    CHECK(value("enabled(FAST-FORWARD)"));
    CHECK_FALSE(value("enabled(POLL)"));
    CHECK_FALSE(value("enabled(KQUEUE)"));
    CHECK_FALSE(value("enabled(EVPORTS)"));
    CHECK_FALSE(value("enabled(SERVER-SSL-VERIFY-NONE)"));
    CHECK_FALSE(value("enabled(epoll)"));  // names are case-sensitive
    CHECK_FALSE(value("enabled(WHATEVER)"));
    CHECK_FALSE(enabled_option("REUSEPORT", true));
    CondContext none = test_context();
    none.enabled = nullptr;
    CHECK_FALSE(eval_condition("enabled(EPOLL)", none).value);
}

TEST_CASE("cond_expr: precedence and grouping", "[cond_expr]") {
    CHECK(value("1 || 0 && 0"));    // 1 || (0 && 0)
    CHECK_FALSE(value("(1 || 0) && 0"));
    CHECK(value("0 && 0 || 1"));    // (0 && 0) || 1
    CHECK_FALSE(value("0 && (0 || 1)"));
    CHECK(value("!0 && !0"));
    CHECK_FALSE(value("!(1 && 1)"));
    CHECK(value("!(1 && 0)"));
    CHECK(value("1&&!0&&!((streq(a,b)||!streq(a,a)&&1)||strneq(a,a))"));
    CHECK(value("1   &&!   0&&    !((streq(a,b)||!streq(a,a)&&1)||strneq(a,a))"));
    CHECK_FALSE(value("1 && !0 && !((streq(a,b) || !streq(a,a) && 1) || strneq(a,b))"));
    CHECK_FALSE(value("1 && !0 && !((streq(a,a) || !streq(a,a) && 1) || strneq(a,a))"));
    CHECK(value("((((1))))"));
    CHECK(value("( 1 )"));
    CHECK(value("0 || 0 || 0 || 1"));
    CHECK_FALSE(value("1 && 1 && 1 && 0"));
    CHECK(value("feature(OPENSSL) && (streq(yes,yes) || defined(UNSET))"));
}

TEST_CASE("cond_expr: errors name the problem and where", "[cond_expr]") {
    auto r = failure("200rrr");
    CHECK(r.error == "unexpected character 'r' at the end of conditional expression '200rrr'");
    CHECK(r.error_pos == 3);
    r = failure("!(0))");
    CHECK(r.error.find("unexpected character ')'") != std::string::npos);
    CHECK(r.error_pos == 4);
    r = failure("foo");
    CHECK(r.error == "unparsable conditional expression 'foo'");
    CHECK(r.error_pos == 0);
    r = failure("1 && bar(x)");
    CHECK(r.error == "unparsable conditional expression 'bar(x)'");
    CHECK(r.error_pos == 5);
    r = failure("(1");
    CHECK(r.error.find("expected ')' after conditional expression '(1'") != std::string::npos);
    r = failure("streq(a)");
    CHECK(r.error.find("missing arguments (got 1/2)") != std::string::npos);
    CHECK(r.error.find("predicate 'streq'") != std::string::npos);
    r = failure("defined");
    CHECK(r.error.find("missing arguments (got 0/1)") != std::string::npos);
    r = failure("defined (X)");  // the arguments must follow the name
    CHECK(r.error.find("missing arguments") != std::string::npos);
    r = failure("defined(a,b)");
    CHECK(r.error.find("expected ')' before ',b)'") != std::string::npos);
    r = failure("streq(a,\"b)");
    CHECK(r.error.find("expected ')'") != std::string::npos);
    failure("1 &&");
    failure("1 ||");
    failure("&& 1");
    failure("1 & 1");
    failure("1 | 0");
    failure("!");
    failure("()");
    failure("   ");  // not empty: a missing term (as HAProxy)
    failure("1 1");
    failure(std::string("1\0", 2));
    // Deep nesting is refused, not a stack overflow.
    std::string deep(100000, '(');
    CHECK(failure(deep + "1").error.find("nested deeper") != std::string::npos);
    CHECK(value(std::string(99, '(') + "1" + std::string(99, ')')));
}

TEST_CASE("cond_expr: long chains", "[cond_expr]") {
    std::string s = "1";
    for (int i = 0; i < 20000; ++i)
        s += " && 1";
    CHECK(value(s));
    CHECK_FALSE(value(s + " && 0"));
    CHECK(value(s + " && 0 || 1"));
}

TEST_CASE("cond_expr: -cc lines are tokenized first", "[cond_expr]") {
    CondContext c = test_context();
    CHECK(eval_condition_line("streq(\"$SET\",yes)", c).value);
    CHECK(eval_condition_line("streq(\"${SET}\",'yes')", c).value);
    CHECK(eval_condition_line("streq(\"foo bar\",'foo bar')", c).value);
    CHECK(eval_condition_line("defined(SET) && streq(${SET},yes)", c).value);
    CHECK_FALSE(eval_condition_line("", c).value);
    CHECK(eval_condition_line("", c).error.empty());
    CHECK_FALSE(eval_condition_line("streq(\"$UNSET\",x)", c).value);  // unset: empty, no error
    CHECK(eval_condition_line("streq(\"$UNSET\",x)", c).error.empty());
    // Words are joined with one space, whatever separated them.
    CHECK(eval_condition_line("1    &&   1", c).value);
    CondOutcome r = eval_condition_line("streq(a,\"a)", c);
    CHECK(r.error.find("unterminated double quote") != std::string::npos);
    r = eval_condition_line("200rrr", c);
    CHECK(r.error.find("unexpected character 'r'") != std::string::npos);
}
