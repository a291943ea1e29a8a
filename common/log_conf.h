#pragma once
// Logging configuration: `log` targets (global and per proxy), log formats.
// STUB: to be completed (see config_log.cpp).
#include <memory>
#include <string>
#include <vector>

namespace proxyd::common {

struct GlobalLogConf {
};

struct ProxyLogConf {
};

}  // namespace proxyd::common
