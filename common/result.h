#pragma once
// Result<T>: a T or an Errno, shaped like std::expected (absent from GCC 12 in C++20 mode).
// Syscall edges return it; callers that handle the error log it.
#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace proxyd::common {

struct Errno {
    int value = 0;
    // strerror text, e.g. "No such file or directory".
    std::string message() const;
};

inline Errno last_errno() noexcept { return Errno{errno}; }

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T v) : v_(std::in_place_index<0>, std::move(v)) {}
    Result(Errno e) : v_(std::in_place_index<1>, e) {}
    explicit operator bool() const noexcept { return v_.index() == 0; }
    bool has_value() const noexcept { return v_.index() == 0; }
    T& value() & { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const T& value() const& { return std::get<0>(v_); }
    T& operator*() & { return value(); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    Errno error() const { return std::get<1>(v_); }

private:
    std::variant<T, Errno> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Errno e) : err_(e.value), ok_(false) {}
    explicit operator bool() const noexcept { return ok_; }
    bool has_value() const noexcept { return ok_; }
    Errno error() const { return Errno{err_}; }

private:
    int err_ = 0;
    bool ok_ = true;
};

}  // namespace proxyd::common
