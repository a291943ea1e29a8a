// Fuzz target: the control-protocol decoder and the configuration bundle decoder, which read
// what a (possibly compromised) worker or a memfd hands over.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/config.h"
#include "common/control.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string err;
    auto span = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size);
    if (auto m = proxyd::common::decode_message(span, &err)) {
        auto again = proxyd::common::encode_message(*m);
        if (!again || again->size() != size)
            __builtin_trap();  // decode accepted what encode cannot reproduce
    }
    (void)proxyd::common::decode_config_bundle(std::string_view(reinterpret_cast<const char*>(data), size), &err);
    return 0;
}
