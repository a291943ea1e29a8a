#include "common/config_parse.h"

namespace proxyd::common {

bool rules_proxy_keyword(ProxyKw&, const Line&) { return false; }
std::span<const char* const> rules_proxy_keywords() { return {}; }
void rules_validate(Diagnostics&, std::span<ProxyConf* const>) {}

}  // namespace proxyd::common
