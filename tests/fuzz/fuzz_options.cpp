// Fuzz target: the command-line parser (NUL-separated arguments).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "master/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string> args;
    std::string cur;
    for (size_t i = 0; i < size; ++i) {
        if (data[i] == 0) {
            args.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(static_cast<char>(data[i]));
        }
    }
    args.push_back(cur);
    (void)proxyd::master::parse_args(args);
    return 0;
}
