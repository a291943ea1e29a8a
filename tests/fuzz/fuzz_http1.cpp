// Fuzz target for the HTTP/1 parser (worker/http1.h): any bytes, parsed as a stream of pipelined
// messages (heads, Content-Length/chunked/until-close bodies, trailers), never a crash.
// The first byte chooses requests or responses, the request method a response answers, small or
// default limits, and where the input is split into reads. Checks the parser's promises:
//  - whole and split parses give the same messages, payloads, errors and error offsets;
//  - an accepted head was consumed within the input and bufsize, its spans lie inside it, its
//    names are tokens and its values hold no CR, LF or other control character;
//  - framing follows the rules (no Content-Length with Transfer-Encoding, one Host for
//    HTTP/1.1 requests, no body for 1xx/204/304/HEAD, until-close for responses only);
//  - chunk steps never consume more than given; payload ranges end where the step ends;
//  - an accepted head, written back canonically, parses to the same head.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "worker/http1.h"

namespace {

using namespace proxyd::worker;

void check(bool ok) {
    if (!ok)
        std::abort();
}

struct Setup {
    Http1Kind kind = Http1Kind::Request;
    Http1Options opts{};
    HttpMethod request_method = HttpMethod::Get;
};

// A head as plain values (no offsets), comparable across parses of different buffers.
struct Head {
    Http1Status status = Http1Status::NeedMore;
    Http1Error error = Http1Error::None;
    uint32_t error_offset = 0;
    HttpMethod method = HttpMethod::Other;
    std::string method_name, target, reason;
    HttpVersion version = HttpVersion::Http11;
    int code = 0;
    std::vector<std::string> fields;  // name, value, name, value...
    BodyFraming framing = BodyFraming::None;
    uint64_t content_length = 0;
    bool keep_alive = false, expect = false, upgrade = false, tunnel = false;
    uint32_t head_length = 0;
    bool operator==(const Head&) const = default;
};

bool is_ctl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }
bool is_tchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool in_head(Http1Span s, uint32_t head_length) { return s.off <= head_length && s.len <= head_length - s.off; }

// Reads the parser's result, checking what an accepted head promises.
Head read_head(const Setup& s, const Http1Parser& p, std::string_view buf, bool trailers) {
    Head h;
    h.status = p.status();
    if (h.status == Http1Status::Error) {
        h.error = p.error();
        h.error_offset = p.error_offset();
        check(h.error != Http1Error::None);
        check(h.error_offset <= buf.size());
        const int st = p.http_status();
        if (s.kind == Http1Kind::Response)
            check(st == 502);
        else
            check(st == 400 || st == 414 || st == 431 || st == 501 || st == 505);
        return h;
    }
    if (h.status != Http1Status::Done)
        return h;
    const Http1Head& x = p.head();
    check(x.head_length >= 2 && x.head_length <= buf.size() && x.head_length <= s.opts.bufsize);
    check(buf.substr(x.head_length - 2, 2) == "\r\n");
    check(p.headers().size() <= s.opts.max_headers);
    for (const Http1Header& f : p.headers()) {
        check(in_head(f.name, x.head_length) && in_head(f.value, x.head_length));
        const std::string_view n = f.name.in(buf), v = f.value.in(buf);
        check(!n.empty());
        for (unsigned char c : n)
            check(is_tchar(c));
        for (unsigned char c : v)
            check(!is_ctl(c));
        check(v.empty() || (v.front() != ' ' && v.front() != '\t' && v.back() != ' ' && v.back() != '\t'));
        h.fields.emplace_back(n);
        h.fields.emplace_back(v);
    }
    h.head_length = x.head_length;
    if (trailers) {
        check(p.find_header(buf, "content-length") < 0 && p.find_header(buf, "transfer-encoding") < 0 &&
              p.find_header(buf, "host") < 0);
        return h;
    }
    check(in_head(x.method_name, x.head_length) && in_head(x.target, x.head_length) &&
          in_head(x.reason, x.head_length));
    h.method = x.method;
    h.method_name = std::string(x.method_name.in(buf));
    h.target = std::string(x.target.in(buf));
    h.reason = std::string(x.reason.in(buf));
    h.version = x.version;
    h.code = x.status;
    h.framing = x.framing;
    h.content_length = x.content_length;
    h.keep_alive = x.keep_alive;
    h.expect = x.expect_continue;
    h.upgrade = x.upgrade;
    h.tunnel = x.tunnel;
    const bool has_cl = p.find_header(buf, "content-length") >= 0;
    const bool has_te = p.find_header(buf, "transfer-encoding") >= 0;
    check(!(has_cl && has_te));
    check(x.framing != BodyFraming::ContentLength || has_cl);
    check(x.framing != BodyFraming::Chunked || has_te);
    check(x.framing == BodyFraming::ContentLength || x.content_length == 0);
    check(!x.keep_alive || x.framing != BodyFraming::UntilClose);
    check(!has_te || x.version == HttpVersion::Http11);
    if (s.kind == Http1Kind::Request) {
        check(x.method == http_method_from_token(h.method_name));
        check(!h.method_name.empty() && !h.target.empty());
        check(x.framing != BodyFraming::UntilClose);
        check(x.framing == BodyFraming::Chunked || x.framing == BodyFraming::ContentLength || (!has_cl && !has_te));
        const int host = p.find_header(buf, "host");
        check(host == x.host_header);
        check(host < 0 || p.find_header(buf, "host", static_cast<size_t>(host) + 1) < 0);
        check(x.version == HttpVersion::Http10 || host >= 0);
    } else {
        check(x.status >= 100 && x.status <= 599);
        if (x.status < 200 || x.status == 204 || x.status == 304 || s.request_method == HttpMethod::Head)
            check(x.framing == BodyFraming::None);
    }
    return h;
}

// An accepted head written back as canonical bytes must parse to the same head.
void check_canonical(const Setup& s, const Head& h) {
    std::string out;
    if (s.kind == Http1Kind::Request)
        out = h.method_name + " " + h.target + (h.version == HttpVersion::Http10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    else
        out = (h.version == HttpVersion::Http10 ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(h.code) + " " +
              h.reason + "\r\n";
    for (size_t i = 0; i < h.fields.size(); i += 2)
        out += h.fields[i] + ": " + h.fields[i + 1] + "\r\n";
    out += "\r\n";
    if (out.size() > s.opts.bufsize)
        return;
    Http1Parser p(s.kind, s.opts);
    p.set_request_method(s.request_method);
    check(p.parse(out) == Http1Status::Done);
    Head again = read_head(s, p, out, false);
    again.head_length = h.head_length;
    check(again == h);
}

struct Message {
    Head head, trailers;
    std::string payload, raw;
    Http1Error body_error = Http1Error::None;
    bool complete = false;
    size_t start = 0, end = 0;
    bool operator==(const Message&) const = default;
};

// Parses the messages of `in` arriving through `cuts` (ascending). Buffers given to the head
// parsers are fresh copies, so that only offsets can carry over between reads.
std::vector<Message> parse_stream(const Setup& s, std::string_view in, std::vector<size_t> cuts) {
    cuts.push_back(in.size());
    std::vector<Message> out;
    Http1Parser head(s.kind, s.opts), trailers(s.kind, s.opts);
    head.set_request_method(s.request_method);
    ChunkedDecoder chunked(s.kind, s.opts);
    enum class Phase { Head, Fixed, Chunked, Trailers, UntilClose, Stop } phase = Phase::Head;
    Message cur;
    size_t start = 0, pos = 0, tstart = 0;
    uint64_t left = 0;
    auto finish = [&](size_t end) {
        cur.complete = true;
        cur.end = end;
        out.push_back(std::move(cur));
        cur = Message{};
        head.reset();
        chunked.reset();
        start = pos = end;
        cur.start = start;
        phase = Phase::Head;
    };
    for (size_t avail : cuts) {
        for (bool progress = true; progress && phase != Phase::Stop;) {
            progress = false;
            switch (phase) {
            case Phase::Head: {
                if (avail == start)
                    break;
                const std::string buf(in.substr(start, avail - start));
                const Http1Status st = head.parse(buf);
                if (st == Http1Status::NeedMore) {
                    check(buf.size() < s.opts.bufsize);
                    break;
                }
                cur.head = read_head(s, head, buf, false);
                if (st == Http1Status::Error) {
                    out.push_back(std::move(cur));
                    phase = Phase::Stop;
                    break;
                }
                check_canonical(s, cur.head);
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
                if (head.head().tunnel)
                    phase = Phase::Stop;  // what follows is not HTTP
                break;
            }
            case Phase::Fixed: {
                const size_t n = static_cast<size_t>(std::min<uint64_t>(left, avail - pos));
                cur.payload.append(in.substr(pos, n));
                pos += n;
                left -= n;
                if (left == 0) {
                    finish(pos);
                    progress = true;
                }
                break;
            }
            case Phase::UntilClose:
                cur.payload.append(in.substr(pos, avail - pos));
                pos = avail;
                break;
            case Phase::Chunked: {
                const std::string_view part = in.substr(pos, avail - pos);
                const ChunkStep st = chunked.feed(part);
                check(st.consumed <= part.size());
                cur.raw.append(part.substr(0, st.consumed));
                pos += st.consumed;
                switch (st.event) {
                case ChunkEvent::NeedMore: check(st.consumed == part.size()); break;
                case ChunkEvent::Data:
                    check(st.data_len > 0 && st.data_off + st.data_len == st.consumed);
                    cur.payload.append(part.substr(st.data_off, st.data_len));
                    progress = true;
                    break;
                case ChunkEvent::Trailers:
                    trailers.reset_trailers();
                    tstart = pos;
                    phase = Phase::Trailers;
                    progress = true;
                    break;
                case ChunkEvent::Done:
                    check(chunked.payload_length() == cur.payload.size());
                    finish(pos);
                    progress = true;
                    break;
                case ChunkEvent::Error:
                    cur.body_error = chunked.error();
                    check(cur.body_error != Http1Error::None);
                    check(chunked.http_status() == (s.kind == Http1Kind::Response ? 502 : 400));
                    cur.end = pos;
                    out.push_back(std::move(cur));
                    phase = Phase::Stop;
                    break;
                }
                break;
            }
            case Phase::Trailers: {
                if (avail == tstart)
                    break;
                const std::string buf(in.substr(tstart, avail - tstart));
                const Http1Status st = trailers.parse(buf);
                if (st == Http1Status::NeedMore)
                    break;
                cur.trailers = read_head(s, trailers, buf, true);
                if (st == Http1Status::Error) {
                    cur.end = tstart + trailers.error_offset();
                    out.push_back(std::move(cur));
                    phase = Phase::Stop;
                    break;
                }
                cur.raw.append(buf.substr(0, trailers.head().head_length));
                finish(tstart + trailers.head().head_length);
                progress = true;
                break;
            }
            case Phase::Stop: break;
            }
        }
    }
    if (phase != Phase::Stop && (phase != Phase::Head || start < in.size()))
        out.push_back(std::move(cur));  // the last message, incomplete (or until close)
    for (const Message& m : out)
        check(m.start <= in.size() && m.end <= in.size());
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    const uint8_t ctl = data[0];
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    Setup s;
    s.kind = (ctl & 1) ? Http1Kind::Response : Http1Kind::Request;
    const HttpMethod methods[] = {HttpMethod::Get, HttpMethod::Head, HttpMethod::Connect, HttpMethod::Post};
    s.request_method = methods[(ctl >> 1) & 3];
    if (ctl & 8) {  // small limits, so that the fuzzer reaches them
        s.opts.bufsize = 48 + ((ctl >> 4) & 3) * 16;
        s.opts.max_headers = 3;
        s.opts.max_chunk_ext = 8;
    }
    const size_t n = in.size();
    const size_t split = n == 0 ? 0 : (static_cast<size_t>(ctl) * 7919u + n) % (n + 1);

    const std::vector<Message> whole = parse_stream(s, in, {});
    check(parse_stream(s, in, {split}) == whole);
    check(parse_stream(s, in, {split / 2, split, split + (n - split) / 2}) == whole);
    if (n <= 256) {  // and 1-byte reads, for small inputs (quadratic)
        std::vector<size_t> bytes;
        for (size_t k = 0; k <= n; ++k)
            bytes.push_back(k);
        check(parse_stream(s, in, bytes) == whole);
    }
    return 0;
}
