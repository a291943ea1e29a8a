#pragma once
// Strict, resumable HTTP/1.1 message parsing (RFC 9110/9112) for `mode http`: pure, no I/O.
//
// Two state machines:
//  - Http1Parser: the head of a request or response (start line + header fields), or a trailer
//    section. The caller keeps the message's bytes in one contiguous buffer that grows as reads
//    arrive (it may move: only offsets are kept) and calls parse() with all of it each time; the
//    parser resumes at the byte where it stopped, so a head is scanned once whatever the reads.
//  - ChunkedDecoder: the chunked body framing, byte-streamed (the caller may drop what it has
//    forwarded). It tells which byte ranges are payload, so the caller can forward the raw chunks
//    or the de-chunked data, and stops where a non-empty trailer section starts, to be parsed by
//    an Http1Parser in trailer mode (same field rules, same limits).
// Any split of the input into reads gives the same result (tests split at every offset).
//
// Strictness choices (each is a rejection, never a repair; see also Http1Error):
//  - bare LF and bare CR as line ends: rejected (400), everywhere, including chunk lines;
//  - obsolete line folding, and whitespace before the first header line: rejected (400);
//  - HTTP/1.0 and HTTP/1.1 only; another well-formed HTTP/x.y is 505, anything else 400;
//  - Transfer-Encoding: codings chunked, gzip, x-gzip, deflate, compress, x-compress, without
//    parameters; an unknown coding is 501; chunked twice, or not last in a request, is 400
//    (not last in a response: the body runs until close, RFC 9112 §6.3); Transfer-Encoding in an
//    HTTP/1.0 message is 400; Transfer-Encoding with Content-Length is 400;
//  - Content-Length: 1*DIGIT (< 2^63), a list of identical values is merged, differing ones 400;
//  - request target: VCHAR except '#' (no fragment, no obs-text), in the form the method allows:
//    origin-form, absolute-form with "scheme://", authority-form "host:port" for CONNECT only,
//    '*' for OPTIONS only; one SP between the parts, nothing else;
//  - empty lines (CRLF) before a request line are skipped (RFC 9112 §2.2), counted in the head;
//  - field values may hold obs-text (0x80-0xFF) and HTAB, not other controls; names are tokens;
//  - Host (requests): exactly one in HTTP/1.1, at most one in HTTP/1.0, uri-host [":" port];
//  - Connection: a list of tokens (anything else is 400); close, keep-alive, upgrade understood;
//  - trailers: the field rules above; Content-Length, Transfer-Encoding and Host refused (400);
//  - a status line may omit the reason phrase, with or without its SP; codes 100..599;
//  - responses: any violation means the server's response is unusable: http_status() is 502.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace proxyd::worker {

struct Http1Options {
    // tune.bufsize: a head (start line, header fields, empty line) or a trailer section must fit
    // in this many bytes; larger is 414 while in the request line, 431 after. Clamped to 2^31.
    size_t bufsize = 16384;
    // tune.http.maxhdr: header (or trailer) field lines per message; one more is 431. Each parser
    // allocates this many 16-byte entries once (the configuration bounds it, HAProxy at 32767).
    size_t max_headers = 101;
    // Bytes of chunk extensions allowed on one chunk-size line (they are skipped); more is 400.
    size_t max_chunk_ext = 1024;
};

enum class Http1Kind : uint8_t { Request, Response };

// Methods the proxy treats specially or that are common. Methods are case-sensitive: "get" is
// a valid token and parses as Other.
enum class HttpMethod : uint8_t { Other, Get, Head, Post, Put, Delete, Connect, Options, Trace, Patch };

enum class HttpVersion : uint8_t { Http10, Http11 };

// How the message body is delimited. UntilClose exists for responses only.
enum class BodyFraming : uint8_t { None, ContentLength, Chunked, UntilClose };

enum class Http1Status : uint8_t { NeedMore, Done, Error };

enum class Http1Error : uint8_t {
    None,
    BadMethod,           // 400: not a token, or not followed by one SP
    BadTarget,           // 400: empty, non-VCHAR, '#', or form not allowed for the method
    BadVersion,          // 400: not "HTTP/" DIGIT "." DIGIT followed by CRLF (requests)
    UnsupportedVersion,  // 505: well-formed, but not HTTP/1.0 or HTTP/1.1
    BadStatusLine,       // responses: bad status code (not 100..599) or reason phrase
    BadHeaderName,       // 400: empty, not a token, whitespace before ':', or no ':'
    BadHeaderValue,      // 400: control character (other than HTAB) in a value
    ObsFold,             // 400: a field line starting with SP/HTAB (folding or leading space)
    BareCr,              // 400: CR not followed by LF
    BareLf,              // 400: LF not preceded by CR
    UriTooLong,          // 414: request line not complete within bufsize
    HeadTooLarge,        // 431: head or trailer section not complete within bufsize
    TooManyHeaders,      // 431: more than max_headers field lines
    BadContentLength,    // 400: not 1*DIGIT (list of identical values allowed), or >= 2^63
    ConflictingContentLength,       // 400: differing Content-Length values
    ContentLengthWithTransferEncoding,  // 400
    BadTransferEncoding,  // 400: syntax, parameters, chunked twice or not last (requests), empty,
                          //      or in an HTTP/1.0 message
    UnknownTransferCoding,  // 501
    MissingHost,         // 400: HTTP/1.1 request without Host
    DuplicateHost,       // 400
    BadHost,             // 400: not uri-host [ ":" port ]
    BadConnection,       // 400: Connection element that is not a token
    ForbiddenTrailer,    // 400: Content-Length, Transfer-Encoding or Host in a trailer section
    BadChunkSize,        // 400: not 1..16 hex digits < 2^63 (or whitespace not before ';')
    BadChunkExtension,   // 400
    ChunkExtensionTooLong,  // 400: more than max_chunk_ext bytes of extensions on one line
    BadChunkEnd,         // 400: chunk data not followed by CRLF
};

// The status to answer with: for a request, 400, 414, 431, 501 or 505 as listed above; for a
// response (the server's fault), 502. 0 for None.
int http1_error_status(Http1Error e, Http1Kind kind) noexcept;
// Short constant lower-case text for logs, e.g. "bare LF".
const char* to_string(Http1Error e) noexcept;
// ASCII case-insensitive equality (header names, tokens).
bool http1_iequals(std::string_view a, std::string_view b) noexcept;
// Known method for a token (case-sensitive), Other otherwise.
HttpMethod http_method_from_token(std::string_view token) noexcept;

// A byte range of the caller's buffer: [off, off + len).
struct Http1Span {
    uint32_t off = 0;
    uint32_t len = 0;
    // The bytes in `buf`, the buffer the span was parsed from (or a copy of it).
    std::string_view in(std::string_view buf) const noexcept { return buf.substr(off, len); }
};

// A field line: name (a token, as received) and value (without the surrounding whitespace).
struct Http1Header {
    Http1Span name;
    Http1Span value;
};

// What a successful head parse found. Spans are offsets into the parsed buffer.
struct Http1Head {
    // Requests.
    HttpMethod method = HttpMethod::Other;
    Http1Span method_name;
    Http1Span target;  // origin-form, absolute-form, authority-form (CONNECT), '*' (OPTIONS)
    // Both.
    HttpVersion version = HttpVersion::Http11;
    // Responses.
    int status = 0;     // 100..599
    Http1Span reason;   // may be empty
    // Body and connection.
    BodyFraming framing = BodyFraming::None;
    uint64_t content_length = 0;  // when framing is ContentLength
    // Persistent after this message: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
    // "Connection: keep-alive" and no "close"; never when the body runs until close.
    bool keep_alive = false;
    bool expect_continue = false;  // HTTP/1.1 request with "Expect: 100-continue"
    // HTTP/1.1 with an Upgrade header and "upgrade" among the Connection tokens (for a request:
    // the client asks; for a 101 response: the server agrees).
    bool upgrade = false;
    // Responses: the connection becomes a tunnel right after this head (101, or 2xx to CONNECT).
    bool tunnel = false;
    bool connection_close = false;  // "close" among the Connection tokens
    int host_header = -1;           // index in headers() of Host, or -1
    int upgrade_header = -1;        // index in headers() of the first Upgrade, or -1
    // Bytes from the start of the buffer through the empty line: where the body (or the next
    // message) starts. Includes the empty lines ignored before a request line.
    uint32_t head_length = 0;
};

// Parses one head (or trailer section) at a time; reset() between messages. Holds a header array
// of max_headers entries allocated once here, reused: no allocation per message. Not copyable.
class Http1Parser {
public:
    explicit Http1Parser(Http1Kind kind, const Http1Options& opts = {});
    Http1Parser(Http1Parser&&) noexcept = default;
    Http1Parser& operator=(Http1Parser&&) noexcept = default;

    // Ready for the next head of the same kind. Keeps the request method (see below).
    void reset() noexcept;
    // Ready for a trailer section (what follows a ChunkedDecoder's Trailers step) of a message of
    // this parser's kind: field lines then an empty line, same rules and limits, and
    // Content-Length, Transfer-Encoding and Host are refused. head() then only has head_length.
    void reset_trailers() noexcept;
    // Responses: the method of the request being answered (HEAD: no body; CONNECT: 2xx is a
    // tunnel). Kept across reset(), since 1xx responses precede the final one. Default GET.
    void set_request_method(HttpMethod m) noexcept { request_method_ = m; }

    // `buf` holds the message from its first byte: the bytes given to earlier calls since reset(),
    // followed by any new ones (it may have moved; it may extend past the head: the parser stops at
    // the end of the head). Returns NeedMore (all bytes so far are valid), Done (head() is set;
    // later calls return Done) or Error (error() is set; later calls return Error).
    Http1Status parse(std::string_view buf) noexcept;

    Http1Status status() const noexcept { return status_; }
    Http1Error error() const noexcept { return error_; }
    // The status to answer with after an Error (http1_error_status()).
    int http_status() const noexcept { return http1_error_status(error_, kind_); }
    // Offset of the byte where the error was found (for logs and error snapshots).
    uint32_t error_offset() const noexcept { return error_off_; }
    Http1Kind kind() const noexcept { return kind_; }

    // Valid after Done.
    const Http1Head& head() const noexcept { return head_; }
    std::span<const Http1Header> headers() const noexcept { return {headers_.get(), count_}; }
    // Index of the first header at or after `from` whose name is `name` (ASCII
    // case-insensitive), or -1. `buf` is the parsed buffer.
    int find_header(std::string_view buf, std::string_view name, size_t from = 0) const noexcept;

private:
    enum class State : uint8_t;
    Http1Status fail(Http1Error e, size_t at) noexcept;
    Http1Error on_header(std::string_view buf, const Http1Header& h) noexcept;
    Http1Error on_end(std::string_view buf) noexcept;

    Http1Options opts_;
    std::unique_ptr<Http1Header[]> headers_;
    Http1Kind kind_;
    HttpMethod request_method_ = HttpMethod::Get;
    bool trailers_ = false;
    State state_{};
    Http1Status status_ = Http1Status::NeedMore;
    Http1Error error_ = Http1Error::None;
    uint32_t error_off_ = 0;
    uint32_t pos_ = 0;        // next byte to examine
    uint32_t tok_ = 0;        // start of the token being read
    uint32_t vstart_ = 0;     // start of the current value
    uint32_t vend_ = 0;       // end of the value's last non-whitespace byte
    uint32_t name_end_ = 0;   // end of the current field name
    uint8_t ver_i_ = 0;       // bytes of "HTTP/x.y" matched
    uint8_t major_ = 0, minor_ = 0;
    size_t count_ = 0;        // headers stored
    // Semantics gathered header by header.
    bool cl_seen_ = false;
    bool te_seen_ = false;
    bool te_chunked_ = false;       // chunked seen
    bool te_chunked_last_ = false;  // the last coding seen is chunked
    bool te_any_ = false;           // at least one coding
    bool conn_keep_alive_ = false;
    bool conn_upgrade_ = false;
    bool expect_ = false;           // "Expect: 100-continue"
    uint64_t cl_ = 0;
    Http1Head head_;
};

enum class ChunkEvent : uint8_t {
    NeedMore,  // all of `in` consumed (framing bytes are remembered in the state)
    Data,      // payload bytes in.substr(data_off, data_len); they end at `consumed`
    Trailers,  // last chunk seen; a trailer section starts at in[consumed] (parse it with
               // Http1Parser::reset_trailers(); the message ends at its empty line)
    Done,      // last chunk and empty trailer section: the message ends at in[consumed]
    Error,     // error() is set; in[consumed] is the offending byte
};

struct ChunkStep {
    ChunkEvent event = ChunkEvent::NeedMore;
    size_t consumed = 0;  // bytes of `in` this step used (framing and payload)
    size_t data_off = 0;  // Data only
    size_t data_len = 0;  // Data only, > 0
};

// Decodes `chunked` framing: chunk-size (hex, at most 16 digits, < 2^63) [extensions, checked
// and skipped] CRLF, data, CRLF ... last-chunk. Byte-streamed: the caller passes what it has not
// yet had consumed, any split of it. A caller forwarding raw chunks sends in[0, consumed) of
// each step; one de-chunking sends the Data ranges only.
class ChunkedDecoder {
public:
    explicit ChunkedDecoder(Http1Kind kind = Http1Kind::Request, const Http1Options& opts = {}) noexcept;
    void reset() noexcept;  // ready for the next chunked body

    // Consumes from `in` up to the end of the next payload range, or the end of the body, or the
    // end of `in`, whichever comes first. After Trailers/Done/Error, returns the same event with
    // consumed 0 until reset().
    ChunkStep feed(std::string_view in) noexcept;

    Http1Error error() const noexcept { return error_; }
    int http_status() const noexcept { return http1_error_status(error_, kind_); }
    uint64_t payload_length() const noexcept { return payload_; }  // payload bytes so far

private:
    enum class State : uint8_t;
    ChunkStep fail(Http1Error e, size_t at) noexcept;

    Http1Kind kind_;
    size_t max_ext_;
    State state_{};
    Http1Error error_ = Http1Error::None;
    uint8_t digits_ = 0;
    size_t ext_len_ = 0;
    uint64_t size_ = 0;       // chunk size being read, then bytes left in the chunk
    uint64_t payload_ = 0;
};

}  // namespace proxyd::worker
