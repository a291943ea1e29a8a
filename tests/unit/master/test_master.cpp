#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <csignal>

#include "master/master.h"

using namespace proxyd::master;

TEST_CASE("respawn back-off grows and is capped", "[master]") {
    CHECK(respawn_delay(1).count() == 0);
    CHECK(respawn_delay(2).count() == 1000);
    CHECK(respawn_delay(3).count() == 2000);
    CHECK(respawn_delay(6).count() == 16000);
    CHECK(respawn_delay(7).count() == 30000);
    CHECK(respawn_delay(100).count() == 30000);
}

TEST_CASE("wait statuses are described as HAProxy does", "[master]") {
    // Build statuses the way the kernel encodes them.
    int exited3 = 3 << 8;
    int killed = SIGKILL;
    auto [c1, r1] = describe_wait_status(exited3);
    CHECK(c1 == 3);
    CHECK(r1 == "Exit");
    auto [c2, r2] = describe_wait_status(killed);
    CHECK(c2 == 137);
    CHECK(r2 == "Killed");
}
