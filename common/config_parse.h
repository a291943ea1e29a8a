#pragma once
// Internal to the configuration parser: what config.cpp hands to the keyword parsers that live
// in their own files (config_rules.cpp: ACLs and HTTP rules; config_log.cpp: logging).
#include <span>
#include <string>
#include <vector>

#include "common/config.h"

namespace proxyd::common {

struct Line {
    SourceLoc loc;
    std::vector<std::string> w;  // w[0] is the keyword
};

class Diagnostics {
public:
    virtual ~Diagnostics() = default;
    virtual void error(const SourceLoc& loc, std::string msg) = 0;
    virtual void warning(const SourceLoc& loc, std::string msg) = 0;
};

struct ProxyKw {
    Diagnostics& diag;
    ProxyConf& conf;
    bool is_defaults;
    const char* type;   // "frontend", "backend", "listen" or "defaults"
    bool check_paths;   // files named by keywords (-f FILE, errorfile) are read when true
};

// Each returns true when it recognised the keyword (and reported any error itself), false to
// let config.cpp go on. They are called before config.cpp's own proxy keywords.
bool rules_proxy_keyword(ProxyKw& k, const Line& l);                  // config_rules.cpp
bool log_proxy_keyword(ProxyKw& k, const Line& l);                    // config_log.cpp
bool log_global_keyword(Diagnostics& d, GlobalConf& g, const Line& l);  // config_log.cpp
// Keyword names for "did you mean" hints.
std::span<const char* const> rules_proxy_keywords();
std::span<const char* const> log_proxy_keywords();

// Called once every section is parsed (names of backends can be resolved).
void rules_validate(Diagnostics& d, std::span<ProxyConf* const> proxies);
void log_validate(Diagnostics& d, const GlobalConf& g, std::span<ProxyConf* const> proxies);

}  // namespace proxyd::common
