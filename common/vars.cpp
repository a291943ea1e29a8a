#include "common/vars.h"

#include <algorithm>

namespace proxyd::common {

namespace {

struct ScopeName {
    const char* prefix;
    VarScope scope;
};
constexpr ScopeName kScopes[] = {
    {"proc.", VarScope::Proc}, {"sess.", VarScope::Sess}, {"txn.", VarScope::Txn},
    {"req.", VarScope::Req},   {"res.", VarScope::Res},
};

struct CondName {
    const char* name;
    unsigned flag;
};
constexpr CondName kConds[] = {
    {"ifexists", VarIfExists}, {"ifnotexists", VarIfNotExists}, {"ifempty", VarIfEmpty},
    {"ifnotempty", VarIfNotEmpty}, {"ifset", VarIfSet}, {"ifnotset", VarIfNotSet},
    {"ifgt", VarIfGt}, {"iflt", VarIfLt},
};

using T = SampleValue::Type;

}  // namespace

bool parse_var_name(std::string_view text, VarName* out, std::string* err) {
    if (text.empty()) {
        *err = "empty variable name";
        return false;
    }
    for (const auto& s : kScopes) {
        std::string_view p(s.prefix);
        if (text.size() <= p.size() || text.substr(0, p.size()) != p)
            continue;
        std::string_view name = text.substr(p.size());
        for (char c : name) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '.';
            if (!ok) {
                *err = "invalid character '" + std::string(1, c) + "' in variable name '" + std::string(text) +
                       "' (expects a-z, A-Z, 0-9, '_' and '.')";
                return false;
            }
        }
        out->scope = s.scope;
        out->name = std::string(name);
        out->text = std::string(text);
        return true;
    }
    if (text.rfind("check.", 0) == 0) {
        *err = "variable '" + std::string(text) + "': scope 'check' is not supported yet";
        return false;
    }
    *err = "invalid variable name '" + std::string(text) +
           "': a variable name starts with its scope, 'proc.', 'sess.', 'txn.', 'req.' or 'res.'";
    return false;
}

bool parse_var_cond(std::string_view word, unsigned* flags, std::string* err) {
    for (const auto& c : kConds) {
        if (word == c.name) {
            *flags |= c.flag;
            return true;
        }
    }
    *err = "unknown condition '" + std::string(word) +
           "' (expects ifexists, ifnotexists, ifempty, ifnotempty, ifset, ifnotset, ifgt or iflt)";
    return false;
}

// ---------------------------------------------------------------------------------------------
// VarSet, VarStore

const VarValue* VarSet::find(std::string_view name) const noexcept {
    for (const auto& [n, v] : vars_)
        if (n == name)
            return &v;
    return nullptr;
}

VarValue* VarSet::find(std::string_view name) noexcept {
    for (auto& [n, v] : vars_)
        if (n == name)
            return &v;
    return nullptr;
}

VarValue& VarSet::get_or_create(std::string_view name) {
    if (VarValue* v = find(name))
        return *v;
    vars_.emplace_back(std::string(name), VarValue{});
    return vars_.back().second;
}

void VarSet::erase(std::string_view name) noexcept {
    auto it = std::find_if(vars_.begin(), vars_.end(), [&](const auto& p) { return p.first == name; });
    if (it != vars_.end())
        vars_.erase(it);
}

void VarStore::begin_request() noexcept {
    txn.clear();
    reqres_.clear();
    response_ = false;
}

void VarStore::begin_response() noexcept {
    if (response_)
        return;
    reqres_.clear();
    response_ = true;
}

VarSet* VarStore::scope(VarScope s) noexcept {
    switch (s) {
    case VarScope::Proc: return proc;
    case VarScope::Sess: return &sess;
    case VarScope::Txn: return &txn;
    case VarScope::Req: return response_ ? nullptr : &reqres_;
    case VarScope::Res: return response_ ? &reqres_ : nullptr;
    }
    return nullptr;
}

const VarSet* VarStore::scope(VarScope s) const noexcept { return const_cast<VarStore*>(this)->scope(s); }

// ---------------------------------------------------------------------------------------------
// Access

bool var_set(VarStore* vs, const VarName& n, const SampleValue& v, unsigned conds) {
    if (!vs || v.type == T::None)
        return false;
    VarSet* set = vs->scope(n.scope);
    if (!set)
        return false;
    VarValue* cur = set->find(n.name);
    // proc. variables exist from the configuration on, as HAProxy declares them when parsing.
    bool exists = cur || n.scope == VarScope::Proc;
    if ((conds & VarIfExists) && !exists)
        return false;
    if ((conds & VarIfNotExists) && exists)
        return false;
    bool is_set = cur && cur->type != T::None;
    if ((conds & VarIfSet) && !is_set)
        return false;
    if ((conds & VarIfNotSet) && is_set)
        return false;
    bool is_str = v.type == T::Str;
    if ((conds & VarIfEmpty) && !(is_str && v.str.empty()))
        return false;  // scalars are never empty
    if ((conds & VarIfNotEmpty) && is_str && v.str.empty())
        return false;
    if ((conds & (VarIfGt | VarIfLt)) && is_set && cur->type == T::Int && v.type == T::Int) {
        if ((conds & VarIfGt) && !(cur->i > v.i))
            return false;
        if ((conds & VarIfLt) && !(cur->i < v.i))
            return false;
    }
    VarValue& dst = cur ? *cur : set->get_or_create(n.name);
    dst.type = v.type;
    switch (v.type) {
    case T::Str:
        // `v.str` may view dst.str itself (set-var(txn.a) var(txn.a)): assign copes with aliasing.
        dst.str.assign(v.str.data(), v.str.size());
        break;
    case T::Int:
    case T::Bool:
        dst.i = v.i;
        dst.str.clear();
        break;
    case T::Ip:
        dst.ip = v.ip;
        dst.str.clear();
        break;
    case T::None: break;
    }
    return true;
}

bool var_unset(VarStore* vs, const VarName& n) noexcept {
    VarSet* set = vs ? vs->scope(n.scope) : nullptr;
    if (!set)
        return false;
    if (n.scope != VarScope::Proc) {
        set->erase(n.name);
    } else if (VarValue* v = set->find(n.name)) {
        v->type = T::None;
        v->str.clear();
    }
    return true;
}

bool var_get(const VarStore* vs, const VarName& n, SampleValue* out) {
    if (!vs)
        return false;
    const VarSet* set = vs->scope(n.scope);
    const VarValue* v = set ? set->find(n.name) : nullptr;
    if (!v || v->type == T::None)
        return false;
    out->type = v->type;
    switch (v->type) {
    case T::Str:
        out->own.assign(v->str);
        out->str = out->own;
        break;
    case T::Int:
    case T::Bool: out->i = v->i; break;
    case T::Ip: out->ip = v->ip; break;
    case T::None: break;
    }
    return true;
}

}  // namespace proxyd::common
