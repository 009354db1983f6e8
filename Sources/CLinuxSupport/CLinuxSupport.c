#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include <spawn.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
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
