#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "master/pidfile.h"

using namespace proxyd::master;

namespace {
std::string slurp(const std::string& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}
struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/proxyd-test-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};
}  // namespace

TEST_CASE("pidfile is written atomically and removed only if ours", "[pidfile]") {
    TempDir d;
    std::string p = d.path + "/proxyd.pid";
    REQUIRE(write_pidfile(p, 4242));
    CHECK(slurp(p) == "4242\n");
    REQUIRE(write_pidfile(p, 4343));  // replaces
    CHECK(slurp(p) == "4343\n");
    remove_pidfile_if_ours(p, 4242);
    CHECK(::access(p.c_str(), F_OK) == 0);
    remove_pidfile_if_ours(p, 4343);
    CHECK(::access(p.c_str(), F_OK) != 0);
    // No temp file left behind.
    CHECK(std::system(("test -z \"$(ls -A '" + d.path + "')\"").c_str()) == 0);
}

TEST_CASE("a symlink at the pidfile path is never followed", "[pidfile]") {
    TempDir d;
    std::string target = d.path + "/target";
    std::string p = d.path + "/proxyd.pid";
    { std::ofstream(target) << "precious\n"; }
    REQUIRE(::symlink(target.c_str(), p.c_str()) == 0);
    REQUIRE(write_pidfile(p, 77));
    CHECK(slurp(target) == "precious\n");
    struct stat st{};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK(slurp(p) == "77\n");
}

TEST_CASE("pidfile in a missing directory fails cleanly", "[pidfile]") {
    auto r = write_pidfile("/nonexistent-dir-proxyd/x.pid", 1);
    CHECK_FALSE(r);
    CHECK(r.error().value == ENOENT);
}
