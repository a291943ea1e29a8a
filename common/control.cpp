#include "common/control.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "common/config.h"

namespace proxyd::common {

namespace {

class Writer {
public:
    void u16(uint16_t v) { put(&v, 2); }
    void u32(uint32_t v) { put(&v, 4); }
    void str(const std::string& s) {
        u32(static_cast<uint32_t>(s.size()));
        put(s.data(), s.size());
    }
    std::vector<std::byte>& bytes() { return b_; }

private:
    void put(const void* p, size_t n) {
        // Host is little-endian on every platform proxyd targets (x86_64, aarch64).
        auto* c = static_cast<const std::byte*>(p);
        b_.insert(b_.end(), c, c + n);
    }
    std::vector<std::byte> b_;
};

class Reader {
public:
    explicit Reader(std::span<const std::byte> d) : d_(d) {}
    bool u16(uint16_t* v) { return get(v, 2); }
    bool u32(uint32_t* v) { return get(v, 4); }
    bool str(std::string* s, size_t max) {
        uint32_t n = 0;
        if (!u32(&n) || n > max || n > d_.size() - off_)
            return false;
        s->assign(reinterpret_cast<const char*>(d_.data() + off_), n);
        off_ += n;
        return true;
    }
    bool done() const { return off_ == d_.size(); }
    size_t left() const { return d_.size() - off_; }

private:
    bool get(void* p, size_t n) {
        if (d_.size() - off_ < n)
            return false;
        std::memcpy(p, d_.data() + off_, n);
        off_ += n;
        return true;
    }
    std::span<const std::byte> d_;
    size_t off_ = 0;
};

constexpr size_t kMaxKey = 512;
constexpr size_t kMaxFatal = 4096;

}  // namespace

MsgType message_type(const Message& m) {
    return std::visit(
        [](const auto& v) -> MsgType {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, InitMsg>) return MsgType::Init;
            else if constexpr (std::is_same_v<T, ListenersMsg>) return MsgType::Listeners;
            else if constexpr (std::is_same_v<T, ReadyMsg>) return MsgType::Ready;
            else if constexpr (std::is_same_v<T, FatalMsg>) return MsgType::Fatal;
            else if constexpr (std::is_same_v<T, SoftStopMsg>) return MsgType::SoftStop;
            else if constexpr (std::is_same_v<T, HardStopMsg>) return MsgType::HardStop;
            else if constexpr (std::is_same_v<T, CliRequestMsg>) return MsgType::CliRequest;
            else return MsgType::CliReply;
        },
        m);
}

size_t expected_fds(const Message& m) {
    if (std::holds_alternative<InitMsg>(m))
        return 2;  // configuration bundle, shared state
    if (auto* l = std::get_if<ListenersMsg>(&m))
        return l->keys.size();
    return 0;
}

std::optional<std::vector<std::byte>> encode_message(const Message& m) {
    Writer payload;
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, InitMsg>) {
                payload.u32(v.generation);
                payload.u32(v.index);
                payload.u32(v.worker_count);
                payload.u32(v.reloads);
            } else if constexpr (std::is_same_v<T, ListenersMsg>) {
                payload.u32(v.last ? 1 : 0);
                payload.u32(static_cast<uint32_t>(v.keys.size()));
                for (auto& k : v.keys)
                    payload.str(k);
            } else if constexpr (std::is_same_v<T, ReadyMsg>) {
                payload.u32(v.pid);
            } else if constexpr (std::is_same_v<T, FatalMsg>) {
                payload.str(v.message.size() > kMaxFatal ? v.message.substr(0, kMaxFatal) : v.message);
            } else if constexpr (std::is_same_v<T, CliRequestMsg>) {
                payload.u32(v.id);
                payload.u32(v.level);
                payload.str(v.command);
            } else if constexpr (std::is_same_v<T, CliReplyMsg>) {
                payload.u32(v.id);
                payload.u32(v.last ? 1 : 0);
                payload.str(v.text);
            }
        },
        m);
    if (auto* c = std::get_if<CliRequestMsg>(&m); c && (c->command.size() > kCliMaxCommand || c->level > 2))
        return std::nullopt;
    if (auto* c = std::get_if<CliReplyMsg>(&m); c && c->text.size() > kCliMaxChunk)
        return std::nullopt;
    if (auto* l = std::get_if<ListenersMsg>(&m)) {
        if (l->keys.size() > kControlMaxFds)
            return std::nullopt;
        for (auto& k : l->keys)
            if (k.size() > kMaxKey)
                return std::nullopt;
    }
    auto& p = payload.bytes();
    if (p.size() + kControlHeaderSize > kControlMaxMessage)
        return std::nullopt;
    Writer out;
    out.u16(static_cast<uint16_t>(message_type(m)));
    out.u16(0);
    out.u32(static_cast<uint32_t>(p.size()));
    auto bytes = std::move(out.bytes());
    bytes.insert(bytes.end(), p.begin(), p.end());
    return bytes;
}

std::optional<Message> decode_message(std::span<const std::byte> data, std::string* err) {
    if (data.size() < kControlHeaderSize) {
        *err = "truncated header (" + std::to_string(data.size()) + " bytes)";
        return std::nullopt;
    }
    if (data.size() > kControlMaxMessage) {
        *err = "oversized message (" + std::to_string(data.size()) + " bytes)";
        return std::nullopt;
    }
    Reader h(data.first(kControlHeaderSize));
    uint16_t type = 0, reserved = 0;
    uint32_t len = 0;
    (void)h.u16(&type);
    (void)h.u16(&reserved);
    (void)h.u32(&len);
    if (reserved != 0) {
        *err = "reserved header field is not zero";
        return std::nullopt;
    }
    if (len != data.size() - kControlHeaderSize) {
        *err = "payload length " + std::to_string(len) + " does not match datagram size " +
               std::to_string(data.size() - kControlHeaderSize);
        return std::nullopt;
    }
    Reader r(data.subspan(kControlHeaderSize));
    std::optional<Message> out;
    switch (static_cast<MsgType>(type)) {
    case MsgType::Init: {
        InitMsg m;
        if (r.u32(&m.generation) && r.u32(&m.index) && r.u32(&m.worker_count) && r.u32(&m.reloads))
            out = m;
        break;
    }
    case MsgType::Listeners: {
        ListenersMsg m;
        uint32_t last = 0, n = 0;
        if (!r.u32(&last) || last > 1 || !r.u32(&n) || n > kControlMaxFds)
            break;
        m.last = last == 1;
        bool ok = true;
        for (uint32_t i = 0; i < n && ok; ++i) {
            std::string k;
            ok = r.str(&k, kMaxKey) && !k.empty();
            m.keys.push_back(std::move(k));
        }
        if (ok)
            out = std::move(m);
        break;
    }
    case MsgType::Ready: {
        ReadyMsg m;
        if (r.u32(&m.pid) && m.pid > 0)
            out = m;
        break;
    }
    case MsgType::Fatal: {
        FatalMsg m;
        if (r.str(&m.message, kMaxFatal))
            out = std::move(m);
        break;
    }
    case MsgType::CliRequest: {
        CliRequestMsg m;
        uint32_t level = 0;
        if (r.u32(&m.id) && r.u32(&level) && level <= 2 && r.str(&m.command, kCliMaxCommand)) {
            m.level = static_cast<uint8_t>(level);
            out = std::move(m);
        }
        break;
    }
    case MsgType::CliReply: {
        CliReplyMsg m;
        uint32_t last = 0;
        if (r.u32(&m.id) && r.u32(&last) && last <= 1 && r.str(&m.text, kCliMaxChunk)) {
            m.last = last == 1;
            out = std::move(m);
        }
        break;
    }
    case MsgType::SoftStop: out = SoftStopMsg{}; break;
    case MsgType::HardStop: out = HardStopMsg{}; break;
    default:
        *err = "unknown message type " + std::to_string(type);
        return std::nullopt;
    }
    if (!out) {
        *err = "malformed payload for message type " + std::to_string(type);
        return std::nullopt;
    }
    if (!r.done()) {
        *err = std::to_string(r.left()) + " trailing bytes after message type " + std::to_string(type);
        return std::nullopt;
    }
    return out;
}

Result<void> send_message(int sock, const Message& m, std::span<const int> fds) {
    auto bytes = encode_message(m);
    if (!bytes || fds.size() > kControlMaxFds || fds.size() != expected_fds(m))
        return Errno{EMSGSIZE};
    iovec iov{bytes->data(), bytes->size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    std::vector<char> cbuf;
    if (!fds.empty()) {
        cbuf.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
        mh.msg_control = cbuf.data();
        mh.msg_controllen = cbuf.size();
        cmsghdr* c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        ssize_t n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n >= 0)
            return {};
        if (errno != EINTR)
            return last_errno();
    }
}

RecvOutcome recv_message(int sock) {
    RecvOutcome out;
    // One byte more than the largest valid message, so an oversized one is seen as such.
    std::vector<std::byte> buf(kControlMaxMessage + 1);
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kControlMaxFds)];
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    ssize_t n;
    do
        n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            out.kind = RecvOutcome::Kind::WouldBlock;
            return out;
        }
        out.kind = RecvOutcome::Kind::SysError;
        out.sys = last_errno();
        return out;
    }
    // Take ownership of every fd received before looking at anything else.
    std::vector<UniqueFd> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            fds.emplace_back(fd);
        }
    }
    if (n == 0 && fds.empty()) {
        out.kind = RecvOutcome::Kind::Eof;
        return out;
    }
    out.kind = RecvOutcome::Kind::ProtocolError;
    if (mh.msg_flags & MSG_TRUNC) {
        out.error = "oversized message";
        return out;
    }
    if (mh.msg_flags & MSG_CTRUNC) {
        out.error = "too many file descriptors attached";
        return out;
    }
    auto msg = decode_message(std::span<const std::byte>(buf.data(), static_cast<size_t>(n)), &out.error);
    if (!msg)
        return out;
    if (fds.size() != expected_fds(*msg)) {
        out.error = "message type " + std::to_string(static_cast<int>(message_type(*msg))) + " carries " +
                    std::to_string(fds.size()) + " file descriptors, expected " +
                    std::to_string(expected_fds(*msg));
        return out;
    }
    out.kind = RecvOutcome::Kind::Message;
    out.message = ReceivedMessage{std::move(*msg), std::move(fds)};
    return out;
}

Result<std::pair<UniqueFd, UniqueFd>> control_socketpair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return last_errno();
    return std::pair<UniqueFd, UniqueFd>{UniqueFd(sv[0]), UniqueFd(sv[1])};
}

std::string encode_config_bundle(std::span<const ConfigSource> sources) {
    std::string out = "PXCB";
    auto put32 = [&](uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
    put32(static_cast<uint32_t>(sources.size()));
    for (auto& s : sources) {
        put32(static_cast<uint32_t>(s.name.size()));
        out += s.name;
        put32(static_cast<uint32_t>(s.text.size()));
        out += s.text;
    }
    return out;
}

std::optional<std::vector<ConfigSource>> decode_config_bundle(std::string_view d, std::string* err) {
    size_t off = 0;
    auto get32 = [&](uint32_t* v) {
        if (d.size() - off < 4)
            return false;
        std::memcpy(v, d.data() + off, 4);
        off += 4;
        return true;
    };
    auto getstr = [&](std::string* s) {
        uint32_t n = 0;
        if (!get32(&n) || n > d.size() - off)
            return false;
        s->assign(d.data() + off, n);
        off += n;
        return true;
    };
    if (d.substr(0, 4) != "PXCB") {
        *err = "bad configuration bundle magic";
        return std::nullopt;
    }
    off = 4;
    uint32_t count = 0;
    if (!get32(&count) || count > 100000) {
        *err = "bad configuration bundle count";
        return std::nullopt;
    }
    std::vector<ConfigSource> out;
    for (uint32_t i = 0; i < count; ++i) {
        ConfigSource s;
        if (!getstr(&s.name) || !getstr(&s.text)) {
            *err = "truncated configuration bundle";
            return std::nullopt;
        }
        out.push_back(std::move(s));
    }
    if (off != d.size()) {
        *err = "trailing bytes in configuration bundle";
        return std::nullopt;
    }
    return out;
}

Result<UniqueFd> write_config_bundle(std::span<const ConfigSource> sources) {
    UniqueFd fd(::memfd_create("proxyd-config", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd.valid())
        return last_errno();
    std::string data = encode_config_bundle(sources);
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return last_errno();
        }
        off += static_cast<size_t>(n);
    }
    // Sealed: the worker (untrusted once it has dropped privileges) cannot alter what a
    // sibling worker will read.
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        return last_errno();
    return fd;
}

std::optional<std::vector<ConfigSource>> read_config_bundle(int fd, std::string* err) {
    struct stat st{};
    if (::fstat(fd, &st) < 0 || st.st_size < 0 || st.st_size > (64 << 20)) {
        *err = "cannot read configuration bundle";
        return std::nullopt;
    }
    std::string data(static_cast<size_t>(st.st_size), '\0');
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::pread(fd, data.data() + off, data.size() - off, static_cast<off_t>(off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *err = "short read on configuration bundle";
            return std::nullopt;
        }
        off += static_cast<size_t>(n);
    }
    return decode_config_bundle(data, err);
}

}  // namespace proxyd::common
