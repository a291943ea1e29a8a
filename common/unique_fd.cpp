#include "common/unique_fd.h"

#include <unistd.h>

namespace proxyd::common {

void UniqueFd::reset(int fd) noexcept {
    int old = std::exchange(fd_, fd);
    if (old >= 0)
        ::close(old);
}

}  // namespace proxyd::common
