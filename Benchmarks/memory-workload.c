/* The deep pause's workload, for the tests (DeepPauseTests, MemoryTests) and the benchmark
 * (freezectl-bench's deep pause part): fills SIZE MiB of anonymous memory with a known pattern,
 * says it is ready, and when asked touches or checks every byte.
 *
 *   memory-workload SIZE_MIB DIR
 *
 * Creates DIR/ready once the memory is filled. Then, until killed:
 * - SIGUSR1: reads one byte of every page (what a woken workload does when it touches all its
 *   memory), then writes the time it finished (CLOCK_MONOTONIC, nanoseconds) and a newline to
 *   standard output. A SIGUSR1 sent while it is frozen is handled as soon as it is thawed.
 * - SIGUSR2: writes every page again with its own pattern (a workload that used its memory while
 *   it ran: its pages are dirty, not clean copies of what swap holds), then the same line.
 * - DIR/verify appearing: checks every byte, writes "ok" or "bad" to DIR/verified (once).
 * Built static (cc -static), so that it also runs in a busybox container. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t touch_requested, dirty_requested;

static void on_signal(int signal_number) {
    if (signal_number == SIGUSR1) touch_requested = 1;
    else dirty_requested = 1;
}

static unsigned char expected(size_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

/* DIR/NAME with `text`, whole when it appears: written under another name, then renamed. */
static void create(const char *dir, const char *name, const char *text) {
    char path[4096], temporary[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(temporary, sizeof temporary, "%s.partial", path);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) exit(3);
    if (text && write(fd, text, strlen(text)) < 0) exit(3);
    close(fd);
    if (rename(temporary, path) != 0) exit(3);
}

static void say_done(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    char line[64];
    int length = snprintf(line, sizeof line, "%lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    if (write(1, line, (size_t)length) < 0) exit(4);
}

static void touch_all(const unsigned char *data, size_t size) {
    volatile unsigned long sum = 0;
    for (size_t i = 0; i < size; i += 4096) sum += data[i];
    say_done();
}

static void dirty_all(unsigned char *data, size_t size) {
    for (size_t i = 0; i < size; i += 4096) ((volatile unsigned char *)data)[i] = expected(i);
    say_done();
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    size_t size = (size_t)strtoul(argv[1], NULL, 10) << 20;
    const char *dir = argv[2];
    /* SIGUSR1 and SIGUSR2 are blocked except while waiting in ppoll: none is missed between two checks. */
    sigset_t blocked, waiting;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    sigaddset(&blocked, SIGUSR2);
    sigprocmask(SIG_BLOCK, &blocked, &waiting);
    sigdelset(&waiting, SIGUSR1);
    sigdelset(&waiting, SIGUSR2);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGUSR1, &action, NULL);
    sigaction(SIGUSR2, &action, NULL);

    unsigned char *data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) return 3;
    for (size_t i = 0; i < size; i++) data[i] = expected(i);
    create(dir, "ready", NULL);
    char verify[4096];
    snprintf(verify, sizeof verify, "%s/verify", dir);
    int verified = 0;
    struct timespec interval = {0, 20 * 1000 * 1000};
    for (;;) {
        if (touch_requested) {
            touch_requested = 0;
            touch_all(data, size);
        }
        if (dirty_requested) {
            dirty_requested = 0;
            dirty_all(data, size);
        }
        if (!verified && access(verify, F_OK) == 0) {
            int ok = 1;
            for (size_t i = 0; i < size; i++) {
                if (data[i] != expected(i)) { ok = 0; break; }
            }
            create(dir, "verified", ok ? "ok" : "bad");
            verified = 1;
        }
        ppoll(NULL, 0, &interval, &waiting);
    }
}
