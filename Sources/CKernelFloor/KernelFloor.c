#define _GNU_SOURCE
#include "CKernelFloor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_all(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int err = n < 0 ? -errno : 0;
    close(fd);
    return err;
}

int kf_v1_freeze(const char *state_path) {
    int fd = open(state_path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    int err = 0;
    if (write(fd, "FROZEN", 6) < 0) { err = -errno; goto out; }
    char buf[16];
    for (;;) {
        // Each read lets the kernel advance FREEZING to FROZEN once every task is frozen.
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n < 0) { err = -errno; break; }
        buf[n] = 0;
        if (strncmp(buf, "FROZEN", 6) == 0) break;
    }
out:
    close(fd);
    return err;
}

int kf_v1_thaw(const char *state_path) {
    return write_all(state_path, "THAWED");
}

int kf_v2_set(const char *freeze_path, const char *events_path, int frozen) {
    int events = open(events_path, O_RDONLY | O_CLOEXEC);
    if (events < 0) return -errno;
    int err = write_all(freeze_path, frozen ? "1" : "0");
    const char *want = frozen ? "frozen 1" : "frozen 0";
    char buf[256];
    while (err == 0) {
        ssize_t n = pread(events, buf, sizeof buf - 1, 0);
        if (n < 0) { err = -errno; break; }
        buf[n] = 0;
        if (strstr(buf, want)) break;
        struct pollfd p = { .fd = events, .events = POLLPRI };
        if (poll(&p, 1, -1) < 0 && errno != EINTR) { err = -errno; break; }
    }
    close(events);
    return err;
}

int kf_spawn_sleepers(int count, const char *const *procs_paths, int path_count, pid_t *pids) {
    int fds[8];
    if (path_count > 8) return -EINVAL;
    for (int i = 0; i < path_count; i++) {
        fds[i] = open(procs_paths[i], O_WRONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            int err = -errno;
            while (i-- > 0) close(fds[i]);
            return err;
        }
    }
    int started = 0;
    for (; started < count; started++) {
        pid_t pid = fork();
        if (pid < 0) break;
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            for (;;) pause();
        }
        pids[started] = pid;
        char text[16];
        int len = snprintf(text, sizeof text, "%d", (int)pid);
        for (int i = 0; i < path_count; i++) {
            if (write(fds[i], text, (size_t)len) < 0) {
                int err = -errno;
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                for (int j = 0; j < path_count; j++) close(fds[j]);
                return started > 0 ? started : err;
            }
        }
    }
    int err = started == 0 && count > 0 ? -errno : started;
    for (int i = 0; i < path_count; i++) close(fds[i]);
    return err;
}
