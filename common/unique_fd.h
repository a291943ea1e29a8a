#pragma once
// UniqueFd: the single owner of a file descriptor. A borrowed fd is a plain int.
#include <utility>

namespace proxyd::common {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept { reset(o.release()); return *this; }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    // Closes the owned fd (EINTR from close is not retried: on Linux the fd is gone).
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

}  // namespace proxyd::common
