// The kernel floor as a process of its own: `bench-kernel-floor pause|unpause -q DIR` does what
// the harness's in-process floor does (CKernelFloor) and nothing else, so that the CLI figures can
// be set against the least any program started fresh pays (exec, loader, exit) on top of the
// kernel's freeze. freezectl-bench spawns it exactly as it spawns freezectl. scripts/bench.sh
// compiles it with cc beside the harness: a SwiftPM executable would carry the Swift runtime,
// whose start is part of what is measured against it.
#include "CKernelFloor.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[1], "pause") != 0 && strcmp(argv[1], "unpause") != 0)) {
        fprintf(stderr, "usage: bench-kernel-floor pause|unpause -q CGROUP-DIRECTORY\n");
        return 2;
    }
    int freeze = strcmp(argv[1], "pause") == 0;
    char state[4096], events[4096], control[4096];
    snprintf(state, sizeof state, "%s/freezer.state", argv[3]);
    snprintf(events, sizeof events, "%s/cgroup.events", argv[3]);
    snprintf(control, sizeof control, "%s/cgroup.freeze", argv[3]);
    int result = access(state, F_OK) == 0 ? (freeze ? kf_v1_freeze(state) : kf_v1_thaw(state))
                                          : kf_v2_set(control, events, freeze);
    if (result != 0) {
        fprintf(stderr, "bench-kernel-floor: %s %s: %s\n", argv[1], argv[3], strerror(-result));
        return 1;
    }
    return 0;
}
