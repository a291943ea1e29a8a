#pragma once
// The master <-> worker control protocol: typed messages over a SOCK_SEQPACKET socketpair,
// file descriptors attached as SCM_RIGHTS. One datagram = one message:
//   u16 type | u16 reserved (0) | u32 payload length | payload
// Integers are little-endian; strings are u32 length + bytes. A message from a worker is
// untrusted input: decode() validates everything and never asserts.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace proxyd::common {

inline constexpr size_t kControlHeaderSize = 8;
inline constexpr size_t kControlMaxMessage = 64 * 1024;  // header + payload
inline constexpr size_t kControlMaxFds = 250;             // per message (musl refuses 253)

enum class MsgType : uint16_t {
    Init = 1,       // master -> worker; fds: the configuration bundle, the generation's shared state (memfds)
    Listeners = 2,  // master -> worker; fds: listening sockets, in keys order
    Ready = 3,      // worker -> master
    Fatal = 4,      // worker -> master: startup failed, message says where and why
    SoftStop = 5,   // master -> worker: stop accepting, drain, exit
    HardStop = 6,   // master -> worker: close everything, exit now
    CliRequest = 7, // master -> worker: run one CLI command at a level
    CliReply = 8,   // worker -> master: (part of) the reply to a CliRequest
};

struct InitMsg {
    uint32_t generation = 0;
    uint32_t index = 0;         // 1-based worker number within the generation
    uint32_t worker_count = 0;
    uint32_t reloads = 0;       // master's reload counter (for show info / logs)
};
struct ListenersMsg {
    std::vector<std::string> keys;  // BindConf::key() of each fd
    bool last = true;               // more Listeners messages follow when false
};
struct ReadyMsg {
    uint32_t pid = 0;
};
struct FatalMsg {
    std::string message;
};
struct SoftStopMsg {};
struct HardStopMsg {};
inline constexpr size_t kCliMaxCommand = 16 * 1024;
inline constexpr size_t kCliMaxChunk = 60 * 1024;
struct CliRequestMsg {
    uint32_t id = 0;      // 0: no reply wanted (state replayed into a new generation)
    uint8_t level = 0;    // CliLevel of the session
    std::string command;  // one command, without '@' prefix
};
struct CliReplyMsg {
    uint32_t id = 0;
    bool last = true;     // the reply continues in further messages when false
    std::string text;     // at most kCliMaxChunk bytes
};

using Message = std::variant<InitMsg, ListenersMsg, ReadyMsg, FatalMsg, SoftStopMsg, HardStopMsg, CliRequestMsg,
                             CliReplyMsg>;

MsgType message_type(const Message& m);
// Number of fds that must travel with a message of this content.
size_t expected_fds(const Message& m);

// Encodes a message. Fails (nullopt) only if it would exceed kControlMaxMessage.
std::optional<std::vector<std::byte>> encode_message(const Message& m);
// Decodes one datagram. On failure returns nullopt and sets *err.
std::optional<Message> decode_message(std::span<const std::byte> data, std::string* err);

// Sends one message with its fds (blocking semantics of the socket apply).
Result<void> send_message(int sock, const Message& m, std::span<const int> fds = {});

struct ReceivedMessage {
    Message msg;
    std::vector<UniqueFd> fds;
};
// Outcome of one receive: a message, end of stream, nothing yet (EAGAIN), or a protocol
// error (truncated/oversized datagram, wrong fd count, malformed payload).
struct RecvOutcome {
    enum class Kind { Message, Eof, WouldBlock, ProtocolError, SysError } kind = Kind::Eof;
    std::optional<ReceivedMessage> message;
    std::string error;
    Errno sys{};
};
RecvOutcome recv_message(int sock);

// Creates the SOCK_SEQPACKET pair (both ends CLOEXEC).
Result<std::pair<UniqueFd, UniqueFd>> control_socketpair();

// The configuration bundle: the sources, serialised into a sealed memfd for the worker.
struct ConfigSource;
Result<UniqueFd> write_config_bundle(std::span<const ConfigSource> sources);
std::optional<std::vector<ConfigSource>> read_config_bundle(int fd, std::string* err);
// Pure codec for the bundle bytes (for tests and fuzzing).
std::string encode_config_bundle(std::span<const ConfigSource> sources);
std::optional<std::vector<ConfigSource>> decode_config_bundle(std::string_view data, std::string* err);

}  // namespace proxyd::common
