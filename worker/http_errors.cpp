#include "worker/http_errors.h"

#include <map>

#include "common/rules.h"

namespace proxyd::worker {

namespace {
struct Page {
    int status;
    const char* reason;
    const char* text;
};
// HAProxy's built-in messages (same wording, so that clients and tests matching on them keep
// working), plus the statuses only proxyd's stricter parser produces.
constexpr Page kPages[] = {
    {200, "OK", "Service ready."},
    {400, "Bad request", "Your browser sent an invalid request."},
    {401, "Unauthorized", "You need a valid user and password to access this content."},
    {403, "Forbidden", "Request forbidden by administrative rules."},
    {404, "Not Found", "The resource could not be found."},
    {405, "Method Not Allowed", "A request was made of a resource using a request method not supported by that resource"},
    {407, "Unauthorized", "You need a valid user and password to access this content."},
    {408, "Request Time-out", "Your browser didn't send a complete request in time."},
    {410, "Gone", "The resource is no longer available and will not be available again."},
    {413, "Payload Too Large", "The request entity exceeds the maximum allowed."},
    {414, "URI Too Long", "The request line is longer than the server accepts."},
    {425, "Too Early", "Your browser sent early data."},
    {429, "Too Many Requests", "You have sent too many requests in a given amount of time."},
    {431, "Request Header Fields Too Large", "The request header fields are larger than the server accepts."},
    {500, "Internal Server Error", "An internal server error occurred."},
    {501, "Not Implemented", "The server does not support the functionality required to fulfill the request."},
    {502, "Bad Gateway", "The server returned an invalid or incomplete response."},
    {503, "Service Unavailable", "No server is available to handle this request."},
    {504, "Gateway Time-out", "The server didn't respond in time."},
    {505, "HTTP Version Not Supported", "The HTTP version of the request is not supported."},
};

const Page* find_page(int status) {
    for (const auto& p : kPages)
        if (p.status == status)
            return &p;
    return nullptr;
}

std::string build(int status) {
    const Page* p = find_page(status);
    std::string reason = p ? p->reason : std::string(status_reason(status));
    std::string code = std::to_string(status);
    std::string body = "<html><body><h1>" + code + " " + reason + "</h1>\n" +
                       (p ? p->text : "The request could not be processed.") + "\n</body></html>\n";
    return "HTTP/1.1 " + code + " " + reason + "\r\ncontent-length: " + std::to_string(body.size()) +
           "\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n" + body;
}
}  // namespace

std::string_view status_reason(int status) noexcept {
    if (const Page* p = find_page(status))
        return p->reason;  // HAProxy's wording for the statuses it has pages for
    return common::http_reason(status);
}

std::string_view http_error_page(int status, const common::ProxyConf* be, const common::ProxyConf* fe) {
    for (const common::ProxyConf* p : {fe, be}) {
        if (!p)
            continue;
        auto it = p->errorfiles.find(status);
        if (it != p->errorfiles.end())
            return it->second;
    }
    // Built once per status, kept for the process's life.
    static std::map<int, std::string> cache;
    auto it = cache.find(status);
    if (it == cache.end())
        it = cache.emplace(status, build(status)).first;
    return it->second;
}

}  // namespace proxyd::worker
