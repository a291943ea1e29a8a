#pragma once
// Master CLI text protocol pieces (pure, unit-tested, fuzzed): splitting a line into commands,
// '@' routing prefixes, levels, and the -S socket specification.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.h"

namespace proxyd::common {

enum class CliLevel : uint8_t { User = 0, Operator = 1, Admin = 2 };
const char* cli_level_name(CliLevel l);
std::optional<CliLevel> parse_cli_level(std::string_view s);

// Splits one input line into commands on unescaped ';'. A backslash escapes the next character
// (kept escaped in the output so the worker's own word splitting sees it). Empty commands
// (";;", trailing ';') are dropped; each command is trimmed.
std::vector<std::string> split_commands(std::string_view line);

// Splits a command into words on blanks; backslash escapes the next character.
std::vector<std::string> split_words(std::string_view cmd);

// Routing target of a command.
struct CliTarget {
    enum class Kind { Default, Master, Relative, Pid, All } kind = Kind::Default;
    uint32_t relative = 0;  // @N (N >= 1)
    pid_t pid = 0;          // @!PID
    bool operator==(const CliTarget&) const = default;
};

struct PrefixedCommand {
    CliTarget target;       // Default when there is no prefix
    std::string rest;       // the command without the prefix (may be empty: sticky switch)
    std::string prefix;     // the prefix as written, for error messages
    bool bad_prefix = false;
};
// "@", "@0", "@master" → Master; "@N" → Relative; "@!PID" → Pid; "@*" → All.
PrefixedCommand parse_prefix(std::string_view cmd);

// -S <addr>[,mode,OCTAL][,uid,N|user,NAME][,gid,N|group,NAME][,level,user|operator|admin]
// [,allow-remote]. Addresses: a path, unix@, abns@, ipv4@/ipv6@ (loopback only unless
// allow-remote), fd@N.
struct MasterSocketSpec {
    std::string text;
    SockAddr addr;
    std::optional<mode_t> mode;
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    CliLevel level = CliLevel::Admin;
};
std::optional<MasterSocketSpec> parse_master_socket_spec(std::string_view spec, std::string* err);

}  // namespace proxyd::common
