#include "worker/http1.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace proxyd::worker;
using namespace std::string_literals;

namespace {

// ---------------------------------------------------------------------------------------------
// Heads: everything a parse says, copied out of the buffer, so outcomes compare with ==.

struct HeadOutcome {
    Http1Status status = Http1Status::NeedMore;
    Http1Error error = Http1Error::None;
    uint32_t error_offset = 0;
    int http_status = 0;
    HttpMethod method = HttpMethod::Other;
    std::string method_name, target, reason;
    HttpVersion version = HttpVersion::Http11;
    int code = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    BodyFraming framing = BodyFraming::None;
    uint64_t content_length = 0;
    bool keep_alive = false, expect_continue = false, upgrade = false, tunnel = false, close = false;
    int host_header = -1, upgrade_header = -1;
    uint32_t head_length = 0;
    bool operator==(const HeadOutcome&) const = default;
};

HeadOutcome outcome(const Http1Parser& p, std::string_view buf) {
    HeadOutcome o;
    o.status = p.status();
    if (o.status == Http1Status::Error) {
        o.error = p.error();
        o.error_offset = p.error_offset();
        o.http_status = p.http_status();
        return o;
    }
    if (o.status != Http1Status::Done)
        return o;
    const Http1Head& h = p.head();
    o.method = h.method;
    o.method_name = std::string(h.method_name.in(buf));
    o.target = std::string(h.target.in(buf));
    o.reason = std::string(h.reason.in(buf));
    o.version = h.version;
    o.code = h.status;
    for (const Http1Header& x : p.headers())
        o.headers.emplace_back(x.name.in(buf), x.value.in(buf));
    o.framing = h.framing;
    o.content_length = h.content_length;
    o.keep_alive = h.keep_alive;
    o.expect_continue = h.expect_continue;
    o.upgrade = h.upgrade;
    o.tunnel = h.tunnel;
    o.close = h.connection_close;
    o.host_header = h.host_header;
    o.upgrade_header = h.upgrade_header;
    o.head_length = h.head_length;
    return o;
}

struct Setup {
    Http1Kind kind = Http1Kind::Request;
    Http1Options opts{};
    HttpMethod request_method = HttpMethod::Get;
    bool trailers = false;
};

// Feeds `msg` as a buffer growing through the given cut points (ascending), each time in a fresh
// allocation so that the parser can only rely on offsets, then whole.
HeadOutcome parse_cuts(const Setup& s, std::string_view msg, const std::vector<size_t>& cuts) {
    Http1Parser p(s.kind, s.opts);
    p.set_request_method(s.request_method);
    if (s.trailers)
        p.reset_trailers();
    for (size_t c : cuts) {
        const std::string part(msg.substr(0, c));
        const Http1Status st = p.parse(part);
        if (st != Http1Status::NeedMore)
            break;
    }
    const std::string whole(msg);
    p.parse(whole);
    return outcome(p, whole);
}

HeadOutcome parse_whole(const Setup& s, std::string_view msg) { return parse_cuts(s, msg, {}); }

// The whole parse, after checking that a split at every offset, and 1-byte pieces, agree.
HeadOutcome check_head(const Setup& s, std::string_view msg) {
    const HeadOutcome whole = parse_whole(s, msg);
    for (size_t k = 0; k <= msg.size(); ++k) {
        INFO("split at " << k);
        REQUIRE(parse_cuts(s, msg, {k}) == whole);
    }
    std::vector<size_t> bytes;
    for (size_t k = 0; k <= msg.size(); ++k)
        bytes.push_back(k);
    REQUIRE(parse_cuts(s, msg, bytes) == whole);
    return whole;
}

HeadOutcome req(std::string_view msg, Http1Options opts = {}) { return check_head({Http1Kind::Request, opts}, msg); }
HeadOutcome resp(std::string_view msg, HttpMethod m = HttpMethod::Get, Http1Options opts = {}) {
    return check_head({Http1Kind::Response, opts, m}, msg);
}

void require_error(const HeadOutcome& o, Http1Error e, int status) {
    INFO("got error '" << to_string(o.error) << "'");
    REQUIRE(o.status == Http1Status::Error);
    REQUIRE(o.error == e);
    REQUIRE(o.http_status == status);
}

void req_bad(std::string_view msg, Http1Error e, int status, Http1Options opts = {}) {
    INFO("request: " << msg);
    require_error(req(msg, opts), e, status);
}
void resp_bad(std::string_view msg, Http1Error e, HttpMethod m = HttpMethod::Get) {
    INFO("response: " << msg);
    require_error(resp(msg, m), e, 502);
}

// ---------------------------------------------------------------------------------------------
// Whole messages (head, body, trailers), several per buffer: the driver a data path would be.

struct MsgOutcome {
    HeadOutcome head;
    std::string payload;   // de-chunked body
    std::string raw_body;  // the body bytes as framed (chunk lines included)
    HeadOutcome trailers;  // when a trailer section was parsed
    bool complete = false;
    Http1Error body_error = Http1Error::None;
    int body_status = 0;
    size_t start = 0, end = 0;  // offsets of the message in the stream
    bool operator==(const MsgOutcome&) const = default;
};

// Parses the messages of `input` as it arrives through `cuts`; the stream ends after the last
// byte (a body until close ends there).
std::vector<MsgOutcome> parse_stream(const Setup& s, std::string_view input, std::vector<size_t> cuts) {
    cuts.push_back(input.size());
    std::vector<MsgOutcome> out;
    Http1Parser head(s.kind, s.opts);
    head.set_request_method(s.request_method);
    Http1Parser trailers(s.kind, s.opts);
    ChunkedDecoder chunked(s.kind, s.opts);
    enum class Phase { Head, Fixed, Chunked, Trailers, UntilClose, Failed } phase = Phase::Head;
    MsgOutcome cur;
    size_t start = 0, pos = 0, tstart = 0;
    uint64_t left = 0;
    auto finish = [&](size_t end) {
        cur.complete = true;
        cur.end = end;
        out.push_back(cur);
        cur = MsgOutcome{};
        head.reset();
        chunked.reset();
        start = pos = end;
        cur.start = start;
        phase = Phase::Head;
    };
    for (size_t avail : cuts) {
        bool progress = true;
        while (progress && phase != Phase::Failed) {
            progress = false;
            switch (phase) {
            case Phase::Head: {
                if (avail == start)
                    break;
                const std::string buf(input.substr(start, avail - start));
                const Http1Status st = head.parse(buf);
                if (st == Http1Status::NeedMore)
                    break;
                cur.head = outcome(head, buf);
                if (st == Http1Status::Error) {
                    out.push_back(cur);
                    phase = Phase::Failed;
                    break;
                }
                pos = start + head.head().head_length;
                progress = true;
                switch (head.head().framing) {
                case BodyFraming::None: finish(pos); break;
                case BodyFraming::ContentLength:
                    left = head.head().content_length;
                    phase = Phase::Fixed;
                    break;
                case BodyFraming::Chunked: phase = Phase::Chunked; break;
                case BodyFraming::UntilClose: phase = Phase::UntilClose; break;
                }
                break;
            }
            case Phase::Fixed: {
                const size_t n = static_cast<size_t>(std::min<uint64_t>(left, avail - pos));
                cur.payload.append(input.substr(pos, n));
                cur.raw_body.append(input.substr(pos, n));
                pos += n;
                left -= n;
                if (left == 0) {
                    finish(pos);
                    progress = true;
                }
                break;
            }
            case Phase::UntilClose:
                cur.payload.append(input.substr(pos, avail - pos));
                cur.raw_body.append(input.substr(pos, avail - pos));
                pos = avail;
                if (avail == input.size()) {
                    cur.complete = true;
                    cur.end = pos;
                    out.push_back(cur);
                    phase = Phase::Failed;  // nothing follows a body until close
                }
                break;
            case Phase::Chunked: {
                const std::string_view in = input.substr(pos, avail - pos);
                const ChunkStep st = chunked.feed(in);
                REQUIRE(st.consumed <= in.size());
                cur.raw_body.append(in.substr(0, st.consumed));
                pos += st.consumed;
                switch (st.event) {
                case ChunkEvent::NeedMore: REQUIRE(st.consumed == in.size()); break;
                case ChunkEvent::Data:
                    REQUIRE(st.data_len > 0);
                    REQUIRE(st.data_off + st.data_len == st.consumed);
                    cur.payload.append(in.substr(st.data_off, st.data_len));
                    progress = true;
                    break;
                case ChunkEvent::Trailers:
                    trailers.reset_trailers();
                    tstart = pos;
                    phase = Phase::Trailers;
                    progress = true;
                    break;
                case ChunkEvent::Done:
                    REQUIRE(chunked.payload_length() == cur.payload.size());
                    finish(pos);
                    progress = true;
                    break;
                case ChunkEvent::Error:
                    cur.body_error = chunked.error();
                    cur.body_status = chunked.http_status();
                    cur.end = pos;  // the offending byte
                    out.push_back(cur);
                    phase = Phase::Failed;
                    break;
                }
                break;
            }
            case Phase::Trailers: {
                if (avail == tstart)
                    break;
                const std::string buf(input.substr(tstart, avail - tstart));
                const Http1Status st = trailers.parse(buf);
                if (st == Http1Status::NeedMore)
                    break;
                cur.trailers = outcome(trailers, buf);
                if (st == Http1Status::Error) {
                    cur.end = tstart + trailers.error_offset();
                    out.push_back(cur);
                    phase = Phase::Failed;
                    break;
                }
                cur.raw_body.append(buf.substr(0, trailers.head().head_length));
                finish(tstart + trailers.head().head_length);
                progress = true;
                break;
            }
            case Phase::Failed: break;
            }
        }
    }
    if (phase != Phase::Failed && phase != Phase::Head)
        out.push_back(cur);  // incomplete last message
    else if (phase == Phase::Head && start < input.size())
        out.push_back(cur);  // incomplete head
    return out;
}

std::vector<MsgOutcome> check_stream(const Setup& s, std::string_view input) {
    const std::vector<MsgOutcome> whole = parse_stream(s, input, {});
    for (size_t k = 0; k <= input.size(); ++k) {
        INFO("split at " << k);
        REQUIRE(parse_stream(s, input, {k}) == whole);
    }
    std::vector<size_t> bytes;
    for (size_t k = 0; k <= input.size(); ++k)
        bytes.push_back(k);
    REQUIRE(parse_stream(s, input, bytes) == whole);
    // A few random multi-piece splits too.
    std::mt19937 rng(static_cast<unsigned>(input.size()));
    for (int r = 0; r < 50; ++r) {
        std::vector<size_t> cuts;
        for (size_t k = 0; k <= input.size(); ++k)
            if (rng() % 7 == 0)
                cuts.push_back(k);
        INFO("random split " << r);
        REQUIRE(parse_stream(s, input, cuts) == whole);
    }
    return whole;
}

// One chunked body (the chunked framing alone), checked at every split.
MsgOutcome chunked_body(std::string_view body, Http1Options opts = {}, Http1Kind kind = Http1Kind::Request) {
    // Wrap it in a head so that the stream driver is used as is.
    const std::string head = kind == Http1Kind::Request
                                 ? "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"s
                                 : "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"s;
    const std::vector<MsgOutcome> r = check_stream({kind, opts}, head + std::string(body));
    REQUIRE(!r.empty());
    REQUIRE(r[0].head.status == Http1Status::Done);
    REQUIRE(r[0].head.framing == BodyFraming::Chunked);
    return r[0];
}

std::string repeat(std::string_view s, size_t n) {
    std::string r;
    for (size_t i = 0; i < n; ++i)
        r.append(s);
    return r;
}

}  // namespace

// =============================================================================================
// Request line

TEST_CASE("http1: simple request", "[http1]") {
    const auto o = req("GET /index.html?a=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n");
    REQUIRE(o.status == Http1Status::Done);
    CHECK(o.method == HttpMethod::Get);
    CHECK(o.method_name == "GET");
    CHECK(o.target == "/index.html?a=1");
    CHECK(o.version == HttpVersion::Http11);
    REQUIRE(o.headers.size() == 2);
    CHECK(o.headers[0] == std::pair<std::string, std::string>("Host", "example.com"));
    CHECK(o.headers[1] == std::pair<std::string, std::string>("User-Agent", "t"));
    CHECK(o.framing == BodyFraming::None);
    CHECK(o.keep_alive);
    CHECK_FALSE(o.expect_continue);
    CHECK_FALSE(o.upgrade);
    CHECK(o.host_header == 0);
    CHECK(o.head_length == 66);
}

TEST_CASE("http1: incomplete heads need more", "[http1]") {
    const std::string m = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for (size_t k = 0; k < m.size(); ++k) {
        const auto o = parse_whole({}, m.substr(0, k));
        INFO(k);
        CHECK(o.status == Http1Status::NeedMore);
    }
}

TEST_CASE("http1: parser stops at the end of the head", "[http1]") {
    const auto o = req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n");
    REQUIRE(o.status == Http1Status::Done);
    CHECK(o.head_length == 47);
    CHECK(o.framing == BodyFraming::ContentLength);
    CHECK(o.content_length == 5);
}

TEST_CASE("http1: methods", "[http1]") {
    const std::pair<const char*, HttpMethod> known[] = {
        {"GET", HttpMethod::Get},         {"HEAD", HttpMethod::Head},      {"POST", HttpMethod::Post},
        {"PUT", HttpMethod::Put},         {"DELETE", HttpMethod::Delete},  {"OPTIONS", HttpMethod::Options},
        {"TRACE", HttpMethod::Trace},     {"PATCH", HttpMethod::Patch},    {"PROPFIND", HttpMethod::Other},
        {"get", HttpMethod::Other},       {"M-SEARCH", HttpMethod::Other}, {"X!#$%&'*+-.^_`|~9", HttpMethod::Other},
    };
    for (const auto& [name, id] : known) {
        const auto o = req(std::string(name) + " / HTTP/1.1\r\nHost: a\r\n\r\n");
        REQUIRE(o.status == Http1Status::Done);
        CHECK(o.method == id);
        CHECK(o.method_name == name);
    }
    const auto c = req("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    REQUIRE(c.status == Http1Status::Done);
    CHECK(c.method == HttpMethod::Connect);
    CHECK(c.target == "example.com:443");
}

TEST_CASE("http1: invalid method", "[http1]") {
    req_bad("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadMethod, 400);
    req_bad("GE\"T / HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadMethod, 400);
    req_bad(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadMethod, 400);
    req_bad("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadMethod, 400);
    req_bad("G\xc3\xa9T / HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadMethod, 400);
    req_bad("GET\r\n\r\n", Http1Error::BadMethod, 400);
    req_bad("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", Http1Error::BadMethod, 400);  // TLS on a clear port
}

TEST_CASE("http1: empty lines before the request line are ignored", "[http1]") {
    const auto o = req("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(o.status == Http1Status::Done);
    CHECK(o.method_name == "GET");
    CHECK(o.head_length == 31);
    req_bad("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BareLf, 400);
    req_bad("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BareCr, 400);
}

TEST_CASE("http1: request targets", "[http1]") {
    for (const char* t : {"/", "/a/b?c=d&e", "/%7Euser", "/{}|^`\\\"<>", "http://example.com/x",
                          "https://example.com:8443", "h2c+x-y.z://a"}) {
        const auto o = req("GET "s + t + " HTTP/1.1\r\nHost: a\r\n\r\n");
        REQUIRE(o.status == Http1Status::Done);
        CHECK(o.target == t);
    }
    const auto star = req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(star.status == Http1Status::Done);
    CHECK(star.target == "*");
    CHECK(star.method == HttpMethod::Options);
    for (const char* t : {"/a#frag", "/caf\xc3\xa9", "/a\x7f", "*", "example.com", "1http://x/", "example.com:80", "urn:a:b", "http:/x", "http:"})
        req_bad("GET "s + t + " HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadTarget, 400);
    req_bad("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadTarget, 400);
    req_bad("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadTarget, 400);
    req_bad("GET /a"s + '\0' + "b HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadTarget, 400);
    req_bad("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadTarget, 400);
    req_bad("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadTarget, 400);
    req_bad("CONNECT example.com: HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadTarget, 400);
    req_bad("CONNECT * HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::BadTarget, 400);
    const auto c6 = req("CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n");
    REQUIRE(c6.status == Http1Status::Done);
}

TEST_CASE("http1: versions", "[http1]") {
    const auto v10 = req("GET / HTTP/1.0\r\n\r\n");
    REQUIRE(v10.status == Http1Status::Done);
    CHECK(v10.version == HttpVersion::Http10);
    CHECK_FALSE(v10.keep_alive);
    for (const char* v : {"HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9", "HTTP/1.9"})
        req_bad("GET / "s + v + "\r\nHost: a\r\n\r\n", Http1Error::UnsupportedVersion, 505);
    for (const char* v : {"http/1.1", "HTTP/1.10", "HTTP/11", "HTTP/1", "HTTP/1.1 ", "HTTP/1.x", "HTTP/ 1.1",
                          "HTTP /1.1", "HTTPS/1.1", "HTTP/1.1\t", "HTTP\\1.1", "xHTTP/1.1"})
        req_bad("GET / "s + v + "\r\nHost: a\r\n\r\n", Http1Error::BadVersion, 400);
    req_bad("GET /\r\n\r\n", Http1Error::BadVersion, 400);  // HTTP/0.9
    req_bad("GET / HTTP/1.1\nHost: a\r\n\r\n", Http1Error::BareLf, 400);
    req_bad("GET / HTTP/1.1\r\rHost: a\r\n\r\n", Http1Error::BareCr, 400);
    req_bad("GET / HTTP/2.0\n", Http1Error::BareLf, 400);
}

// =============================================================================================
// Header fields

TEST_CASE("http1: header values are trimmed, names keep their case", "[http1]") {
    const auto o = req("GET / HTTP/1.1\r\nHost:a\r\nX-Empty:\r\nX-Ws: \t \r\nX-Trim: \t v a l \t \r\n"
                       "x-obs: caf\xc3\xa9\r\nX-Chars: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\r\n\r\n");
    REQUIRE(o.status == Http1Status::Done);
    REQUIRE(o.headers.size() == 6);
    CHECK(o.headers[0].second == "a");
    CHECK(o.headers[1].second.empty());
    CHECK(o.headers[2].second.empty());
    CHECK(o.headers[3].first == "X-Trim");
    CHECK(o.headers[3].second == "v a l");
    CHECK(o.headers[4].first == "x-obs");
    CHECK(o.headers[4].second == "caf\xc3\xa9");
    CHECK(o.headers[5].second == "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
}

TEST_CASE("http1: case-insensitive header lookups", "[http1]") {
    const std::string m = "GET / HTTP/1.1\r\nHOST: a\r\nX-A: 1\r\nx-a: 2\r\nX-B: 3\r\n\r\n";
    Http1Parser p(Http1Kind::Request);
    REQUIRE(p.parse(m) == Http1Status::Done);
    CHECK(p.find_header(m, "host") == 0);
    CHECK(p.find_header(m, "X-a") == 1);
    CHECK(p.find_header(m, "x-A", 2) == 2);
    CHECK(p.find_header(m, "X-A", 3) == -1);
    CHECK(p.find_header(m, "x-c") == -1);
    CHECK(p.headers()[3].value.in(m) == "3");
    CHECK(http1_iequals("Content-Length", "content-LENGTH"));
    CHECK_FALSE(http1_iequals("Content-Length", "Content-Lengt"));
    CHECK_FALSE(http1_iequals("a", "\xc1"));
}

TEST_CASE("http1: invalid header names", "[http1]") {
    for (const char* line : {"Host : a", "Host\t: a", "Ho st: a", ": a", "Host", "X-(a): b", "X\"a: b", "X-\xc3\xa9: b",
                             "X@: b", "X-A\r: b"}) {
        INFO(line);
        const auto o = req("GET / HTTP/1.1\r\nHost: a\r\n"s + line + "\r\n\r\n");
        REQUIRE(o.status == Http1Status::Error);
        CHECK(o.http_status == 400);
        CHECK((o.error == Http1Error::BadHeaderName || o.error == Http1Error::BareCr));
    }
    req_bad("GET / HTTP/1.1\r\nHost : a\r\n\r\n", Http1Error::BadHeaderName, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", Http1Error::BadHeaderName, 400);
}

TEST_CASE("http1: control characters in names and values", "[http1]") {
    for (char c : {'\0', '\x01', '\x08', '\x0b', '\x0c', '\x1b', '\x1f', '\x7f'}) {
        INFO("char " << int(c));
        req_bad("GET / HTTP/1.1\r\nHost: a\r\nX-A: a"s + c + "b\r\n\r\n", Http1Error::BadHeaderValue, 400);
        req_bad("GET / HTTP/1.1\r\nHost: a\r\nX-A: "s + c + "\r\n\r\n", Http1Error::BadHeaderValue, 400);
        req_bad("GET / HTTP/1.1\r\nHost: a\r\nX"s + c + "A: b\r\n\r\n", Http1Error::BadHeaderName, 400);
        req_bad("GET / HTTP/1.1\r\nHost: a\r\n"s + c + "X-A: b\r\n\r\n", Http1Error::BadHeaderName, 400);
    }
    // HTAB is allowed inside a value.
    const auto o = req("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\tb\r\n\r\n");
    REQUIRE(o.status == Http1Status::Done);
    CHECK(o.headers[1].second == "a\tb");
}

TEST_CASE("http1: bare CR and bare LF", "[http1]") {
    req_bad("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", Http1Error::BareCr, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", Http1Error::BareCr, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\n\rX", Http1Error::BareCr, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", Http1Error::BareCr, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", Http1Error::BareLf, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\n\n", Http1Error::BareLf, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\nX:\n\r\n", Http1Error::BareLf, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\nX: \n\r\n", Http1Error::BareLf, 400);
    req_bad("GET / HTTP/1.1\nHost: a\n\n", Http1Error::BareLf, 400);
}

TEST_CASE("http1: obsolete line folding is rejected", "[http1]") {
    req_bad("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", Http1Error::ObsFold, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", Http1Error::ObsFold, 400);
    req_bad("GET / HTTP/1.1\r\n Host: a\r\n\r\n", Http1Error::ObsFold, 400);  // before the first field
    req_bad("GET / HTTP/1.1\r\nHost: a\r\n \r\n\r\n", Http1Error::ObsFold, 400);
    resp_bad("HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n", Http1Error::ObsFold);
}

// =============================================================================================
// Framing

TEST_CASE("http1: content-length", "[http1]") {
    auto cl = [](const std::string& fields) {
        return req("POST / HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n");
    };
    auto o = cl("Content-Length: 42\r\n");
    REQUIRE(o.status == Http1Status::Done);
    CHECK(o.framing == BodyFraming::ContentLength);
    CHECK(o.content_length == 42);
    o = cl("content-length: 0\r\n");
    CHECK(o.framing == BodyFraming::ContentLength);
    CHECK(o.content_length == 0);
    o = cl("Content-Length: 0042\r\n");
    CHECK(o.content_length == 42);
    o = cl("Content-Length: 42, 42\r\n");  // RFC 9110 §8.6: identical values merged
    CHECK(o.status == Http1Status::Done);
    CHECK(o.content_length == 42);
    o = cl("Content-Length: 42\r\nCONTENT-LENGTH: 42\r\n");
    CHECK(o.status == Http1Status::Done);
    CHECK(o.content_length == 42);
    o = cl("Content-Length: 9223372036854775807\r\n");
    CHECK(o.content_length == 9223372036854775807ULL);

    req_bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\nContent-Length: 43\r\n\r\n",
            Http1Error::ConflictingContentLength, 400);
    for (const char* v : {"42, 43", "42,,42", "42,", ",42", "", "abc", "-1", "+1", "1 2", "0x10", "1.0", "4 2",
                          "9223372036854775808", "18446744073709551616", "99999999999999999999999", "\xd9\xa4"}) {
        INFO("value '" << v << "'");
        req_bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "s + v + "\r\n\r\n", Http1Error::BadContentLength, 400);
    }
}

TEST_CASE("http1: transfer-encoding", "[http1]") {
    auto te = [](const std::string& fields) {
        return req("POST / HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n");
    };
    for (const char* fields : {"Transfer-Encoding: chunked\r\n", "Transfer-Encoding: CHUNKED\r\n",
                               "Transfer-Encoding: gzip, chunked\r\n", "Transfer-Encoding: gzip , \t chunked \r\n",
                               "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
                               "Transfer-Encoding: ,chunked,\r\n", "Transfer-Encoding: x-gzip, deflate, chunked\r\n"}) {
        INFO(fields);
        const auto o = te(fields);
        REQUIRE(o.status == Http1Status::Done);
        CHECK(o.framing == BodyFraming::Chunked);
    }
    // chunked not last, twice, with parameters, empty: 400.
    for (const char* fields : {"Transfer-Encoding: chunked, gzip\r\n", "Transfer-Encoding: gzip\r\n",
                               "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
                               "Transfer-Encoding: chunked, chunked\r\n",
                               "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                               "Transfer-Encoding: chunked;q=1\r\n", "Transfer-Encoding: gzip;level=1, chunked\r\n",
                               "Transfer-Encoding: \"chunked\"\r\n", "Transfer-Encoding:\r\n",
                               "Transfer-Encoding: , ,\r\n", "Transfer-Encoding: chunked chunked\r\n"}) {
        INFO(fields);
        require_error(te(fields), Http1Error::BadTransferEncoding, 400);
    }
    // Unknown codings: 501.
    for (const char* fields : {"Transfer-Encoding: foo, chunked\r\n", "Transfer-Encoding: identity\r\n",
                               "Transfer-Encoding: xchunked\r\n", "Transfer-Encoding: chunked-false\r\n",
                               "Transfer-Encoding: chunke\r\n", "Transfer-Encoding: br, chunked\r\n"}) {
        INFO(fields);
        require_error(te(fields), Http1Error::UnknownTransferCoding, 501);
    }
    // HTTP/1.0 with Transfer-Encoding (RFC 9112 §6.1: faulty framing).
    req_bad("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Http1Error::BadTransferEncoding, 400);
    // Obfuscations that must not reach a peer as "some other framing".
    req_bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", Http1Error::BadHeaderName, 400);
    req_bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0b" "chunked\r\n\r\n", Http1Error::BadHeaderValue, 400);
    req_bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", Http1Error::ObsFold, 400);
}

TEST_CASE("http1: content-length with transfer-encoding", "[http1]") {
    req_bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            Http1Error::ContentLengthWithTransferEncoding, 400);
    req_bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            Http1Error::ContentLengthWithTransferEncoding, 400);
    req_bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
            Http1Error::ContentLengthWithTransferEncoding, 400);
    resp_bad("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
             Http1Error::ContentLengthWithTransferEncoding);
}

// =============================================================================================
// Host, Connection, Expect, Upgrade

TEST_CASE("http1: host", "[http1]") {
    req_bad("GET / HTTP/1.1\r\n\r\n", Http1Error::MissingHost, 400);
    req_bad("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", Http1Error::MissingHost, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", Http1Error::DuplicateHost, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", Http1Error::DuplicateHost, 400);
    req_bad("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", Http1Error::DuplicateHost, 400);
    for (const char* h : {"a b", "a/b", "a@b", "[::1", "[]", "a:b", "a:123456", "a:1:2", "a%zz", "a%4", "[::1]x",
                          "\xc3\xa9.com"}) {
        INFO(h);
        req_bad("GET / HTTP/1.1\r\nHost: "s + h + "\r\n\r\n", Http1Error::BadHost, 400);
    }
    for (const char* h : {"", "example.com", "example.com:8080", "example.com:", "127.0.0.1:80", "[::1]",
                          "[2001:db8::1]:443", "[fe80::1%25eth0]", "a%41b.example", "xn--caf-dma.example",
                          "sub_domain.example", "!$&'()*+,;=~"}) {
        INFO(h);
        const auto o = req("GET / HTTP/1.1\r\nHost: "s + h + "\r\n\r\n");
        REQUIRE(o.status == Http1Status::Done);
        CHECK(o.headers[0].second == h);
    }
    const auto v10 = req("GET / HTTP/1.0\r\n\r\n");  // Host optional in HTTP/1.0
    CHECK(v10.status == Http1Status::Done);
    CHECK(v10.host_header == -1);
}

TEST_CASE("http1: connection semantics", "[http1]") {
    struct Case {
        const char* version;
        const char* fields;
        bool keep_alive, close, upgrade;
    };
    const Case cases[] = {
        {"1.1", "", true, false, false},
        {"1.1", "Connection: close\r\n", false, true, false},
        {"1.1", "Connection: CLOSE\r\n", false, true, false},
        {"1.1", "Connection: keep-alive\r\n", true, false, false},
        {"1.1", "Connection: keep-alive, close\r\n", false, true, false},
        {"1.1", "Connection: keep-alive\r\nConnection: close\r\n", false, true, false},
        {"1.1", "Connection: x-foo, , te\r\n", true, false, false},
        {"1.1", "Connection: Upgrade\r\nUpgrade: websocket\r\n", true, false, true},
        {"1.1", "Connection: keep-alive, upgrade\r\nUpgrade: h2c\r\n", true, false, true},
        {"1.1", "Upgrade: websocket\r\n", true, false, false},        // no Connection: upgrade
        {"1.1", "Connection: upgrade\r\n", true, false, false},       // no Upgrade header
        {"1.0", "", false, false, false},
        {"1.0", "Connection: keep-alive\r\n", true, false, false},
        {"1.0", "Connection: Keep-Alive\r\n", true, false, false},
        {"1.0", "Connection: keep-alive, close\r\n", false, true, false},
        {"1.0", "Connection: upgrade\r\nUpgrade: websocket\r\n", false, false, false},  // ignored in 1.0
    };
    for (const auto& c : cases) {
        INFO(c.version << " " << c.fields);
        const auto o = req("GET / HTTP/"s + c.version + "\r\nHost: a\r\n" + c.fields + "\r\n");
        REQUIRE(o.status == Http1Status::Done);
        CHECK(o.keep_alive == c.keep_alive);
        CHECK(o.close == c.close);
        CHECK(o.upgrade == c.upgrade);
    }
    const auto u = req("GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    CHECK(u.upgrade_header == 1);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\nConnection: close, @x\r\n\r\n", Http1Error::BadConnection, 400);
    req_bad("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep alive\r\n\r\n", Http1Error::BadConnection, 400);
}

TEST_CASE("http1: expect 100-continue", "[http1]") {
    auto o = req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    CHECK(o.expect_continue);
    o = req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nexpect:  100-Continue \r\n\r\n");
    CHECK(o.expect_continue);
    o = req("POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");  // ignored in 1.0
    CHECK(o.status == Http1Status::Done);
    CHECK_FALSE(o.expect_continue);
    o = req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 200-ok\r\n\r\n");
    CHECK(o.status == Http1Status::Done);
    CHECK_FALSE(o.expect_continue);
}

// =============================================================================================
// Limits

TEST_CASE("http1: request line and head size limits", "[http1]") {
    Http1Options small;
    small.bufsize = 64;
    // Exactly bufsize bytes of head: accepted; one more: rejected.
    const std::string head_start = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
    const std::string fits = head_start + std::string(64 - head_start.size() - 4, 'v') + "\r\n\r\n";
    REQUIRE(fits.size() == 64);
    auto o = req(fits + "trailing body bytes are not the head's", small);
    REQUIRE(o.status == Http1Status::Done);
    CHECK(o.head_length == 64);
    const std::string over = head_start + std::string(64 - head_start.size() - 3, 'v') + "\r\n\r\n";
    req_bad(over, Http1Error::HeadTooLarge, 431, small);
    // Request line not finished within bufsize: 414 (target, version, or empty lines before it).
    req_bad("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::UriTooLong, 414, small);
    req_bad("GET /" + std::string(57, 'a') + " HTTP/1.1\r\n", Http1Error::UriTooLong, 414, small);
    req_bad(repeat("\r\n", 40) + "GET / HTTP/1.1\r\n", Http1Error::UriTooLong, 414, small);
    // A request line that ends right before the limit: the headers are what is too large.
    req_bad("GET /" + std::string(45, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", Http1Error::HeadTooLarge, 431, small);
    // Default bufsize 16384.
    const std::string big_target = "GET /" + std::string(16384, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
    require_error(parse_whole({}, big_target), Http1Error::UriTooLong, 414);
    const std::string big_header = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(16384, 'a') + "\r\n\r\n";
    require_error(parse_whole({}, big_header), Http1Error::HeadTooLarge, 431);
    // The limit is on the head, not on the buffer: a large body after a small head is fine.
    const std::string body_after = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'b');
    CHECK(parse_whole({}, body_after).status == Http1Status::Done);
    // Responses: head too large is the server's fault.
    Setup rs{Http1Kind::Response, small};
    require_error(parse_whole(rs, "HTTP/1.1 200 " + std::string(100, 'r') + "\r\n\r\n"), Http1Error::HeadTooLarge, 502);
}

TEST_CASE("http1: header count limit", "[http1]") {
    for (size_t max : {size_t{0}, size_t{1}, size_t{3}, size_t{101}}) {
        Http1Options o;
        o.max_headers = max;
        INFO("max_headers " << max);
        std::string m = "GET / HTTP/1.0\r\n";
        for (size_t i = 0; i < max; ++i)
            m += "X-" + std::to_string(i) + ": v\r\n";
        const auto ok = req(m + "\r\n", o);
        REQUIRE(ok.status == Http1Status::Done);
        CHECK(ok.headers.size() == max);
        req_bad(m + "X-Last: v\r\n\r\n", Http1Error::TooManyHeaders, 431, o);
    }
    // Default 101, like HAProxy's tune.http.maxhdr.
    std::string m = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 100; ++i)
        m += "X: v\r\n";
    CHECK(req(m + "\r\n").status == Http1Status::Done);
    req_bad(m + "Y: v\r\n\r\n", Http1Error::TooManyHeaders, 431);
}

// =============================================================================================
// Responses

TEST_CASE("http1: responses", "[http1]") {
    auto o = resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    REQUIRE(o.status == Http1Status::Done);
    CHECK(o.code == 200);
    CHECK(o.reason == "OK");
    CHECK(o.version == HttpVersion::Http11);
    CHECK(o.framing == BodyFraming::ContentLength);
    CHECK(o.content_length == 5);
    CHECK(o.keep_alive);

    o = resp("HTTP/1.1 404 Not  Found \t\r\n\r\n");
    CHECK(o.reason == "Not  Found \t");
    CHECK(o.framing == BodyFraming::UntilClose);
    CHECK_FALSE(o.keep_alive);

    o = resp("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");  // no reason, no SP
    REQUIRE(o.status == Http1Status::Done);
    CHECK(o.reason.empty());
    o = resp("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
    REQUIRE(o.status == Http1Status::Done);
    CHECK(o.reason.empty());
    o = resp("HTTP/1.1 200 D\xc3\xa9j\xc3\xa0 vu\r\nContent-Length: 0\r\n\r\n");
    CHECK(o.reason == "D\xc3\xa9j\xc3\xa0 vu");

    o = resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    CHECK(o.framing == BodyFraming::Chunked);
    CHECK(o.keep_alive);
    // RFC 9112 §6.3: a response whose final coding is not chunked runs until close.
    o = resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    CHECK(o.status == Http1Status::Done);
    CHECK(o.framing == BodyFraming::UntilClose);
    CHECK_FALSE(o.keep_alive);
    o = resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
    CHECK(o.framing == BodyFraming::UntilClose);

    o = resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n");
    CHECK(o.version == HttpVersion::Http10);
    CHECK_FALSE(o.keep_alive);
    o = resp("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n");
    CHECK(o.keep_alive);
    o = resp("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n");
    CHECK(o.framing == BodyFraming::UntilClose);
    CHECK_FALSE(o.keep_alive);
    o = resp("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n");
    CHECK_FALSE(o.keep_alive);
    // Host means nothing in a response (not checked, not counted).
    o = resp("HTTP/1.1 200 OK\r\nHost: a b\r\nHost: c\r\nContent-Length: 1\r\n\r\n");
    CHECK(o.status == Http1Status::Done);
}

TEST_CASE("http1: responses without a body", "[http1]") {
    for (const char* line : {"HTTP/1.1 100 Continue", "HTTP/1.1 103 Early Hints", "HTTP/1.1 204 No Content",
                             "HTTP/1.1 304 Not Modified"}) {
        for (const char* fields : {"", "Content-Length: 10\r\n", "Transfer-Encoding: chunked\r\n"}) {
            INFO(line << " / " << fields);
            const auto o = resp(std::string(line) + "\r\n" + fields + "\r\n");
            REQUIRE(o.status == Http1Status::Done);
            CHECK(o.framing == BodyFraming::None);
            CHECK(o.content_length == 0);
            CHECK(o.keep_alive);
            CHECK_FALSE(o.tunnel);
        }
    }
    for (const char* fields : {"Content-Length: 10\r\n", "Transfer-Encoding: chunked\r\n", ""}) {
        const auto o = resp("HTTP/1.1 200 OK\r\n"s + fields + "\r\n", HttpMethod::Head);
        REQUIRE(o.status == Http1Status::Done);
        CHECK(o.framing == BodyFraming::None);
        CHECK(o.keep_alive);
    }
    const auto c = resp("HTTP/1.1 200 Connection established\r\n\r\n", HttpMethod::Connect);
    CHECK(c.framing == BodyFraming::None);
    CHECK(c.tunnel);
    const auto cf = resp("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\n", HttpMethod::Connect);
    CHECK(cf.framing == BodyFraming::ContentLength);
    CHECK_FALSE(cf.tunnel);
    const auto u = resp("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    CHECK(u.framing == BodyFraming::None);
    CHECK(u.tunnel);
    CHECK(u.upgrade);
    CHECK(u.upgrade_header == 1);
}

TEST_CASE("http1: invalid responses", "[http1]") {
    resp_bad("HTTP/1.1 99 Low\r\n\r\n", Http1Error::BadStatusLine);
    resp_bad("HTTP/1.1 099 Low\r\n\r\n", Http1Error::BadStatusLine);
    resp_bad("HTTP/1.1 600 High\r\n\r\n", Http1Error::BadStatusLine);
    resp_bad("HTTP/1.1 2000 OK\r\n\r\n", Http1Error::BadStatusLine);
    resp_bad("HTTP/1.1 20a OK\r\n\r\n", Http1Error::BadStatusLine);
    resp_bad("HTTP/1.1  200 OK\r\n\r\n", Http1Error::BadStatusLine);
    resp_bad("HTTP/1.1 200\tOK\r\n\r\n", Http1Error::BadStatusLine);
    resp_bad("HTTP/1.1 200 O\x01K\r\n\r\n", Http1Error::BadStatusLine);
    resp_bad("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", Http1Error::BareLf);
    resp_bad("HTTP/1.1 200\n\r\n", Http1Error::BareLf);
    resp_bad("HTTP/1.1 200 OK\r\r\n\r\n", Http1Error::BareCr);
    resp_bad("HTTP/2.0 200 OK\r\n\r\n", Http1Error::UnsupportedVersion);
    resp_bad("HTTP/1.2 200 OK\r\n\r\n", Http1Error::UnsupportedVersion);
    resp_bad("HTTP/1.1\r\n\r\n", Http1Error::BadVersion);
    resp_bad("http/1.1 200 OK\r\n\r\n", Http1Error::BadVersion);
    resp_bad("\r\nHTTP/1.1 200 OK\r\n\r\n", Http1Error::BadVersion);
    resp_bad("ICY 200 OK\r\n\r\n", Http1Error::BadVersion);
    resp_bad("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", Http1Error::ConflictingContentLength);
    resp_bad("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", Http1Error::BadContentLength);
    resp_bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", Http1Error::BadTransferEncoding);
    resp_bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: foo\r\n\r\n", Http1Error::UnknownTransferCoding);
    resp_bad("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Http1Error::BadTransferEncoding);
    resp_bad("HTTP/1.1 200 OK\r\nX : y\r\n\r\n", Http1Error::BadHeaderName);
    // Malformed framing headers are errors even when the response has no body.
    resp_bad("HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n", Http1Error::BadContentLength);
    resp_bad("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
             Http1Error::ContentLengthWithTransferEncoding, HttpMethod::Head);
}

// =============================================================================================
// Reuse without allocation

TEST_CASE("http1: reset reuses the header array", "[http1]") {
    Http1Parser p(Http1Kind::Request);
    const std::string a = "GET /a HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n";
    const std::string b = "POST /b HTTP/1.0\r\nContent-Length: 2\r\n\r\n";
    REQUIRE(p.parse(a) == Http1Status::Done);
    const Http1Header* array = p.headers().data();
    REQUIRE(p.headers().size() == 2);
    p.reset();
    CHECK(p.status() == Http1Status::NeedMore);
    CHECK(p.headers().empty());
    REQUIRE(p.parse(b) == Http1Status::Done);
    CHECK(p.headers().data() == array);
    CHECK(p.head().target.in(b) == "/b");
    CHECK(p.head().version == HttpVersion::Http10);
    CHECK(p.head().framing == BodyFraming::ContentLength);
    CHECK(p.head().host_header == -1);
    // A finished parse stays finished; an error stays an error.
    CHECK(p.parse(b + "garbage") == Http1Status::Done);
    p.reset();
    CHECK(p.parse("BAD@ / HTTP/1.1\r\n") == Http1Status::Error);
    CHECK(p.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == Http1Status::Error);
    CHECK(p.error_offset() == 3);
    CHECK(std::string(to_string(p.error())) == "invalid method");
    // The request method of a response parser is kept across reset() (1xx then the final one).
    Http1Parser r(Http1Kind::Response);
    r.set_request_method(HttpMethod::Head);
    REQUIRE(r.parse("HTTP/1.1 100 Continue\r\n\r\n") == Http1Status::Done);
    r.reset();
    REQUIRE(r.parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n") == Http1Status::Done);
    CHECK(r.head().framing == BodyFraming::None);
}

TEST_CASE("http1: error statuses and texts", "[http1]") {
    for (int i = 0; i <= static_cast<int>(Http1Error::BadChunkEnd); ++i) {
        const auto e = static_cast<Http1Error>(i);
        CHECK(std::string(to_string(e)) != "?");
        const int s = http1_error_status(e, Http1Kind::Request);
        CHECK((e == Http1Error::None ? s == 0 : (s == 400 || s == 414 || s == 431 || s == 501 || s == 505)));
        CHECK(http1_error_status(e, Http1Kind::Response) == (e == Http1Error::None ? 0 : 502));
    }
}

// =============================================================================================
// Chunked bodies

TEST_CASE("http1: chunked bodies", "[http1][chunked]") {
    auto m = chunked_body("5\r\nhello\r\n0\r\n\r\n");
    CHECK(m.complete);
    CHECK(m.payload == "hello");
    CHECK(m.raw_body == "5\r\nhello\r\n0\r\n\r\n");
    m = chunked_body("0\r\n\r\n");
    CHECK(m.complete);
    CHECK(m.payload.empty());
    m = chunked_body("1\r\na\r\nA\r\n0123456789\r\nb\r\nhello world\r\n000\r\n\r\n");
    CHECK(m.complete);
    CHECK(m.payload == "a0123456789hello world");
    m = chunked_body("0000000000000003\r\nabc\r\n0\r\n\r\n");  // 16 digits: the bound
    CHECK(m.complete);
    CHECK(m.payload == "abc");
    // Payload bytes may be anything, CRLF included.
    m = chunked_body("6\r\n\r\n0\r\n\r\r\n0\r\n\r\n");
    CHECK(m.complete);
    CHECK(m.payload == "\r\n0\r\n\r");
    // Incomplete: not complete, but no error.
    m = chunked_body("5\r\nhel");
    CHECK_FALSE(m.complete);
    CHECK(m.body_error == Http1Error::None);
    CHECK(m.payload == "hel");
    m = chunked_body("7fffffffffffffff\r\nabc");  // largest size
    CHECK(m.body_error == Http1Error::None);
    CHECK(m.payload == "abc");
}

TEST_CASE("http1: chunk extensions are skipped", "[http1][chunked]") {
    for (const char* ext : {";a", ";a=b", ";a=b;c;d=e", " ;a", "\t; a = b ; c", ";a=\"\"", ";a=\"x y;z=\\\"q\\\\\"",
                            ";name=\"caf\xc3\xa9\"", ";a ; b=1 ;c=\"2\" "}) {
        INFO("ext '" << ext << "'");
        const std::string body = "5"s + ext + "\r\nhello\r\n0" + ext + "\r\n\r\n";
        const auto m = chunked_body(body);
        if (std::string_view(ext).back() == ' ') {
            CHECK(m.body_error == Http1Error::BadChunkExtension);  // whitespace only before ';' or '='
            continue;
        }
        CHECK(m.complete);
        CHECK(m.payload == "hello");
        CHECK(m.raw_body == body);
    }
    for (const char* ext : {";", ";=b", ";a=", ";a=\"x", ";a=\"x\r\n", ";a=b c", ";a=\"x\"y", ";a=\"\x01\"", ";a@",
                            ";a=\"\\\x01\"", "; ", ";a=b;", ";a==b", ";a=b=c", ";a ="}) {
        INFO("ext '" << ext << "'");
        const auto m = chunked_body("5"s + ext + "\r\nhello\r\n0\r\n\r\n");
        CHECK(m.body_error == Http1Error::BadChunkExtension);
        CHECK(m.body_status == 400);
    }
    // Bounded: max_chunk_ext bytes from the first ';' or whitespace to the CR.
    Http1Options o;
    o.max_chunk_ext = 16;
    auto m = chunked_body("5;" + std::string(15, 'x') + "\r\nhello\r\n0\r\n\r\n", o);
    CHECK(m.complete);
    m = chunked_body("5;" + std::string(16, 'x') + "\r\nhello\r\n0\r\n\r\n", o);
    CHECK(m.body_error == Http1Error::ChunkExtensionTooLong);
    m = chunked_body("5" + std::string(20, ' ') + ";a\r\nhello\r\n0\r\n\r\n", o);
    CHECK(m.body_error == Http1Error::ChunkExtensionTooLong);
    m = chunked_body("0;" + std::string(2000, 'x') + "\r\n\r\n");  // default 1024
    CHECK(m.body_error == Http1Error::ChunkExtensionTooLong);
}

TEST_CASE("http1: invalid chunk framing", "[http1][chunked]") {
    struct Case {
        const char* body;
        Http1Error error;
    };
    const Case cases[] = {
        {"\r\n", Http1Error::BadChunkSize},                    // empty size
        {"g\r\n", Http1Error::BadChunkSize},
        {"-5\r\nhello\r\n0\r\n\r\n", Http1Error::BadChunkSize},
        {"+5\r\nhello\r\n0\r\n\r\n", Http1Error::BadChunkSize},
        {"0x5\r\nhello\r\n0\r\n\r\n", Http1Error::BadChunkSize},
        {" 5\r\nhello\r\n0\r\n\r\n", Http1Error::BadChunkSize},
        {"5 \r\nhello\r\n0\r\n\r\n", Http1Error::BadChunkSize},  // whitespace not before ';'
        {"5\t\r\nhello\r\n0\r\n\r\n", Http1Error::BadChunkSize},
        {"00000000000000005\r\nhello\r\n0\r\n\r\n", Http1Error::BadChunkSize},  // 17 digits
        {"8000000000000000\r\n", Http1Error::BadChunkSize},                       // 2^63
        {"ffffffffffffffff\r\n", Http1Error::BadChunkSize},
        {"10000000000000000\r\n", Http1Error::BadChunkSize},  // 2^64: would overflow to 0
        {"5\nhello\r\n0\r\n\r\n", Http1Error::BareLf},
        {"5\rhello\r\n0\r\n\r\n", Http1Error::BareCr},
        {"5\r\nhello\n0\r\n\r\n", Http1Error::BareLf},
        {"5\r\nhello\r0\r\n\r\n", Http1Error::BareCr},
        {"5\r\nhelloX\r\n0\r\n\r\n", Http1Error::BadChunkEnd},  // longer than said
        {"5\r\nhell\r\n0\r\n\r\n", Http1Error::BareLf},         // shorter than said: "hell\r" is the data
        {"5\r\nhello\r\n0\n\r\n", Http1Error::BareLf},
        {"5\r\nhello\r\n0\r\n\n", Http1Error::BareLf},
        {"5\r\nhello\r\n0\r\n\rX", Http1Error::BareCr},
        {"5\r\nhello\r\n\r\n", Http1Error::BadChunkSize},  // missing last chunk
    };
    for (const auto& c : cases) {
        INFO("body '" << c.body << "'");
        const auto m = chunked_body(c.body);
        CHECK_FALSE(m.complete);
        CHECK(m.body_error == c.error);
        CHECK(m.body_status == 400);
    }
    const auto r = chunked_body("zz\r\n", {}, Http1Kind::Response);
    CHECK(r.body_error == Http1Error::BadChunkSize);
    CHECK(r.body_status == 502);
}

TEST_CASE("http1: chunked trailers", "[http1][chunked]") {
    auto m = chunked_body("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nx-other:  v \r\n\r\n");
    REQUIRE(m.complete);
    CHECK(m.payload == "hello");
    REQUIRE(m.trailers.status == Http1Status::Done);
    REQUIRE(m.trailers.headers.size() == 2);
    CHECK(m.trailers.headers[0] == std::pair<std::string, std::string>("X-Checksum", "abc"));
    CHECK(m.trailers.headers[1] == std::pair<std::string, std::string>("x-other", "v"));
    CHECK(m.trailers.head_length == 33);
    CHECK(m.raw_body == "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nx-other:  v \r\n\r\n");
    m = chunked_body("0;ext=1\r\nA: b\r\n\r\n");
    REQUIRE(m.complete);
    CHECK(m.trailers.headers.size() == 1);

    // Same rules as header fields.
    struct Case {
        const char* trailer;
        Http1Error error;
    };
    const Case cases[] = {
        {"X : y\r\n\r\n", Http1Error::BadHeaderName},
        {"X: a\r\n b\r\n\r\n", Http1Error::ObsFold},
        {" X: a\r\n\r\n", Http1Error::ObsFold},
        {"X: a\nY: b\r\n\r\n", Http1Error::BareLf},
        {"X: a\rY: b\r\n\r\n", Http1Error::BareCr},
        {"X: a\x01\r\n\r\n", Http1Error::BadHeaderValue},
        {"Content-Length: 5\r\n\r\n", Http1Error::ForbiddenTrailer},
        {"transfer-encoding: chunked\r\n\r\n", Http1Error::ForbiddenTrailer},
        {"Host: a\r\n\r\n", Http1Error::ForbiddenTrailer},
    };
    for (const auto& c : cases) {
        INFO("trailer '" << c.trailer << "'");
        m = chunked_body("5\r\nhello\r\n0\r\n"s + c.trailer);
        CHECK_FALSE(m.complete);
        REQUIRE(m.trailers.status == Http1Status::Error);
        CHECK(m.trailers.error == c.error);
        CHECK(m.trailers.http_status == 400);
    }
    // Limits: max_headers trailer fields, bufsize bytes.
    Http1Options o;
    o.max_headers = 2;
    m = chunked_body("0\r\nA: 1\r\nB: 2\r\n\r\n", o);
    CHECK(m.complete);
    m = chunked_body("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", o);
    CHECK(m.trailers.error == Http1Error::TooManyHeaders);
    CHECK(m.trailers.http_status == 431);
    Http1Options s;
    s.bufsize = 80;
    m = chunked_body("0\r\nA: " + std::string(100, 'x') + "\r\n\r\n", s);
    CHECK(m.trailers.error == Http1Error::HeadTooLarge);
    CHECK(m.trailers.http_status == 431);
    // Response trailers: 502.
    const auto r = chunked_body("0\r\nX : y\r\n\r\n", {}, Http1Kind::Response);
    CHECK(r.trailers.error == Http1Error::BadHeaderName);
    CHECK(r.trailers.http_status == 502);
}

TEST_CASE("http1: chunked decoder steps", "[http1][chunked]") {
    ChunkedDecoder d;
    const std::string in = "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT";
    ChunkStep s = d.feed(in);
    REQUIRE(s.event == ChunkEvent::Data);
    CHECK(s.data_off == 7);
    CHECK(s.data_len == 3);
    CHECK(s.consumed == 10);
    std::string_view rest = std::string_view(in).substr(s.consumed);
    s = d.feed(rest);
    REQUIRE(s.event == ChunkEvent::Data);
    CHECK(rest.substr(s.data_off, s.data_len) == "de");
    rest.remove_prefix(s.consumed);
    s = d.feed(rest);
    REQUIRE(s.event == ChunkEvent::Done);
    rest.remove_prefix(s.consumed);
    CHECK(rest == "NEXT");
    CHECK(d.payload_length() == 5);
    CHECK(d.feed(rest).event == ChunkEvent::Done);
    CHECK(d.feed(rest).consumed == 0);
    d.reset();
    CHECK(d.payload_length() == 0);
    s = d.feed("0\r\nT: 1\r\n\r\n");
    CHECK(s.event == ChunkEvent::Trailers);
    CHECK(s.consumed == 3);
    CHECK(d.feed("T").event == ChunkEvent::Trailers);
    d.reset();
    s = d.feed("5\r\nab");
    CHECK(s.event == ChunkEvent::Data);
    s = d.feed("");
    CHECK(s.event == ChunkEvent::NeedMore);
    CHECK(s.consumed == 0);
    s = d.feed("x");
    CHECK(s.event == ChunkEvent::Data);
    s = d.feed("!!\r\n");
    CHECK(s.event == ChunkEvent::Data);
    CHECK(s.data_len == 2);
    CHECK(s.consumed == 2);  // the CRLF after the data is the next step's
    s = d.feed("X\r\n");
    REQUIRE(s.event == ChunkEvent::Error);
    CHECK(d.error() == Http1Error::BadChunkEnd);
    CHECK(s.consumed == 0);
}

// =============================================================================================
// Pipelining: several messages in one buffer, each reporting what it consumed.

TEST_CASE("http1: pipelined requests", "[http1][pipeline]") {
    const std::string m1 = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::string m2 = "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    const std::string m3 = "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "4;e=1\r\nwiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n";
    const std::string m4 = "\r\nPUT /4 HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
    const std::string m5 = "POST /5 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    const std::string m6 = "GET /6 HTTP/1.1\r\nHo";  // incomplete
    const std::string all = m1 + m2 + m3 + m4 + m5 + m6;
    const auto r = check_stream({}, all);
    REQUIRE(r.size() == 6);
    size_t off = 0;
    const std::string* ms[] = {&m1, &m2, &m3, &m4, &m5};
    for (int i = 0; i < 5; ++i) {
        INFO("message " << i + 1);
        CHECK(r[static_cast<size_t>(i)].complete);
        CHECK(r[static_cast<size_t>(i)].start == off);
        off += ms[i]->size();
        CHECK(r[static_cast<size_t>(i)].end == off);
        CHECK(r[static_cast<size_t>(i)].head.target == "/" + std::to_string(i + 1));
    }
    CHECK(r[1].payload == "hello");
    CHECK(r[2].payload == "wikipedia");
    CHECK(r[2].trailers.headers.size() == 1);
    CHECK(r[4].payload == "abc");
    CHECK_FALSE(r[5].complete);
    CHECK(r[5].head.status == Http1Status::NeedMore);
}

TEST_CASE("http1: pipelined request smuggling attempts stop at the bad message", "[http1][pipeline]") {
    // CL.TE: a front that used Content-Length would forward "0\r\n\r\nGET /admin..." as body.
    auto r = check_stream({}, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "0\r\n\r\nSMUGGLED");
    REQUIRE(r.size() == 1);
    CHECK(r[0].head.error == Http1Error::ContentLengthWithTransferEncoding);
    // TE.CL with an obfuscated Transfer-Encoding.
    r = check_stream({}, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\n"
                         "5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n");
    REQUIRE(r.size() == 1);
    CHECK(r[0].head.status == Http1Status::Error);
    // A valid first request, then a bad one: the first completes, the second is refused.
    r = check_stream({}, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET / HTTP/1.1\r\n");
    REQUIRE(r.size() == 2);
    CHECK(r[0].complete);
    CHECK(r[1].head.error == Http1Error::DuplicateHost);
    CHECK(r[1].start == 27);
    // Chunk size overflow trying to wrap to a small number.
    r = check_stream({}, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "10000000000000005\r\nhello\r\n0\r\n\r\n");
    REQUIRE(r.size() == 1);
    CHECK(r[0].body_error == Http1Error::BadChunkSize);
}

TEST_CASE("http1: pipelined responses", "[http1][pipeline]") {
    const std::string all = "HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                            "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x\r\nhi\r\n0\r\n\r\n"
                            "HTTP/1.0 200 OK\r\n\r\nuntil close\r\nHTTP/1.1 200 OK\r\n\r\n";
    const auto r = check_stream({Http1Kind::Response}, all);
    REQUIRE(r.size() == 5);
    CHECK(r[0].head.code == 100);
    CHECK(r[1].payload == "abc");
    CHECK(r[2].head.code == 204);
    CHECK(r[2].payload.empty());
    CHECK(r[3].payload == "hi");
    CHECK(r[3].raw_body == "2;x\r\nhi\r\n0\r\n\r\n");
    CHECK(r[4].head.framing == BodyFraming::UntilClose);
    CHECK(r[4].payload == "until close\r\nHTTP/1.1 200 OK\r\n\r\n");
    CHECK(r[4].end == all.size());
    // Responses to HEAD: the Content-Length does not delimit a body.
    const auto h = check_stream({Http1Kind::Response, {}, HttpMethod::Head},
                                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
    REQUIRE(h.size() == 2);
    CHECK(h[1].complete);
    CHECK(h[1].end == 76);
}
