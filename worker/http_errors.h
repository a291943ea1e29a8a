#pragma once
// The responses proxyd generates itself in mode http (HAProxy's pages: status line, short HTML
// body, "cache-control: no-cache", "content-type: text/html", "connection: close"), and
// `errorfile CODE FILE` replacements (sent byte for byte, as HAProxy does).
#include <string>
#include <string_view>

#include "common/config.h"

namespace proxyd::worker {

// Reason phrase HAProxy uses for a status ("Bad request", "Gateway Time-out", ...), or a generic
// one for codes it has no page for.
std::string_view status_reason(int status) noexcept;

// The whole response for `status`: the proxy's errorfile when it has one (fe first, then be),
// else the built-in page. Always ends the connection ("connection: close").
std::string_view http_error_page(int status, const common::ProxyConf* be, const common::ProxyConf* fe);

}  // namespace proxyd::worker
