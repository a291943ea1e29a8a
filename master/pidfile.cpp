#include "master/pidfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/unique_fd.h"

namespace proxyd::master {

using common::Errno;
using common::last_errno;
using common::Result;
using common::UniqueFd;

Result<void> write_pidfile(const std::string& path, pid_t pid) {
    std::string dir = ".";
    if (auto slash = path.rfind('/'); slash != std::string::npos)
        dir = slash == 0 ? "/" : path.substr(0, slash);
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    ::unlink(tmp.c_str());  // a stale temp of ours from a crash; never followed (unlink)
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd.valid())
        return last_errno();
    std::string content = std::to_string(pid) + "\n";
    auto fail = [&]() {
        Errno e = last_errno();
        ::unlink(tmp.c_str());
        return e;
    };
    if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
        return fail();
    if (::fsync(fd.get()) < 0)
        return fail();
    fd.reset();
    // rename() replaces a symlink at `path` with our file, it does not write through it.
    if (::rename(tmp.c_str(), path.c_str()) < 0)
        return fail();
    UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d.valid())
        ::fsync(d.get());
    return {};
}

void remove_pidfile_if_ours(const std::string& path, pid_t pid) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid())
        return;
    char buf[32] = {};
    ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
    if (n > 0 && std::string(buf, static_cast<size_t>(n)) == std::to_string(pid) + "\n")
        ::unlink(path.c_str());
}

}  // namespace proxyd::master
