#pragma once
// Sample fetches (HAProxy's "%[...]" and ACL criteria): an expression such as
// "req.hdr(host),lower" is parsed once at configuration time into a SampleExpr, then evaluated
// against a StreamInfo per request without allocating (results are views into the stream, or
// small values held in the SampleValue).
//
// Fetches: src dst src_port dst_port method path url query base req.ver url_param(N[,D]) urlp
// req.hdr(N[,occ]) hdr(N[,occ]) req.fhdr fhdr res.hdr res.fhdr shdr req.hdr_cnt hdr_cnt
// res.hdr_cnt req.hdr_val hdr_val res.hdr_val req.hdr_ip hdr_ip status fe_name be_name srv_name
// nbsrv(B) always_true always_false str(S) int(N) var(NAME[,DEFAULT]).
// Converters: lower upper base64 hex length set-var(NAME[,COND...]) unset-var(NAME).
// var() returns the variable with its stored type (sample_type() says None: known at run time);
// set-var/unset-var write through StreamInfo::vars and fail the sample when the store or scope is
// unavailable or set-var's conditions do not hold (HAProxy's behaviour).
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/stream_info.h"

namespace proxyd::common {

struct SampleValue {
    enum class Type : uint8_t { None, Str, Int, Bool, Ip } type = Type::None;
    std::string_view str;  // Str: a view into the stream, or into `own`
    int64_t i = 0;         // Int, Bool
    sockaddr_storage ip{}; // Ip (AF_INET or AF_INET6)
    std::string own;       // storage for converted strings (converters, int->str); reused
};

class SampleExpr;  // opaque, immutable once parsed; defined in sample.cpp

// Which message the direction-dependent fetches (hdr, hdr_cnt, fhdr, hdr_val) read: the request
// (http-request rules, use_backend, logs) or the response (http-response rules).
enum class SampleDir : uint8_t { Request, Response };

// Parses "fetch[(args)][,converter[(args)]]...". On error returns null and sets *err to a
// message naming the offending part ("unknown fetch method 'foo'", ...).
std::shared_ptr<const SampleExpr> parse_sample_expr(std::string_view text, std::string* err);

// Evaluates; false when the fetch found nothing (missing header, no response yet, ...).
// Header fetches without an occurrence return the last value (HAProxy's rule outside ACLs);
// with occurrence N > 0 the Nth value, N < 0 the Nth from the end. `out` may be reused across
// calls; the result stays valid until `out` or the stream's heads change.
bool eval_sample(const SampleExpr& e, const StreamInfo& s, SampleValue* out);
bool eval_sample(const SampleExpr& e, const StreamInfo& s, SampleValue* out, SampleDir dir);

// ACL semantics: calls `fn(ctx, value)` for every value the fetch yields (every occurrence of a
// header when no occurrence was given, every url_param of that name), converters applied, until
// `fn` returns true. Returns true when `fn` did. `scratch` holds the value passed to `fn`.
using SampleVisitor = bool (*)(void* ctx, const SampleValue& v);
bool eval_sample_each(const SampleExpr& e, const StreamInfo& s, SampleDir dir, SampleValue* scratch,
                      SampleVisitor fn, void* ctx);

// The type of the expression's values (after converters).
SampleValue::Type sample_type(const SampleExpr& e);
// True when the expression reads the response (res.hdr, status...): unusable in request rules.
bool sample_needs_response(const SampleExpr& e);
// True when it reads the request (HTTP fetches): usable in http-response rules too.
bool sample_needs_request(const SampleExpr& e);
// The fetch keyword as written ("req.hdr").
const std::string& sample_fetch_name(const SampleExpr& e);
// Backend names the expression depends on (nbsrv's argument), for validation.
std::vector<std::string> sample_backend_refs(const SampleExpr& e);

// The value as text (ints in decimal, addresses in their usual form), appended to *out.
void sample_to_string(const SampleValue& v, std::string* out);

}  // namespace proxyd::common
