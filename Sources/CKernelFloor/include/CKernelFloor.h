#ifndef CKERNELFLOOR_H
#define CKERNELFLOOR_H

#include <sys/types.h>

// The kernel floor of the benchmarks: the least a program can do to freeze or thaw a cgroup and
// know that the kernel finished. No validation, no state read first, no allocation.
// Each returns 0 or -errno.

// cgroup v1: write FROZEN to freezer.state, then read it until it says FROZEN. v1 has no
// completion notification, so reading back is the cheapest correct wait.
int kf_v1_freeze(const char *state_path);
// cgroup v1: write THAWED; the kernel thaws synchronously.
int kf_v1_thaw(const char *state_path);
// cgroup v2: write 1 (or 0) to cgroup.freeze, then read cgroup.events, sleeping in poll(POLLPRI)
// until its `frozen` key says 1 (or 0).
int kf_v2_set(const char *freeze_path, const char *events_path, int frozen);

// Forks `count` children that sleep in pause() until killed (and die with the caller), and
// writes each PID to every cgroup.procs file in `procs_paths`. Fills `pids`; returns how many
// were started, or -errno when none could be.
int kf_spawn_sleepers(int count, const char *const *procs_paths, int path_count, pid_t *pids);

#endif
