#pragma once
// ACLs and conditions (HAProxy configuration.txt §7): compiled at configuration time, evaluated
// per request. Regexes are PCRE2, JIT-compiled when the JIT is available; each Regex owns one
// match block, so a Regex must only be used by one thread at a time (a worker has one).
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/sample.h"

namespace proxyd::common {

class Regex {
public:
    // Compiles `pattern` (PCRE2; `icase`: caseless). On error returns null and sets *err to
    // "invalid regex 'PATTERN': PCRE2 MESSAGE at offset N".
    static std::shared_ptr<const Regex> compile(std::string_view pattern, bool icase, std::string* err);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // Unanchored search; allocates nothing.
    bool match(std::string_view subject) const;
    // When the regex matches `subject`, appends `repl` to *out with \0..\9 replaced by the
    // groups' text (an unset group is empty) and returns true; else leaves *out untouched.
    bool replace(std::string_view subject, std::string_view repl, std::string* out) const;
    const std::string& pattern() const { return pattern_; }

private:
    Regex() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string pattern_;
};

// How an ACL compares a sample with its patterns (-m).
enum class MatchMethod : uint8_t { Found, Bool, Int, Ip, Str, Beg, End, Sub, Reg, Dir, Dom, Len };

struct IntRange {
    int64_t lo = INT64_MIN, hi = INT64_MAX;  // inclusive
};

struct IpNet {
    int family = 0;              // AF_INET or AF_INET6
    unsigned char addr[16]{};    // network address, masked
    int prefix = 0;              // bits
};

// One "acl" line (or anonymous ACL): a criterion and its patterns.
struct AclExpr {
    std::string criterion;                       // as written ("hdr_beg(host)")
    std::shared_ptr<const SampleExpr> fetch;
    MatchMethod method = MatchMethod::Str;
    bool icase = false;
    std::vector<std::string> strs;               // Str Beg End Sub Dir Dom (lower case with -i)
    std::vector<IntRange> ints;                  // Int Len
    std::vector<IpNet> nets;                     // Ip
    std::vector<std::shared_ptr<const Regex>> regs;  // Reg
};

// A named ACL: the OR of every "acl NAME ..." line.
struct Acl {
    std::string name;
    std::vector<std::shared_ptr<const AclExpr>> exprs;
};

// "if|unless" followed by terms: an OR of AND groups of (possibly negated) ACLs.
struct Condition {
    struct Term {
        std::shared_ptr<const Acl> acl;
        bool negate = false;
    };
    bool unless = false;
    std::vector<std::vector<Term>> any_of;
    // True when a term needs the response (status, res.hdr...) / the HTTP request.
    bool needs_response = false;
    std::string first_response_fetch;  // its name, for messages
};

// Parses an ACL expression: words[0] is the criterion, then flags (-i -n -m METH -f FILE --) and
// patterns. Files (-f) are read with open/read. On error returns null and sets *err (without
// the "acl 'NAME'" prefix, which the caller adds).
// A pattern-less ACL that can never match sets *warn (when given) but is accepted, as in HAProxy.
std::shared_ptr<const AclExpr> parse_acl_expr(std::span<const std::string> words, std::string* err,
                                              std::string* warn = nullptr);

// Looks up a named ACL declared so far; null when unknown.
using AclLookup = std::function<std::shared_ptr<const Acl>(std::string_view name)>;

// Parses the words after the condition keyword (words[0] is "if" or "unless"). Unknown names
// that are HAProxy's predefined ACLs (TRUE, FALSE, LOCALHOST, METH_GET, HTTP_1.1, ...) are
// resolved. On error returns null and sets *err.
std::shared_ptr<const Condition> parse_condition(std::span<const std::string> words, const AclLookup& lookup,
                                                 std::string* err);

bool acl_expr_match(const AclExpr& e, const StreamInfo& s, SampleDir dir);
bool acl_match(const Acl& a, const StreamInfo& s, SampleDir dir);
// Null condition: true.
bool cond_match(const Condition* c, const StreamInfo& s, SampleDir dir);

// Parses "ADDR[/MASK]" (IPv4 dotted mask or prefix length, IPv6 prefix length).
bool parse_ip_net(std::string_view text, IpNet* out);
// Whether the address (AF_INET/AF_INET6 sockaddr) is in the network; IPv4 and IPv4-mapped IPv6
// addresses compare equal.
bool ip_net_contains(const IpNet& net, const sockaddr_storage& a);

// Reads a pattern file: one pattern per line, leading/trailing blanks removed, empty lines and
// lines starting with '#' skipped. False with *err set when it cannot be read.
bool read_pattern_file(const std::string& path, std::vector<std::string>* out, std::string* err);

}  // namespace proxyd::common
