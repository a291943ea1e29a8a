#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "common/config.h"
#include "common/control.h"

using namespace proxyd::common;

namespace {
std::vector<std::byte> header(uint16_t type, uint16_t reserved, uint32_t len) {
    std::vector<std::byte> v(8);
    std::memcpy(v.data(), &type, 2);
    std::memcpy(v.data() + 2, &reserved, 2);
    std::memcpy(v.data() + 4, &len, 4);
    return v;
}
}  // namespace

TEST_CASE("control messages round-trip", "[control]") {
    std::vector<Message> msgs = {InitMsg{3, 2, 4, 7}, ListenersMsg{{"tcp4:127.0.0.1:80", "unix:/x"}, false},
                                 ReadyMsg{1234}, CliRequestMsg{9, 1, "show stat"}, CliReplyMsg{9, false, "a,b\n"}, FatalMsg{"cannot chroot to '/var/empty': No such file"},
                                 SoftStopMsg{}, HardStopMsg{}};
    for (auto& m : msgs) {
        auto enc = encode_message(m);
        REQUIRE(enc);
        std::string err;
        auto dec = decode_message(*enc, &err);
        REQUIRE(dec);
        CHECK(message_type(*dec) == message_type(m));
        CHECK(encode_message(*dec) == enc);
    }
}

TEST_CASE("every truncation of a valid message is rejected", "[control]") {
    auto enc = encode_message(ListenersMsg{{"tcp4:0.0.0.0:8080", "tcp6:[::]:8080/v6only"}, true});
    REQUIRE(enc);
    for (size_t n = 0; n < enc->size(); ++n) {
        std::string err;
        auto part = std::span<const std::byte>(enc->data(), n);
        CHECK_FALSE(decode_message(part, &err));
        CHECK_FALSE(err.empty());
    }
}

TEST_CASE("malformed messages are rejected with a reason", "[control]") {
    std::string err;
    SECTION("unknown type") {
        auto h = header(99, 0, 0);
        CHECK_FALSE(decode_message(h, &err));
        CHECK(err.find("unknown message type 99") != std::string::npos);
    }
    SECTION("reserved field set") {
        auto h = header(3, 1, 4);
        h.resize(12);
        CHECK_FALSE(decode_message(h, &err));
    }
    SECTION("length mismatch") {
        auto h = header(3, 0, 100);
        h.resize(12);
        CHECK_FALSE(decode_message(h, &err));
        CHECK(err.find("does not match") != std::string::npos);
    }
    SECTION("trailing bytes") {
        auto h = header(5, 0, 1);
        h.push_back(std::byte{0});
        CHECK_FALSE(decode_message(h, &err));
    }
    SECTION("ready with pid 0") {
        auto h = header(3, 0, 4);
        h.resize(12);
        CHECK_FALSE(decode_message(h, &err));
    }
    SECTION("string length beyond the payload") {
        auto h = header(4, 0, 4);
        uint32_t huge = 0xffffffff;
        h.resize(12);
        std::memcpy(h.data() + 8, &huge, 4);
        CHECK_FALSE(decode_message(h, &err));
    }
    SECTION("listener count over the limit") {
        auto h = header(2, 0, 8);
        uint32_t last = 1, n = 100000;
        h.resize(16);
        std::memcpy(h.data() + 8, &last, 4);
        std::memcpy(h.data() + 12, &n, 4);
        CHECK_FALSE(decode_message(h, &err));
    }
    SECTION("oversized") {
        std::vector<std::byte> big(kControlMaxMessage + 1);
        CHECK_FALSE(decode_message(big, &err));
        CHECK(err.find("oversized") != std::string::npos);
    }
}

TEST_CASE("encode refuses what the receiver would refuse", "[control]") {
    ListenersMsg lm;
    lm.keys.assign(kControlMaxFds + 1, "k");
    CHECK_FALSE(encode_message(lm));
    CHECK_FALSE(encode_message(FatalMsg{std::string(100000, 'x')}) == std::nullopt);  // truncated, not refused
}

TEST_CASE("fds travel with messages over a real socketpair", "[control]") {
    auto sp = control_socketpair();
    REQUIRE(sp);
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    int fds[2] = {p[0], p[1]};
    REQUIRE(send_message(sp->first.get(), ListenersMsg{{"a", "b"}, true}, fds));
    ::close(p[0]);
    ::close(p[1]);
    auto r = recv_message(sp->second.get());
    REQUIRE(r.kind == RecvOutcome::Kind::Message);
    REQUIRE(r.message->fds.size() == 2);
    for (auto& fd : r.message->fds)
        CHECK((::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
    REQUIRE(::write(r.message->fds[1].get(), "hi", 2) == 2);
    char buf[2];
    REQUIRE(::read(r.message->fds[0].get(), buf, 2) == 2);
    CHECK(std::memcmp(buf, "hi", 2) == 0);

    SECTION("wrong fd count is a protocol error and the fds are closed") {
        int p2[2];
        REQUIRE(::pipe2(p2, O_CLOEXEC) == 0);
        // A Ready message must carry no fd: send one anyway at the raw level.
        auto enc = encode_message(ReadyMsg{42});
        iovec iov{enc->data(), enc->size()};
        alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
        msghdr mh{};
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof cbuf;
        cmsghdr* c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &p2[1], sizeof(int));
        REQUIRE(::sendmsg(sp->first.get(), &mh, 0) > 0);
        ::close(p2[1]);
        auto r2 = recv_message(sp->second.get());
        CHECK(r2.kind == RecvOutcome::Kind::ProtocolError);
        // Every copy of the write end is closed now, so the read end sees EOF.
        char b;
        CHECK(::read(p2[0], &b, 1) == 0);
        ::close(p2[0]);
    }
    SECTION("oversized datagram") {
        std::vector<char> big(kControlMaxMessage + 100, 'x');
        REQUIRE(::send(sp->first.get(), big.data(), big.size(), 0) > 0);
        auto r2 = recv_message(sp->second.get());
        CHECK(r2.kind == RecvOutcome::Kind::ProtocolError);
        CHECK(r2.error == "oversized message");
    }
    SECTION("nothing pending, then end of stream") {
        CHECK(recv_message(sp->second.get()).kind == RecvOutcome::Kind::WouldBlock);
        sp->first.reset();
        CHECK(recv_message(sp->second.get()).kind == RecvOutcome::Kind::Eof);
    }
}

TEST_CASE("configuration bundle", "[control]") {
    std::vector<ConfigSource> src = {{"a.cfg", "global\n  nbproc 2\n"}, {"dir/b.cfg", std::string("x\0y", 3)}};
    auto fd = write_config_bundle(src);
    REQUIRE(fd);
    // Sealed: cannot be written or grown.
    CHECK(::write(fd->get(), "z", 1) < 0);
    std::string err;
    auto back = read_config_bundle(fd->get(), &err);
    REQUIRE(back);
    REQUIRE(back->size() == 2);
    CHECK((*back)[1].name == "dir/b.cfg");
    CHECK((*back)[1].text == std::string("x\0y", 3));
    std::string enc = encode_config_bundle(src);
    for (size_t n = 0; n < enc.size(); ++n)
        CHECK_FALSE(decode_config_bundle(std::string_view(enc).substr(0, n), &err));
    CHECK_FALSE(decode_config_bundle(enc + "x", &err));
}
