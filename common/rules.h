#pragma once
// ACLs, conditions and HTTP rules of a proxy (acl, use_backend, http-request, http-response,
// redirect, option forwardfor): compiled at configuration time, evaluated per request.
// STUB: to be completed (see config_rules.cpp).
#include <memory>
#include <string>
#include <vector>

namespace proxyd::common {

struct ProxyRules {
};

}  // namespace proxyd::common
