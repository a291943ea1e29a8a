// Fuzz target for the configuration parser: any bytes, one source, never a crash.
// Also checks the parser's own promises: a configuration exactly when there is no error,
// one-line diagnostics with a location, and a model whose references resolve.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/config.h"

namespace {

void check(bool ok) {
    if (!ok)
        std::abort();
}

void check_diags(const std::vector<proxyd::common::Diag>& diags) {
    for (const auto& d : diags) {
        check(!d.message.empty());
        check(d.message.find('\n') == std::string::npos);
        check(d.loc.file == "fuzz.cfg");
        check(d.loc.line >= 1);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace proxyd::common;
    const ConfigSource src{"fuzz.cfg", std::string(reinterpret_cast<const char*>(data), size)};
    const EnvLookup no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    ParseResult r = parse_config(std::span<const ConfigSource>(&src, 1), no_env, /*check_paths=*/false);

    check(r.config.has_value() == r.errors.empty());
    check_diags(r.errors);
    check_diags(r.warnings);
    if (!r.config)
        return 0;
    const Config& c = *r.config;
    check(c.worker_count() >= 1);
    for (const auto& p : c.proxies) {
        check(p.is_frontend || p.is_backend);
        if (p.is_frontend && !p.default_backend.empty()) {
            const ProxyConf* be = c.find_backend(p.default_backend);
            check(be != nullptr && be != &p && be->mode == p.mode);
        }
        for (const auto& b : p.binds)
            check(!b.key().empty() && !(b.v4v6 && b.v6only));
        for (const auto& s : p.servers)
            check(s.weight >= 0 && s.weight <= 256 && s.maxconn >= 0);
    }
    return 0;
}
