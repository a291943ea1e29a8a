#pragma once
// Variables (HAProxy configuration.txt: "http-request set-var", fetch "var", converter
// "set-var"): named values set by rules and read back by samples, in five scopes.
//
//   proc.NAME  the worker process's (one VarSet shared by all its streams)
//   sess.NAME  the client connection's (every request of a keep-alive connection)
//   txn.NAME   one request/response exchange
//   req.NAME   only while the request is processed
//   res.NAME   only while the response is processed
//
// As in HAProxy, req. and res. share one store that is in either phase: entering the response
// phase drops the req. variables, and a req. variable is neither readable nor writable during
// the response (nor res. during the request): such accesses silently do nothing.
// Values are owned copies, so they outlive the message they were taken from.
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/sample.h"

namespace proxyd::common {

enum class VarScope : uint8_t { Proc, Sess, Txn, Req, Res };

// A variable name compiled at configuration time.
struct VarName {
    VarScope scope = VarScope::Txn;
    std::string name;  // after "SCOPE."
    std::string text;  // as written ("txn.foo"), for messages
};

// Parses "SCOPE.NAME" (NAME: a-z A-Z 0-9 '_' '.'). On error returns false and sets *err.
bool parse_var_name(std::string_view text, VarName* out, std::string* err);

// set-var conditions (HAProxy 2.6 VF_COND_*): all given must hold for the value to be stored.
enum VarCond : unsigned {
    VarIfExists = 1u << 0,     // the variable exists (proc. variables always do)
    VarIfNotExists = 1u << 1,
    VarIfEmpty = 1u << 2,      // the new value is an empty string (never true for int/bool/ip)
    VarIfNotEmpty = 1u << 3,
    VarIfSet = 1u << 4,        // the variable holds a value
    VarIfNotSet = 1u << 5,
    VarIfGt = 1u << 6,         // current int value > new int value (true unless both are ints)
    VarIfLt = 1u << 7,
};
// Adds the condition named `word` ("ifnotempty") to *flags; false with *err for unknown ones.
bool parse_var_cond(std::string_view word, unsigned* flags, std::string* err);

// One variable's value, owned. type None: the variable exists but holds nothing (a proc.
// variable after unset-var).
struct VarValue {
    SampleValue::Type type = SampleValue::Type::None;
    std::string str;       // Str
    int64_t i = 0;         // Int, Bool
    sockaddr_storage ip{}; // Ip
};

// The variables of one scope. Scopes hold a few variables at most: a flat vector searched
// linearly beats a hash map here.
class VarSet {
public:
    // The variable, or null when it does not exist.
    const VarValue* find(std::string_view name) const noexcept;
    VarValue* find(std::string_view name) noexcept;
    // The variable, created (type None) when missing.
    VarValue& get_or_create(std::string_view name);
    // Removes it (no-op when missing).
    void erase(std::string_view name) noexcept;
    void clear() noexcept { vars_.clear(); }
    bool empty() const noexcept { return vars_.empty(); }
    size_t size() const noexcept { return vars_.size(); }

private:
    std::vector<std::pair<std::string, VarValue>> vars_;
};

// The variables a stream sees. The worker keeps one per client connection (it owns sess.,
// txn. and the req./res. store) and points `proc` to its process-wide VarSet.
class VarStore {
public:
    VarSet* proc = nullptr;  // not owned; null: proc. variables are unavailable
    VarSet sess;             // lives as long as the client connection
    VarSet txn;              // cleared by begin_request()

    // A new request on the connection: clears txn. and req./res., enters the request phase.
    void begin_request() noexcept;
    // Enters the response phase (drops req. variables); idempotent. The response rules call it.
    void begin_response() noexcept;
    bool in_response() const noexcept { return response_; }

    // The set that holds scope `s` now, or null when it is unavailable (req. during the
    // response, res. during the request, proc. without a process set).
    VarSet* scope(VarScope s) noexcept;
    const VarSet* scope(VarScope s) const noexcept;

private:
    VarSet reqres_;
    bool response_ = false;
};

// Stores a copy of `v` (type None: nothing is stored) in variable `n` when every condition of
// `conds` (VarCond bits) holds; true when stored. A null store or an unavailable scope stores
// nothing. Allocates only for new variables or longer strings. `v` must not view a variable's
// own storage (values from var_get live in out->own, which is fine).
bool var_set(VarStore* vs, const VarName& n, const SampleValue& v, unsigned conds = 0);
// Removes variable `n` (a proc. variable stays, holding nothing). False when the store or the
// scope is unavailable.
bool var_unset(VarStore* vs, const VarName& n) noexcept;
// Copies the value of `n` into *out (strings into out->own, so the result survives later changes
// of the variable); false when it is missing, unset or its scope unavailable.
bool var_get(const VarStore* vs, const VarName& n, SampleValue* out);

}  // namespace proxyd::common
