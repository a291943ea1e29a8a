#include "common/http_head.h"

namespace proxyd::common {

bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i) {
        unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x >= 'A' && x <= 'Z')
            x = static_cast<unsigned char>(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = static_cast<unsigned char>(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

std::string_view HttpHead::store(std::string s) {
    if (arena_used_ < arena_.size()) {
        std::string& slot = arena_[arena_used_++];
        slot.assign(s);
        return slot;
    }
    arena_.push_back(std::move(s));
    ++arena_used_;
    return arena_.back();
}

void HttpHead::clear() {
    method = {};
    uri = {};
    status = 0;
    reason = {};
    version = 11;
    fields.clear();
    arena_used_ = 0;
    if (arena_.size() > 64)
        arena_.resize(64);
}

namespace {
// Offset where the path starts in an absolute-form target ("http://host/path"), or npos.
size_t path_start(std::string_view uri) {
    if (uri.empty() || uri[0] == '/')
        return 0;
    size_t scheme = uri.find("://");
    if (scheme == std::string_view::npos)
        return std::string_view::npos;
    size_t slash = uri.find_first_of("/?", scheme + 3);
    return slash == std::string_view::npos ? uri.size() : slash;
}
}  // namespace

std::string_view HttpHead::path() const {
    size_t start = path_start(uri);
    if (start == std::string_view::npos)
        return uri;  // '*' or authority-form
    std::string_view rest = uri.substr(start);
    size_t q = rest.find('?');
    std::string_view p = q == std::string_view::npos ? rest : rest.substr(0, q);
    if (p.empty())
        return "/";
    return p;
}

std::string_view HttpHead::query() const {
    size_t start = path_start(uri);
    if (start == std::string_view::npos)
        return {};
    size_t q = uri.find('?', start);
    return q == std::string_view::npos ? std::string_view{} : uri.substr(q + 1);
}

bool HttpHead::has_query() const {
    size_t start = path_start(uri);
    return start != std::string_view::npos && uri.find('?', start) != std::string_view::npos;
}

int HttpHead::find(std::string_view name, size_t from) const {
    for (size_t i = from; i < fields.size(); ++i)
        if (ascii_iequals(fields[i].name, name))
            return static_cast<int>(i);
    return -1;
}

size_t HttpHead::count(std::string_view name) const {
    size_t n = 0;
    for (const auto& f : fields)
        n += ascii_iequals(f.name, name);
    return n;
}

void HttpHead::add(std::string_view name, std::string_view value) {
    std::string_view n = store(std::string(name));
    std::string_view v = store(std::string(value));
    fields.push_back(HttpField{n, v});
}

void HttpHead::set(std::string_view name, std::string_view value) {
    // `name`/`value` may point into storage: copy before deleting anything.
    std::string n(name), v(value);
    del(n);
    add(n, v);
}

size_t HttpHead::del(std::string_view name) {
    size_t before = fields.size();
    std::erase_if(fields, [&](const HttpField& f) { return ascii_iequals(f.name, name); });
    return before - fields.size();
}

void HttpHead::set_uri(std::string_view u) { uri = store(std::string(u)); }
void HttpHead::set_method(std::string_view m) { method = store(std::string(m)); }

namespace {
void append_fields(const std::vector<HttpField>& fields, std::string* out, bool terminate) {
    for (const auto& f : fields) {
        out->append(f.name);
        out->append(": ");
        out->append(f.value);
        out->append("\r\n");
    }
    if (terminate)
        out->append("\r\n");
}
}  // namespace

void HttpHead::serialize_request(std::string* out, bool terminate) const {
    out->append(method);
    out->push_back(' ');
    out->append(uri);
    out->append(version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    append_fields(fields, out, terminate);
}

void HttpHead::serialize_response(std::string* out, bool terminate) const {
    out->append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    char code[4] = {static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                    static_cast<char>('0' + status % 10), 0};
    out->append(code, 3);
    out->push_back(' ');
    out->append(reason);
    out->append("\r\n");
    append_fields(fields, out, terminate);
}

}  // namespace proxyd::common
