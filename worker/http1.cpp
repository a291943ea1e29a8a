#include "worker/http1.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace proxyd::worker {

namespace {

// Character classes (RFC 9110 §5.6.2 token, §5.5 field values, RFC 3986 for hosts).
enum : uint8_t {
    kTchar = 1,
    kVchar = 2,   // 0x21..0x7E
    kObs = 4,     // obs-text 0x80..0xFF
    kDigit = 8,
    kHex = 16,
    kRegName = 32,  // unreserved / sub-delims / '%' (reg-name, pct-encoded checked apart)
    kTarget = 64,   // request-target bytes: VCHAR except '#'
};

constexpr std::array<uint8_t, 256> make_classes() {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        uint8_t v = 0;
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool digit = c >= '0' && c <= '9';
        if (alpha || digit || (c != 0 && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                             std::string_view::npos))
            v |= kTchar;
        if (c >= 0x21 && c <= 0x7e)
            v |= kVchar;
        if (c >= 0x80)
            v |= kObs;
        if (digit)
            v |= kDigit;
        if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
            v |= kHex;
        if (alpha || digit || (c != 0 && std::string_view("-._~!$&'()*+,;=%").find(static_cast<char>(c)) !=
                                             std::string_view::npos))
            v |= kRegName;
        if (c >= 0x21 && c <= 0x7e && c != '#')
            v |= kTarget;
        t[static_cast<size_t>(c)] = v;
    }
    return t;
}

constexpr std::array<uint8_t, 256> kClass = make_classes();

inline bool is(unsigned char c, uint8_t cls) noexcept { return (kClass[c] & cls) != 0; }
inline bool is_ws(unsigned char c) noexcept { return c == ' ' || c == '\t'; }
inline bool is_token(std::string_view s) noexcept {
    if (s.empty())
        return false;
    for (unsigned char c : s)
        if (!is(c, kTchar))
            return false;
    return true;
}

inline unsigned char lower(unsigned char c) noexcept { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ws(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && is_ws(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

// Calls f(element) for each element of a comma-separated list, OWS-trimmed, empty ones skipped
// (RFC 9110 §5.6.1). Stops at the first error f returns.
template <typename F>
Http1Error for_each_element(std::string_view list, F&& f) noexcept {
    while (true) {
        const size_t comma = list.find(',');
        const std::string_view e = trim_ows(list.substr(0, comma));
        if (!e.empty())
            if (Http1Error err = f(e); err != Http1Error::None)
                return err;
        if (comma == std::string_view::npos)
            return Http1Error::None;
        list.remove_prefix(comma + 1);
    }
}

// Content-Length: 1*DIGIT, or a list of identical such values (RFC 9110 §8.6), below 2^63.
bool parse_content_length(std::string_view v, uint64_t* out) noexcept {
    bool have = false;
    uint64_t first = 0;
    while (true) {
        const size_t comma = v.find(',');
        const std::string_view e = trim_ows(v.substr(0, comma));
        if (e.empty())
            return false;
        uint64_t n = 0;
        for (unsigned char c : e) {
            if (!is(c, kDigit))
                return false;
            const uint64_t d = c - '0';
            if (n > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - d) / 10)
                return false;
            n = n * 10 + d;
        }
        if (have && n != first)
            return false;
        have = true;
        first = n;
        if (comma == std::string_view::npos)
            break;
        v.remove_prefix(comma + 1);
    }
    *out = first;
    return true;
}

// uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2). `need_port`: authority-form of CONNECT.
bool valid_authority(std::string_view h, bool need_port) noexcept {
    size_t i = 0;
    const size_t n = h.size();
    if (n > 0 && h[0] == '[') {
        // IP-literal: IPv6address / IPvFuture, with an optional zone ("%25"): the bytes those use.
        for (i = 1; i < n && h[i] != ']'; ++i) {
            const auto c = static_cast<unsigned char>(h[i]);
            if (!is(c, kHex) && c != ':' && c != '.' && c != 'v' && c != 'V' && c != '%' && c != '-' &&
                c != '_' && c != '~' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z'))
                return false;
        }
        if (i == n || i == 1)
            return false;
        ++i;
    } else {
        for (; i < n && h[i] != ':'; ++i) {
            const auto c = static_cast<unsigned char>(h[i]);
            if (!is(c, kRegName))
                return false;
            if (c == '%' && (i + 2 >= n || !is(static_cast<unsigned char>(h[i + 1]), kHex) ||
                             !is(static_cast<unsigned char>(h[i + 2]), kHex)))
                return false;
        }
        if (need_port && i == 0)
            return false;
    }
    if (i == n)
        return !need_port;
    if (h[i] != ':')
        return false;
    const std::string_view port = h.substr(i + 1);
    if (port.size() > 5 || (need_port && port.empty()))
        return false;
    for (unsigned char c : port)
        if (!is(c, kDigit))
            return false;
    return true;
}

// RFC 9112 §3.2: the form of the target must suit the method.
bool valid_target_form(HttpMethod m, std::string_view t) noexcept {
    if (m == HttpMethod::Connect)
        return valid_authority(t, true);
    if (t[0] == '/')
        return true;  // origin-form
    if (t == "*")
        return m == HttpMethod::Options;
    // absolute-form, with an authority: scheme "://" ... (RFC 3986 also allows "scheme:path",
    // which no HTTP origin serves and "host:port" would parse as: refused).
    if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
        return false;
    for (size_t i = 1; i < t.size(); ++i) {
        const auto c = static_cast<unsigned char>(t[i]);
        if (c == ':')
            return t.substr(i + 1, 2) == "//";
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is(c, kDigit) || c == '+' || c == '-' ||
              c == '.'))
            return false;
    }
    return false;
}

bool known_coding(std::string_view c) noexcept {
    for (std::string_view k : {"gzip", "x-gzip", "deflate", "compress", "x-compress"})
        if (http1_iequals(c, k))
            return true;
    return false;
}

}  // namespace

int http1_error_status(Http1Error e, Http1Kind kind) noexcept {
    if (e == Http1Error::None)
        return 0;
    if (kind == Http1Kind::Response)
        return 502;
    switch (e) {
    case Http1Error::UnsupportedVersion: return 505;
    case Http1Error::UriTooLong: return 414;
    case Http1Error::HeadTooLarge:
    case Http1Error::TooManyHeaders: return 431;
    case Http1Error::UnknownTransferCoding: return 501;
    default: return 400;
    }
}

const char* to_string(Http1Error e) noexcept {
    switch (e) {
    case Http1Error::None: return "no error";
    case Http1Error::BadMethod: return "invalid method";
    case Http1Error::BadTarget: return "invalid request target";
    case Http1Error::BadVersion: return "invalid HTTP version";
    case Http1Error::UnsupportedVersion: return "unsupported HTTP version";
    case Http1Error::BadStatusLine: return "invalid status line";
    case Http1Error::BadHeaderName: return "invalid header name";
    case Http1Error::BadHeaderValue: return "control character in header value";
    case Http1Error::ObsFold: return "header line starting with whitespace (obsolete folding)";
    case Http1Error::BareCr: return "bare CR";
    case Http1Error::BareLf: return "bare LF";
    case Http1Error::UriTooLong: return "request line too long";
    case Http1Error::HeadTooLarge: return "header section too large";
    case Http1Error::TooManyHeaders: return "too many headers";
    case Http1Error::BadContentLength: return "invalid content-length";
    case Http1Error::ConflictingContentLength: return "conflicting content-length values";
    case Http1Error::ContentLengthWithTransferEncoding: return "content-length with transfer-encoding";
    case Http1Error::BadTransferEncoding: return "invalid transfer-encoding";
    case Http1Error::UnknownTransferCoding: return "unknown transfer coding";
    case Http1Error::MissingHost: return "missing host";
    case Http1Error::DuplicateHost: return "several host headers";
    case Http1Error::BadHost: return "invalid host";
    case Http1Error::BadConnection: return "invalid connection header";
    case Http1Error::ForbiddenTrailer: return "forbidden trailer field";
    case Http1Error::BadChunkSize: return "invalid chunk size";
    case Http1Error::BadChunkExtension: return "invalid chunk extension";
    case Http1Error::ChunkExtensionTooLong: return "chunk extension too long";
    case Http1Error::BadChunkEnd: return "chunk data not followed by CRLF";
    }
    return "?";
}

bool http1_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

HttpMethod http_method_from_token(std::string_view t) noexcept {
    switch (t.size()) {
    case 3:
        if (t == "GET") return HttpMethod::Get;
        if (t == "PUT") return HttpMethod::Put;
        break;
    case 4:
        if (t == "HEAD") return HttpMethod::Head;
        if (t == "POST") return HttpMethod::Post;
        break;
    case 5:
        if (t == "TRACE") return HttpMethod::Trace;
        if (t == "PATCH") return HttpMethod::Patch;
        break;
    case 6:
        if (t == "DELETE") return HttpMethod::Delete;
        break;
    case 7:
        if (t == "CONNECT") return HttpMethod::Connect;
        if (t == "OPTIONS") return HttpMethod::Options;
        break;
    default: break;
    }
    return HttpMethod::Other;
}

// ---------------------------------------------------------------------------------------------
// Http1Parser

enum class Http1Parser::State : uint8_t {
    // Request line.
    ReqStart, ReqStartLf, Method, TargetStart, Target, ReqVersion, ReqVersionEnd, ReqLineLf,
    // Status line.
    RespVersion, RespVersionEnd, Code, CodeEnd, Reason, StatusLf,
    // Field lines.
    LineStart, Name, ValueWs, Value, ValueLf, EndLf,
};

namespace {
constexpr size_t kMaxBufsize = size_t{1} << 31;
}

Http1Parser::Http1Parser(Http1Kind kind, const Http1Options& opts)
    : opts_(opts), headers_(std::make_unique<Http1Header[]>(std::max<size_t>(opts.max_headers, 1))), kind_(kind) {
    opts_.bufsize = std::min(opts_.bufsize, kMaxBufsize);
    reset();
}

void Http1Parser::reset() noexcept {
    trailers_ = false;
    state_ = kind_ == Http1Kind::Request ? State::ReqStart : State::RespVersion;
    status_ = Http1Status::NeedMore;
    error_ = Http1Error::None;
    error_off_ = pos_ = tok_ = vend_ = vstart_ = name_end_ = 0;
    ver_i_ = major_ = minor_ = 0;
    count_ = 0;
    cl_seen_ = te_seen_ = te_chunked_ = te_chunked_last_ = te_any_ = false;
    conn_keep_alive_ = conn_upgrade_ = expect_ = false;
    cl_ = 0;
    head_ = Http1Head{};
}

void Http1Parser::reset_trailers() noexcept {
    reset();
    trailers_ = true;
    state_ = State::LineStart;
}

Http1Status Http1Parser::fail(Http1Error e, size_t at) noexcept {
    status_ = Http1Status::Error;
    error_ = e;
    error_off_ = static_cast<uint32_t>(at);
    pos_ = static_cast<uint32_t>(at);
    return status_;
}

int Http1Parser::find_header(std::string_view buf, std::string_view name, size_t from) const noexcept {
    for (size_t i = from; i < count_; ++i)
        if (http1_iequals(headers_[i].name.in(buf), name))
            return static_cast<int>(i);
    return -1;
}

Http1Status Http1Parser::parse(std::string_view buf) noexcept {
    if (status_ != Http1Status::NeedMore)
        return status_;
    const auto* b = reinterpret_cast<const unsigned char*>(buf.data());
    // Bytes past bufsize are never looked at: whatever they are, a head not complete by then is
    // too large, so the outcome does not depend on how the bytes arrived.
    const size_t limit = std::min(buf.size(), opts_.bufsize);
    size_t p = pos_;
    while (p < limit) {
        const unsigned char c = b[p];
        switch (state_) {
        // ---- request line: method SP request-target SP HTTP-version CRLF
        case State::ReqStart:
            // RFC 9112 §2.2: empty lines before a request line are ignored (CRLF only).
            if (c == '\r') {
                state_ = State::ReqStartLf;
            } else if (c == '\n') {
                return fail(Http1Error::BareLf, p);
            } else if (is(c, kTchar)) {
                tok_ = static_cast<uint32_t>(p);
                state_ = State::Method;
            } else {
                return fail(Http1Error::BadMethod, p);
            }
            ++p;
            break;
        case State::ReqStartLf:
            if (c != '\n')
                return fail(Http1Error::BareCr, p);
            state_ = State::ReqStart;
            ++p;
            break;
        case State::Method:
            while (p < limit && is(b[p], kTchar))
                ++p;
            if (p == limit)
                break;
            if (b[p] != ' ')
                return fail(Http1Error::BadMethod, p);
            head_.method_name = {tok_, static_cast<uint32_t>(p - tok_)};
            head_.method = http_method_from_token(head_.method_name.in(buf));
            state_ = State::TargetStart;
            ++p;
            break;
        case State::TargetStart:
            if (!is(c, kTarget))
                return fail(Http1Error::BadTarget, p);
            tok_ = static_cast<uint32_t>(p);
            state_ = State::Target;
            ++p;
            break;
        case State::Target:
            while (p < limit && is(b[p], kTarget))
                ++p;
            if (p == limit)
                break;
            if (b[p] == '\r' || b[p] == '\n')
                return fail(Http1Error::BadVersion, p);  // no version (HTTP/0.9 style)
            if (b[p] != ' ')
                return fail(Http1Error::BadTarget, p);
            head_.target = {tok_, static_cast<uint32_t>(p - tok_)};
            if (!valid_target_form(head_.method, head_.target.in(buf)))
                return fail(Http1Error::BadTarget, tok_);
            state_ = State::ReqVersion;
            ver_i_ = 0;
            ++p;
            break;
        case State::ReqVersion:
        case State::RespVersion: {
            // "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
            bool ok;
            if (ver_i_ < 5) {
                ok = c == static_cast<unsigned char>("HTTP/"[ver_i_]);
            } else if (ver_i_ == 6) {
                ok = c == '.';
            } else {
                ok = is(c, kDigit);
                (ver_i_ == 5 ? major_ : minor_) = static_cast<uint8_t>(c - '0');
            }
            if (!ok)
                return fail(Http1Error::BadVersion, p);
            if (++ver_i_ == 8)
                state_ = state_ == State::ReqVersion ? State::ReqVersionEnd : State::RespVersionEnd;
            ++p;
            break;
        }
        case State::ReqVersionEnd:
            if (c != '\r')
                return fail(c == '\n' ? Http1Error::BareLf : Http1Error::BadVersion, p);
            if (major_ != 1 || minor_ > 1)
                return fail(Http1Error::UnsupportedVersion, p - 8);
            head_.version = minor_ == 0 ? HttpVersion::Http10 : HttpVersion::Http11;
            state_ = State::ReqLineLf;
            ++p;
            break;
        case State::ReqLineLf:
        case State::StatusLf:
            if (c != '\n')
                return fail(Http1Error::BareCr, p);
            state_ = State::LineStart;
            ++p;
            break;
        // ---- status line: HTTP-version SP status-code [ SP reason-phrase ] CRLF
        case State::RespVersionEnd:
            if (c != ' ')
                return fail(Http1Error::BadVersion, p);
            if (major_ != 1 || minor_ > 1)
                return fail(Http1Error::UnsupportedVersion, p - 8);
            head_.version = minor_ == 0 ? HttpVersion::Http10 : HttpVersion::Http11;
            state_ = State::Code;
            ver_i_ = 0;
            ++p;
            break;
        case State::Code:
            if (!is(c, kDigit))
                return fail(Http1Error::BadStatusLine, p);
            head_.status = head_.status * 10 + (c - '0');
            if (++ver_i_ == 3)
                state_ = State::CodeEnd;
            ++p;
            break;
        case State::CodeEnd:
            if (head_.status < 100 || head_.status > 599)
                return fail(Http1Error::BadStatusLine, p - 3);
            // A missing reason phrase is accepted with or without its SP: servers omit both.
            if (c == ' ') {
                tok_ = static_cast<uint32_t>(p + 1);
                state_ = State::Reason;
            } else if (c == '\r') {
                head_.reason = {static_cast<uint32_t>(p), 0};
                state_ = State::StatusLf;
            } else {
                return fail(c == '\n' ? Http1Error::BareLf : Http1Error::BadStatusLine, p);
            }
            ++p;
            break;
        case State::Reason:
            while (p < limit && (is(b[p], kVchar | kObs) || is_ws(b[p])))
                ++p;
            if (p == limit)
                break;
            if (b[p] == '\n')
                return fail(Http1Error::BareLf, p);
            if (b[p] != '\r')
                return fail(Http1Error::BadStatusLine, p);
            head_.reason = {tok_, static_cast<uint32_t>(p - tok_)};
            state_ = State::StatusLf;
            ++p;
            break;
        // ---- field lines: field-name ":" OWS field-value OWS CRLF, then CRLF
        case State::LineStart:
            if (c == '\r') {
                state_ = State::EndLf;
            } else if (c == '\n') {
                return fail(Http1Error::BareLf, p);
            } else if (is_ws(c)) {
                // obs-fold (RFC 9112 §5.2), or whitespace before the first field line (§2.2):
                // both rejected, a proxy must not forward a folded line a peer may unfold.
                return fail(Http1Error::ObsFold, p);
            } else if (is(c, kTchar)) {
                if (count_ >= opts_.max_headers)
                    return fail(Http1Error::TooManyHeaders, p);
                tok_ = static_cast<uint32_t>(p);
                state_ = State::Name;
            } else {
                return fail(Http1Error::BadHeaderName, p);
            }
            ++p;
            break;
        case State::Name:
            while (p < limit && is(b[p], kTchar))
                ++p;
            if (p == limit)
                break;
            if (b[p] != ':')  // includes whitespace before the colon (RFC 9112 §5.1)
                return fail(Http1Error::BadHeaderName, p);
            name_end_ = static_cast<uint32_t>(p);
            state_ = State::ValueWs;
            ++p;
            break;
        case State::ValueWs:
            if (is_ws(c)) {
                ++p;
                break;
            }
            vstart_ = vend_ = static_cast<uint32_t>(p);
            state_ = State::Value;
            [[fallthrough]];
        case State::Value:
            while (p < limit) {
                const unsigned char v = b[p];
                if (is(v, kVchar | kObs))
                    vend_ = static_cast<uint32_t>(++p);
                else if (is_ws(v))
                    ++p;
                else
                    break;
            }
            if (p == limit)
                break;
            if (b[p] == '\n')
                return fail(Http1Error::BareLf, p);
            if (b[p] != '\r')
                return fail(Http1Error::BadHeaderValue, p);
            state_ = State::ValueLf;
            ++p;
            break;
        case State::ValueLf: {
            if (c != '\n')
                return fail(Http1Error::BareCr, p);
            Http1Header& h = headers_[count_];
            h.name = {tok_, name_end_ - tok_};
            h.value = {vstart_, vend_ - vstart_};
            if (Http1Error e = on_header(buf, h); e != Http1Error::None)
                return fail(e, tok_);
            ++count_;
            state_ = State::LineStart;
            ++p;
            break;
        }
        case State::EndLf:
            if (c != '\n')
                return fail(Http1Error::BareCr, p);
            ++p;
            pos_ = static_cast<uint32_t>(p);
            head_.head_length = pos_;
            if (Http1Error e = on_end(buf); e != Http1Error::None)
                return fail(e, p - 2);
            status_ = Http1Status::Done;
            return status_;
        }
    }
    pos_ = static_cast<uint32_t>(p);
    if (p >= opts_.bufsize) {
        const bool in_request_line = kind_ == Http1Kind::Request && !trailers_ && state_ < State::LineStart;
        return fail(in_request_line ? Http1Error::UriTooLong : Http1Error::HeadTooLarge, p);
    }
    return status_;
}

// One complete field line: the semantics of the fields that decide framing and persistence.
Http1Error Http1Parser::on_header(std::string_view buf, const Http1Header& h) noexcept {
    const std::string_view name = h.name.in(buf);
    const std::string_view value = h.value.in(buf);
    const bool request = kind_ == Http1Kind::Request;
    switch (name.size()) {
    case 4:  // Host
        if (!http1_iequals(name, "host"))
            break;
        if (trailers_)
            return Http1Error::ForbiddenTrailer;
        if (!request)
            break;
        if (head_.host_header >= 0)
            return Http1Error::DuplicateHost;
        if (!valid_authority(value, false))
            return Http1Error::BadHost;
        head_.host_header = static_cast<int>(count_);
        break;
    case 6:  // Expect
        if (request && !trailers_ && http1_iequals(name, "expect") && http1_iequals(value, "100-continue"))
            expect_ = true;
        break;
    case 7:  // Upgrade
        if (!trailers_ && head_.upgrade_header < 0 && http1_iequals(name, "upgrade"))
            head_.upgrade_header = static_cast<int>(count_);
        break;
    case 10:  // Connection
        if (trailers_ || !http1_iequals(name, "connection"))
            break;
        return for_each_element(value, [this](std::string_view t) noexcept {
            if (!is_token(t))
                return Http1Error::BadConnection;
            if (http1_iequals(t, "close"))
                head_.connection_close = true;
            else if (http1_iequals(t, "keep-alive"))
                conn_keep_alive_ = true;
            else if (http1_iequals(t, "upgrade"))
                conn_upgrade_ = true;
            return Http1Error::None;
        });
    case 14: {  // Content-Length
        if (!http1_iequals(name, "content-length"))
            break;
        if (trailers_)
            return Http1Error::ForbiddenTrailer;
        uint64_t n = 0;
        if (!parse_content_length(value, &n))
            return Http1Error::BadContentLength;
        if (cl_seen_ && n != cl_)
            return Http1Error::ConflictingContentLength;
        if (te_seen_)
            return Http1Error::ContentLengthWithTransferEncoding;
        cl_seen_ = true;
        cl_ = n;
        break;
    }
    case 17:  // Transfer-Encoding
        if (!http1_iequals(name, "transfer-encoding"))
            break;
        if (trailers_)
            return Http1Error::ForbiddenTrailer;
        // RFC 9112 §6.1: HTTP/1.0 framing with Transfer-Encoding is faulty.
        if (major_ == 1 && minor_ == 0)
            return Http1Error::BadTransferEncoding;
        if (cl_seen_)
            return Http1Error::ContentLengthWithTransferEncoding;
        te_seen_ = true;
        return for_each_element(value, [this](std::string_view t) noexcept {
            // No transfer-parameters: none is defined for these codings, and a ';' is a common
            // way to hide "chunked" from one side of a proxy.
            if (!is_token(t))
                return Http1Error::BadTransferEncoding;
            te_any_ = true;
            if (http1_iequals(t, "chunked")) {
                if (te_chunked_)
                    return Http1Error::BadTransferEncoding;
                te_chunked_ = te_chunked_last_ = true;
                return Http1Error::None;
            }
            if (!known_coding(t))
                return Http1Error::UnknownTransferCoding;
            te_chunked_last_ = false;
            return Http1Error::None;
        });
    default: break;
    }
    return Http1Error::None;
}

// The empty line: decisions that need every field.
Http1Error Http1Parser::on_end(std::string_view) noexcept {
    if (trailers_)
        return Http1Error::None;
    const bool v11 = head_.version == HttpVersion::Http11;
    if (te_seen_ && !te_any_)
        return Http1Error::BadTransferEncoding;
    Http1Head& h = head_;
    h.upgrade = v11 && conn_upgrade_ && h.upgrade_header >= 0;
    if (kind_ == Http1Kind::Request) {
        // RFC 9112 §6.3: a request whose final coding is not chunked cannot be delimited.
        if (te_seen_ && !te_chunked_last_)
            return Http1Error::BadTransferEncoding;
        if (v11 && h.host_header < 0)
            return Http1Error::MissingHost;
        h.framing = te_seen_ ? BodyFraming::Chunked : cl_seen_ ? BodyFraming::ContentLength : BodyFraming::None;
        h.expect_continue = v11 && expect_;
    } else {
        const int s = h.status;
        const bool connect_ok = request_method_ == HttpMethod::Connect && s >= 200 && s < 300;
        h.tunnel = s == 101 || connect_ok;
        if (s < 200 || s == 204 || s == 304 || request_method_ == HttpMethod::Head || connect_ok)
            h.framing = BodyFraming::None;
        else if (te_seen_)
            h.framing = te_chunked_last_ ? BodyFraming::Chunked : BodyFraming::UntilClose;
        else if (cl_seen_)
            h.framing = BodyFraming::ContentLength;
        else
            h.framing = BodyFraming::UntilClose;
    }
    h.content_length = h.framing == BodyFraming::ContentLength ? cl_ : 0;
    h.keep_alive = !h.connection_close && (v11 || conn_keep_alive_) && h.framing != BodyFraming::UntilClose;
    return Http1Error::None;
}

// ---------------------------------------------------------------------------------------------
// ChunkedDecoder

enum class ChunkedDecoder::State : uint8_t {
    SizeStart, Size, SizeWs,
    ExtStart, ExtName, ExtNameWs, ExtEq, ExtToken, ExtQuoted, ExtQuotedPair, ExtValueEnd, ExtValueWs,
    SizeLf, Data, DataCr, DataLf, TrailerStart, FinalLf,
    Trailers, Done, Error,
};

ChunkedDecoder::ChunkedDecoder(Http1Kind kind, const Http1Options& opts) noexcept
    : kind_(kind), max_ext_(opts.max_chunk_ext) {
    reset();
}

void ChunkedDecoder::reset() noexcept {
    state_ = State::SizeStart;
    error_ = Http1Error::None;
    digits_ = 0;
    ext_len_ = 0;
    size_ = 0;
    payload_ = 0;
}

ChunkStep ChunkedDecoder::fail(Http1Error e, size_t at) noexcept {
    state_ = State::Error;
    error_ = e;
    return {ChunkEvent::Error, at, 0, 0};
}

ChunkStep ChunkedDecoder::feed(std::string_view in) noexcept {
    switch (state_) {
    case State::Trailers: return {ChunkEvent::Trailers, 0, 0, 0};
    case State::Done: return {ChunkEvent::Done, 0, 0, 0};
    case State::Error: return {ChunkEvent::Error, 0, 0, 0};
    default: break;
    }
    const auto* b = reinterpret_cast<const unsigned char*>(in.data());
    const size_t n = in.size();
    size_t p = 0;
    while (p < n) {
        const unsigned char c = b[p];
        // Extension bytes (and whitespace before them) count against max_chunk_ext.
        if (state_ >= State::SizeWs && state_ <= State::ExtValueWs && c != '\r' && ++ext_len_ > max_ext_)
            return fail(Http1Error::ChunkExtensionTooLong, p);
        switch (state_) {
        case State::SizeStart:
            if (!is(c, kHex))
                return fail(c == '\n' ? Http1Error::BareLf : Http1Error::BadChunkSize, p);
            state_ = State::Size;
            digits_ = 0;
            size_ = 0;
            ext_len_ = 0;
            [[fallthrough]];
        case State::Size:
            if (is(c, kHex)) {
                // 16 digits at most, leading zeros included: bounded work, no overflow.
                if (++digits_ > 16)
                    return fail(Http1Error::BadChunkSize, p);
                size_ = size_ * 16 + static_cast<uint64_t>(is(c, kDigit) ? c - '0' : lower(c) - 'a' + 10);
                if (size_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                    return fail(Http1Error::BadChunkSize, p);
            } else if (c == ';') {
                ext_len_ = 1;
                state_ = State::ExtStart;
            } else if (is_ws(c)) {
                ext_len_ = 1;
                state_ = State::SizeWs;  // BWS, only before ';'
            } else if (c == '\r') {
                state_ = State::SizeLf;
            } else {
                return fail(c == '\n' ? Http1Error::BareLf : Http1Error::BadChunkSize, p);
            }
            break;
        case State::SizeWs:
            if (c == ';')
                state_ = State::ExtStart;
            else if (!is_ws(c))
                return fail(Http1Error::BadChunkSize, p);
            break;
        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )
        case State::ExtStart:
            if (is(c, kTchar))
                state_ = State::ExtName;
            else if (!is_ws(c))
                return fail(Http1Error::BadChunkExtension, p);
            break;
        case State::ExtName:
        case State::ExtToken:
        case State::ExtValueEnd:
            if ((state_ == State::ExtName || state_ == State::ExtToken) && is(c, kTchar))
                break;
            if (c == ';')
                state_ = State::ExtStart;
            else if (c == '=' && state_ == State::ExtName)
                state_ = State::ExtEq;
            else if (is_ws(c))
                state_ = state_ == State::ExtName ? State::ExtNameWs : State::ExtValueWs;
            else if (c == '\r')
                state_ = State::SizeLf;
            else
                return fail(c == '\n' ? Http1Error::BareLf : Http1Error::BadChunkExtension, p);
            break;
        case State::ExtNameWs:
        case State::ExtValueWs:
            if (c == ';')
                state_ = State::ExtStart;
            else if (c == '=' && state_ == State::ExtNameWs)
                state_ = State::ExtEq;
            else if (!is_ws(c))
                return fail(Http1Error::BadChunkExtension, p);
            break;
        case State::ExtEq:
            if (is(c, kTchar))
                state_ = State::ExtToken;
            else if (c == '"')
                state_ = State::ExtQuoted;
            else if (!is_ws(c))
                return fail(Http1Error::BadChunkExtension, p);
            break;
        case State::ExtQuoted:
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            if (c == '"')
                state_ = State::ExtValueEnd;
            else if (c == '\\')
                state_ = State::ExtQuotedPair;
            else if (!is(c, kVchar | kObs) && !is_ws(c))
                return fail(Http1Error::BadChunkExtension, p);
            break;
        case State::ExtQuotedPair:
            if (!is(c, kVchar | kObs) && !is_ws(c))
                return fail(Http1Error::BadChunkExtension, p);
            state_ = State::ExtQuoted;
            break;
        case State::SizeLf:
            if (c != '\n')
                return fail(Http1Error::BareCr, p);
            state_ = size_ == 0 ? State::TrailerStart : State::Data;
            break;
        case State::Data: {
            const size_t len = static_cast<size_t>(std::min<uint64_t>(size_, n - p));
            size_ -= len;
            payload_ += len;
            if (size_ == 0)
                state_ = State::DataCr;
            return {ChunkEvent::Data, p + len, p, len};
        }
        case State::DataCr:
            if (c != '\r')
                return fail(c == '\n' ? Http1Error::BareLf : Http1Error::BadChunkEnd, p);
            state_ = State::DataLf;
            break;
        case State::DataLf:
            if (c != '\n')
                return fail(Http1Error::BareCr, p);
            state_ = State::SizeStart;
            break;
        case State::TrailerStart:
            if (c == '\n')
                return fail(Http1Error::BareLf, p);
            if (c != '\r') {
                state_ = State::Trailers;
                return {ChunkEvent::Trailers, p, 0, 0};
            }
            state_ = State::FinalLf;
            break;
        case State::FinalLf:
            if (c != '\n')
                return fail(Http1Error::BareCr, p);
            state_ = State::Done;
            return {ChunkEvent::Done, p + 1, 0, 0};
        case State::Trailers:
        case State::Done:
        case State::Error: break;  // handled before the loop
        }
        ++p;
    }
    return {ChunkEvent::NeedMore, p, 0, 0};
}

}  // namespace proxyd::worker
