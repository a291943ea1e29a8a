#pragma once
// An editable HTTP message head (start line + header fields), what ACLs, sample fetches,
// header rules and logs see. Built by the worker from a parsed head: the views point into the
// received bytes (which must stay put while the head is in use) or into storage owned by the
// head (store()), so unmodified fields are never copied. Re-serialised field by field when
// forwarded: proxyd always rewrites the framing headers itself.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd::common {

struct HttpField {
    std::string_view name;
    std::string_view value;
};

class HttpHead {
public:
    // Requests.
    std::string_view method;
    std::string_view uri;        // the request target as received (or rewritten)
    // Responses.
    int status = 0;
    std::string_view reason;
    // Both: 10 (HTTP/1.0) or 11 (HTTP/1.1).
    int version = 11;
    std::vector<HttpField> fields;

    // Keeps `s` alive until clear() and returns a view of it (stable address).
    std::string_view store(std::string s);
    // Drops the fields and stored strings (keeps capacity).
    void clear();

    // Path part of the URI (origin-form: up to '?'; absolute-form: after the authority, "/" if
    // empty; '*' and authority-form: the whole target).
    std::string_view path() const;
    // Query string without the '?' ("" when none).
    std::string_view query() const;
    bool has_query() const;

    // Index of the first field at or after `from` named `name` (ASCII case-insensitive), or -1.
    int find(std::string_view name, size_t from = 0) const;
    // Number of fields named `name`.
    size_t count(std::string_view name) const;
    // Appends a field (copies name and value into storage).
    void add(std::string_view name, std::string_view value);
    // Removes every field named `name`, then appends one.
    void set(std::string_view name, std::string_view value);
    // Removes every field named `name`; returns how many.
    size_t del(std::string_view name);
    // Replaces the request target (copied into storage).
    void set_uri(std::string_view uri);
    void set_method(std::string_view m);

    // Appends "METHOD URI HTTP/1.x\r\n" (or the status line) and every field as "name: value\r\n",
    // then "\r\n" unless `terminate` is false (the caller adds framing fields first).
    void serialize_request(std::string* out, bool terminate = true) const;
    void serialize_response(std::string* out, bool terminate = true) const;

private:
    std::deque<std::string> arena_;
    size_t arena_used_ = 0;  // arena_ entries in use (the rest are kept for their capacity)
};

bool ascii_iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace proxyd::common
