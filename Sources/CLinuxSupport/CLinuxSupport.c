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
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
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

int clinux_pidfd_getfd(int pidfd, int targetfd) {
    return (int)syscall(SYS_pidfd_getfd, pidfd, targetfd, 0);
}

int clinux_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int clinux_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC);
}

int clinux_epoll_add(int epfd, int fd, unsigned int events, unsigned long long key) {
    struct epoll_event event = { .events = events, .data = { .u64 = key } };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int clinux_epoll_delete(int epfd, int fd) {
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

int clinux_epoll_wait(int epfd, unsigned long long *keys, unsigned int *events, int capacity, int timeout) {
    struct epoll_event ready[64];
    if (capacity > 64) capacity = 64;
    int count;
    do {
        count = epoll_wait(epfd, ready, capacity, timeout);
    } while (count < 0 && errno == EINTR);
    for (int i = 0; i < count; i++) {
        keys[i] = ready[i].data.u64;
        events[i] = ready[i].events;
    }
    return count;
}

int clinux_socket_info(int fd, struct clinux_socket_info *info) {
    socklen_t length = sizeof info->family;
    memset(info, 0, sizeof *info);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &info->family, &length) != 0) return -1;
    length = sizeof info->type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &info->type, &length) != 0) return -1;
    length = sizeof info->protocol;
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &info->protocol, &length) != 0) return -1;
    length = sizeof info->listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &info->listening, &length) != 0) info->listening = 0;
    struct sockaddr_storage address;
    length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) == 0) {
        if (address.ss_family == AF_INET) info->port = ntohs(((struct sockaddr_in *)&address)->sin_port);
        if (address.ss_family == AF_INET6) info->port = ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
    }
    return 0;
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

// Weak: a program without the concurrency runtime leaves it NULL.
extern clinux_enqueue_hook swift_task_enqueueGlobal_hook __attribute__((weak));

int clinux_set_enqueue_global_hook(clinux_enqueue_hook hook) {
    if (&swift_task_enqueueGlobal_hook == NULL) return 0;
    clinux_enqueue_hook expected = NULL;
    return __atomic_compare_exchange_n(&swift_task_enqueueGlobal_hook, &expected, hook, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
