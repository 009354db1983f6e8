/* The deep pause's test workload (MemoryTests): fills SIZE MiB of anonymous memory with a known
 * pattern, says it is ready, and when asked checks every byte.
 *
 *   memory-workload SIZE_MIB DIR
 *
 * Creates DIR/ready once the memory is filled; then waits for DIR/verify, checks every byte
 * and writes "ok" or "bad" to DIR/verified; then sleeps until killed. Built static by the tests
 * (cc -static), so that it also runs in a busybox container. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned char expected(size_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

static void touch(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) exit(3);
    if (text && write(fd, text, strlen(text)) < 0) exit(3);
    close(fd);
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    size_t size = (size_t)strtoul(argv[1], NULL, 10) << 20;
    const char *dir = argv[2];
    unsigned char *data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) return 3;
    for (size_t i = 0; i < size; i++) data[i] = expected(i);
    touch(dir, "ready", NULL);
    char verify[4096];
    snprintf(verify, sizeof verify, "%s/verify", dir);
    while (access(verify, F_OK) != 0) usleep(20000);
    int ok = 1;
    for (size_t i = 0; i < size; i++) {
        if (data[i] != expected(i)) { ok = 0; break; }
    }
    touch(dir, "verified", ok ? "ok" : "bad");
    for (;;) pause();
}
