// Standalone runner for fuzz targets when libFuzzer is not used: feeds every file of the
// corpus directories given as arguments, then deterministic mutations of each (every
// truncation, and seeded byte flips/insertions), so the test exercises more than the seeds.
#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {
void feed(const std::string& s) { LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }
}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> inputs;
    for (int i = 1; i < argc; ++i) {
        DIR* d = opendir(argv[i]);
        if (!d) {
            std::fprintf(stderr, "cannot open corpus '%s'\n", argv[i]);
            return 1;
        }
        while (dirent* e = readdir(d)) {
            if (e->d_name[0] == '.')
                continue;
            std::ifstream f(std::string(argv[i]) + "/" + e->d_name, std::ios::binary);
            std::stringstream ss;
            ss << f.rdbuf();
            inputs.push_back(ss.str());
        }
        closedir(d);
    }
    std::mt19937 rng(12345);
    size_t runs = 0;
    for (auto& in : inputs) {
        feed(in);
        for (size_t n = 0; n < in.size(); n += (in.size() / 64) + 1, ++runs)
            feed(in.substr(0, n));
        for (int k = 0; k < 300; ++k, ++runs) {
            std::string m = in;
            int edits = 1 + static_cast<int>(rng() % 4);
            for (int e = 0; e < edits && !m.empty(); ++e) {
                size_t pos = rng() % m.size();
                switch (rng() % 3) {
                case 0: m[pos] = static_cast<char>(rng() & 0xff); break;
                case 1: m.insert(pos, 1, "\"'\\#${}: \n\t"[rng() % 12]); break;
                default: m.erase(pos, 1 + rng() % 8); break;
                }
            }
            feed(m);
        }
    }
    std::printf("replayed %zu corpus inputs and %zu mutations\n", inputs.size(), runs);
    return inputs.empty() ? 1 : 0;
}
