#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include <spawn.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <sys/uio.h>
#include "CLinuxSupport.h"

long clinux_statfs_type(const char *path) {
    struct statfs buffer;
    if (statfs(path, &buffer) != 0) return -1;
    return (long)buffer.f_type;
}

long clinux_fstatfs_type(int fd) {
    struct statfs buffer;
    if (fstatfs(fd, &buffer) != 0) return -1;
    return (long)buffer.f_type;
}

int clinux_reserve_append(int fd, long long length) {
    struct stat info;
    if (fstat(fd, &info) != 0) return -1;
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, info.st_size, length) == 0) return 0;
    return (errno == EOPNOTSUPP || errno == ENOSYS) ? 0 : -1;
}

const char *clinux_signal_abbreviation(int number) {
    return sigabbrev_np(number);
}

int clinux_pipe2(int fds[2], int flags) {
    return pipe2(fds, flags);
}

int clinux_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

// struct open_how and the RESOLVE_ flags of linux/openat2.h, spelled out so the build needs no
// kernel headers; the layout is the kernel's ABI.
struct clinux_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

int clinux_open_directory_beneath(int dirfd, const char *path) {
    struct clinux_open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    // RESOLVE_NO_XDEV 0x01, RESOLVE_NO_MAGICLINKS 0x02, RESOLVE_NO_SYMLINKS 0x04, RESOLVE_BENEATH 0x08
    how.resolve = 0x01 | 0x02 | 0x04 | 0x08;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int clinux_open_path_directory(const char *path) {
    return open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int clinux_pidfd_open(int pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

long clinux_process_madvise(int pidfd, const struct clinux_range *ranges, unsigned long count, int advice) {
    // struct clinux_range has struct iovec's layout (a pointer-sized base, a size_t length).
    _Static_assert(sizeof(struct clinux_range) == sizeof(struct iovec), "iovec layout");
    struct iovec vectors[1024];
    if (count > 1024) { errno = EINVAL; return -1; }
    for (unsigned long i = 0; i < count; i++) {
        vectors[i].iov_base = (void *)(uintptr_t)ranges[i].start;
        vectors[i].iov_len = ranges[i].length;
    }
    return syscall(SYS_process_madvise, pidfd, vectors, count, advice, 0);
}
