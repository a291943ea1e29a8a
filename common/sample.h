#pragma once
// Sample fetches (HAProxy's "%[...]" and ACL criteria): an expression such as
// "req.hdr(host),lower" is parsed once at configuration time into a SampleExpr, then evaluated
// against a StreamInfo per request without allocating (results are views into the stream, or
// small values held in the SampleValue).
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

// Parses "fetch[(args)][,converter[(args)]]...". On error returns null and sets *err to a
// message naming the offending part ("unknown fetch method 'foo'", ...).
std::shared_ptr<const SampleExpr> parse_sample_expr(std::string_view text, std::string* err);

// Evaluates; false when the fetch found nothing (missing header, no response yet, ...).
// With `occurrence` >= 0 ... (see sample.cpp); `out` may be reused across calls.
bool eval_sample(const SampleExpr& e, const StreamInfo& s, SampleValue* out);

// The value as text (ints in decimal, addresses in their usual form), appended to *out.
void sample_to_string(const SampleValue& v, std::string* out);

}  // namespace proxyd::common
