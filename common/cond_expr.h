#pragma once
// HAProxy's condition expressions (configuration.txt §2.4 "Conditional blocks"): the text of
// '.if'/'.elif' lines and of the '-cc' command-line option. Pure: the evaluator only reads what
// a CondContext gives it.
//
//   expr := and ('||' and)*           AND binds tighter than OR
//   and  := term ('&&' term)*
//   term := '!'* (INTEGER | '(' expr ')' | PREDICATE '(' args ')')
//
// An empty expression is false. Integers are read as strtol(.., 0) does (so "0x10", "-3");
// zero is false, anything else true. Predicates (their arguments are taken verbatim between
// the commas, spaces included, with '...'/"..." quoting and \-escapes as HAProxy does):
//   defined(NAME)         NAME is set in the environment (even to "")
//   feature(NAME)         "+NAME" is in the -vv "Feature list" (build_features())
//   streq(A,B) strneq(A,B)
//   version_atleast(V) version_before(V)   against CondContext::version (kHaproxyCompatVersion)
//   openssl_version_atleast(V) openssl_version_before(V) ssllib_name_startswith(S)
//   enabled(OPT)          a run-time option is on (enabled_option()); unknown OPT: false
// Every error is found while parsing (HAProxy reports some only when evaluating, or treats
// an unparsable version as older than its own): an expression either has a value or an error.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace proxyd::common {

// The HAProxy version whose configuration language proxyd implements: what version_atleast()
// and version_before() compare with. 2.6.0 (not 2.6-devN, not 2.6.x) so that every test and
// configuration written for a 2.6 feature (version_atleast(2.6-dev0) .. version_atleast(2.6))
// applies, and nothing that needs 2.6.1 or later does.
inline constexpr std::string_view kHaproxyCompatVersion = "2.6.0";

struct CondContext {
    // defined(NAME): the environment. Empty function: the process environment (getenv).
    std::function<std::optional<std::string>(const std::string&)> env;
    // feature(NAME): words such as "+EPOLL -LUA", as build_features() returns.
    std::string features;
    // version_atleast/version_before compare with this (HAProxy version syntax).
    std::string version = std::string(kHaproxyCompatVersion);
    // ssllib_name_startswith: e.g. "OpenSSL 3.0.11 19 Sep 2023"; openssl_version_*: "3.0.11".
    std::string ssllib_name;
    std::string ssllib_version;
    // enabled(OPT). Empty function: every option is off.
    std::function<bool(std::string_view)> enabled;
};

// The evaluation of one expression: a value, or an error with the byte offset (in the
// expression text) of the first character that could not be used.
struct CondOutcome {
    bool value = false;
    std::string error;  // empty: `value` is the answer
    size_t error_pos = 0;
};

// Parses and evaluates `expr`, the already tokenized text (the words after '.if' joined by
// single spaces). Never throws; any input gives a value or a one-line error.
CondOutcome eval_condition(std::string_view expr, const CondContext& ctx);

// The "Feature list" of -vv: "+EPOLL +LINUX_SPLICE ... -LUA ...". One list for -vv and feature().
std::string build_features();

// enabled(OPT) for proxyd, given whether 'noreuseport' was set: EPOLL, SPLICE, GETADDRINFO,
// FAST-FORWARD and (unless noreuseport) REUSEPORT are on; POLL, KQUEUE, EVPORTS,
// SERVER-SSL-VERIFY-NONE and any other name are off.
bool enabled_option(std::string_view opt, bool noreuseport);

// The context proxyd evaluates with: `env` (empty: the process environment), build_features(),
// kHaproxyCompatVersion, the running OpenSSL, enabled_option(.., noreuseport=false).
CondContext default_cond_context(std::function<std::optional<std::string>(const std::string&)> env = {});

// -cc: tokenizes `text` as a configuration line (quotes, escapes, ${VAR} and "$VAR" through
// ctx.env, '#' comments), joins the words with single spaces and evaluates that. A tokenizer
// error is an error (error_pos 0). Defined in config.cpp, next to the tokenizer.
CondOutcome eval_condition_line(std::string_view text, const CondContext& ctx);

}  // namespace proxyd::common
