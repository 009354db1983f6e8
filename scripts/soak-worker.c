// One process of a soak tree (scripts/soak.py): forks a child that appends a line to the file
// given and exits, waits for it, and again every 100 ms, until killed. In C rather than Python
// because a fork copies the parent's page tables: 200 Python workers forking 2,000 times a
// second took more than half of the machine's two cores from the clients the soak is about.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return 1;
    const struct timespec pause = {0, 100 * 1000 * 1000};
    for (;;) {
        pid_t child = fork();
        if (child == 0) {
            (void)!write(fd, "x\n", 2);
            _exit(0);
        }
        if (child > 0) waitpid(child, NULL, 0);
        nanosleep(&pause, NULL);
    }
}
