#include "common/config_parse.h"

namespace proxyd::common {

bool log_proxy_keyword(ProxyKw&, const Line&) { return false; }
bool log_global_keyword(Diagnostics&, GlobalConf&, const Line&) { return false; }
std::span<const char* const> log_proxy_keywords() { return {}; }
void log_validate(Diagnostics&, const GlobalConf&, std::span<ProxyConf* const>) {}

}  // namespace proxyd::common
