// Fuzz target for condition expressions (.if/.elif, -cc): any bytes, never a crash, and the
// evaluator's promises: a one-line error with a position inside the input, or a value; the
// same answer for the same input; and a negation that is the opposite (when valid).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/cond_expr.h"

namespace {

void check(bool ok) {
    if (!ok)
        std::abort();
}

const proxyd::common::CondContext& context() {
    static const proxyd::common::CondContext c = [] {
        proxyd::common::CondContext x;
        x.env = [](const std::string& n) -> std::optional<std::string> {
            if (n == "SET")
                return std::string("yes");
            return std::nullopt;
        };
        x.features = "+EPOLL +OPENSSL -LUA";
        x.ssllib_name = "OpenSSL 3.0.11 19 Sep 2023";
        x.ssllib_version = "3.0.11";
        x.enabled = [](std::string_view o) { return proxyd::common::enabled_option(o, false); };
        return x;
    }();
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace proxyd::common;
    const std::string in(reinterpret_cast<const char*>(data), size);
    CondOutcome r = eval_condition(in, context());
    check(r.error.empty() || (r.error.find('\n') == std::string::npos && r.error_pos <= in.size()));
    CondOutcome again = eval_condition(in, context());
    check(again.error == r.error && again.value == r.value);
    if (r.error.empty() && !in.empty()) {
        CondOutcome neg = eval_condition("!(" + in + ")", context());
        // Deep nesting may be refused one level earlier; otherwise the opposite value.
        check(!neg.error.empty() || neg.value != r.value);
    }
    CondOutcome line = eval_condition_line(in, context());  // -cc: tokenized first
    check(line.error.find('\n') == std::string::npos || line.error.empty());
    return 0;
}
