#pragma once
// HAProxy log-format strings: "%ci:%cp [%tr] %ft %{+Q}r %[req.hdr(host)]", compiled once at
// configuration time into nodes (literal text, separators, %variables with %{+Q,-M,+X,+E}
// options, %[sample expressions]), then rendered per stream from a StreamInfo without parsing
// again. Rendering follows HAProxy 2.6 (src/log.c, sess_build_logline): spaces merge into one
// separator, empty text values print "-" unless quoted, request line pieces are '#'-encoded.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/stream_info.h"

namespace proxyd::common {

class SampleExpr;

// HAProxy 2.6's built-in formats.
inline constexpr const char* kHttpLogFormat =
    "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r";
inline constexpr const char* kClfHttpLogFormat =
    "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc "
    "%sq %bq %CC %CS %hrl %hsl";
inline constexpr const char* kTcpLogFormat =
    "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";

// What a line needs besides the stream.
struct LogEnv {
    std::string_view hostname;  // %H
    int pid = 0;                // %pid
    uint64_t log_count = 0;     // %lc: lines this process logged for the frontend before this one
};

class LogFormat {
public:
    // Compiles `fmt` for a frontend in mode http (`http`) or tcp: HTTP-only variables (%r, %HM,
    // %TR, ...) are refused in mode tcp, as HAProxy does. On error returns null and sets *err
    // (HAProxy's wording, e.g. "no such format variable 'foo'. ...").
    static std::shared_ptr<const LogFormat> compile(std::string_view fmt, bool http, std::string* err);

    // Appends the line for `s` to *out (no trailing newline). Allocates only if *out must grow.
    void render(const StreamInfo& s, const LogEnv& env, std::string* out) const;

    // The format uses %lc (the caller then keeps per-frontend counts).
    bool uses_log_count() const { return uses_lc_; }

    struct Node;  // defined in logformat.cpp
    LogFormat();
    ~LogFormat();
    LogFormat(const LogFormat&) = delete;
    LogFormat& operator=(const LogFormat&) = delete;

private:
    std::vector<Node> nodes_;
    bool http_ = false;
    bool uses_lc_ = false;
};

// HAProxy's default line (no log format chosen), without the syslog header:
// "Connect from 10.0.1.2:33312 to 10.0.3.31:8012 (www/HTTP)".
void render_connect_line(const StreamInfo& s, bool http, std::string* out);

}  // namespace proxyd::common
