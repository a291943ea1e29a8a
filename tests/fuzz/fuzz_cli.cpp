// Fuzz target: master CLI input handling (command splitting, prefixes, words, -S specs).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/cli.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    for (auto& c : proxyd::common::split_commands(in)) {
        auto p = proxyd::common::parse_prefix(c);
        (void)proxyd::common::split_words(p.rest);
    }
    std::string err;
    (void)proxyd::common::parse_master_socket_spec(in, &err);
    return 0;
}
