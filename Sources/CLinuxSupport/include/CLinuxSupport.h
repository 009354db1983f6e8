// Linux calls that Swift's Glibc module does not export (sys/vfs.h, pipe2).
#ifndef CLINUXSUPPORT_H
#define CLINUXSUPPORT_H

#include <sys/vfs.h>
#include <spawn.h>

/// statfs(2) f_type of the filesystem holding `path`, or -1 with errno set.
long clinux_statfs_type(const char *path);
/// fstatfs(2) f_type of the filesystem holding `fd`, or -1 with errno set.
long clinux_fstatfs_type(int fd);
/// posix_spawn_file_actions_addclosefrom_np(3) (glibc 2.34): the child gets no descriptor from `from` on.
int clinux_spawn_closefrom(posix_spawn_file_actions_t *actions, int from);
/// pipe2(2).
int clinux_pipe2(int fds[2], int flags);
/// Allocates `length` bytes past the end of `fd`'s file without changing its size
/// (fallocate(2) FALLOC_FL_KEEP_SIZE), so that an O_APPEND write of that length finds the space.
/// 0 when done or when the filesystem cannot (EOPNOTSUPP); -1 with errno set (ENOSPC).
int clinux_reserve_append(int fd, long long length);
/// openat2(2) of the directory `path` below `dirfd` with O_PATH, refusing any symlink, any `..`
/// that leaves `dirfd` and any mount crossed on the way (RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS,
/// RESOLVE_NO_MAGICLINKS, RESOLVE_NO_XDEV): the descriptor, or -1 with errno set (ENOSYS before
/// Linux 5.6, EXDEV, ELOOP, ENOENT, ENOTDIR, ...).
int clinux_open_directory_beneath(int dirfd, const char *path);
/// open(2) of the directory `path` with O_PATH, not following a symlink in its last component
/// (O_PATH is not visible to Swift without _GNU_SOURCE).
int clinux_open_path_directory(const char *path);
/// sigabbrev_np(3) (glibc 2.32): a signal's name without "SIG" ("KILL"), or NULL for none.
const char *clinux_signal_abbreviation(int number);

/// pidfd_open(2) (Linux 5.3): a descriptor that names process `pid` for as long as it is open
/// (a PID reused after it exited is another process), or -1 with errno set.
int clinux_pidfd_open(int pid);
/// One range of another process's memory for clinux_process_madvise.
struct clinux_range {
    unsigned long start;
    unsigned long length;
};
/// process_madvise(2) (Linux 5.10) of `count` ranges (at most 1024) of the process `pidfd`
/// names, with `advice` (CLINUX_MADV_PAGEOUT, CLINUX_MADV_WILLNEED): the bytes advised, or -1
/// with errno set (ESRCH: the process exited; EPERM: no CAP_SYS_NICE or ptrace access).
long clinux_process_madvise(int pidfd, const struct clinux_range *ranges, unsigned long count, int advice);
#define CLINUX_MADV_WILLNEED 3
#define CLINUX_MADV_PAGEOUT 21

/// pidfd_getfd(2) (Linux 5.6): a descriptor of ours (close-on-exec) for the open file the
/// process `pidfd` names holds at its descriptor `targetfd`, or -1 with errno set (EBADF: no such
/// descriptor; EPERM: no ptrace access; ESRCH: the process exited).
int clinux_pidfd_getfd(int pidfd, int targetfd);

/// epoll_create1(2) with EPOLL_CLOEXEC, or -1 with errno set.
int clinux_epoll_create(void);
/// eventfd(2) with EFD_CLOEXEC, or -1 with errno set.
int clinux_eventfd(void);
/// epoll_ctl(2) EPOLL_CTL_ADD of `fd` for `events`, with `key` given back by clinux_epoll_wait
/// (struct epoll_event is packed on x86-64, which Swift does not import faithfully).
int clinux_epoll_add(int epfd, int fd, unsigned int events, unsigned long long key);
/// epoll_ctl(2) EPOLL_CTL_DEL of `fd`.
int clinux_epoll_delete(int epfd, int fd);
/// epoll_wait(2) of at most `capacity` events into `keys` and `events`; the count, or -1 with
/// errno set (EINTR is retried).
int clinux_epoll_wait(int epfd, unsigned long long *keys, unsigned int *events, int capacity, int timeout);
#define CLINUX_EPOLLIN 0x001u
#define CLINUX_EPOLLERR 0x008u
#define CLINUX_EPOLLHUP 0x010u
#define CLINUX_EPOLLRDHUP 0x2000u

/// What a socket is: its family (AF_INET, AF_INET6, AF_UNIX, ...), type (SOCK_STREAM,
/// SOCK_DGRAM, ...), protocol (IPPROTO_TCP, IPPROTO_UDP, ...), whether it listens, and its local
/// port (IPv4 and IPv6; 0 otherwise).
struct clinux_socket_info {
    int family;
    int type;
    int protocol;
    int listening;
    int port;
};
/// Fills `info` for the socket `fd`: 0, or -1 with errno set (ENOTSOCK).
int clinux_socket_info(int fd, struct clinux_socket_info *info);

/// struct ucred (socket(7) SO_PEERCRED), which glibc declares only with _GNU_SOURCE.
struct clinux_ucred {
    int pid;
    unsigned int uid;
    unsigned int gid;
};

/// The supplementary groups of a unix socket's peer (socket(7) SO_PEERGROUPS), as many as fit.
/// getsockopt fails with ERANGE when the peer has more; slots past the peer's groups stay 0.
struct clinux_peergroups {
    unsigned int gids[256];
};

/// The Swift runtime's hook that enqueues a job on the global executor (swift_task_enqueueGlobal_hook,
/// swift/Runtime/Concurrency.h): the job, and the runtime's own enqueue to fall back on.
typedef void (*clinux_enqueue_original)(void *job);
typedef void (*clinux_enqueue_hook)(void *job, clinux_enqueue_original original);
/// Sets the hook when none is set: 1 when set, 0 when another is set or the runtime has none.
/// A statically linked runtime is not visible to dlsym (it is linked with --exclude-libs ALL), so
/// the hook is reached by the linker, from here.
int clinux_set_enqueue_global_hook(clinux_enqueue_hook hook);

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

#endif
