#ifndef CDEVMESH_SHIMS_H
#define CDEVMESH_SHIMS_H

#include <spawn.h>

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec atomically, so a child spawned by another
/// thread never inherits a pipe end it should not hold (which would delay EOF on logs).
int cdevmesh_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addchdir_np, a GNU extension Swift's Glibc module does not expose.
int cdevmesh_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);



/// posix_spawn_file_actions_addclosefrom_np(actions, from): the child gets no descriptor at or
/// above `from` that devmesh inherited without close-on-exec (e.g. a test harness's monitoring
/// socket), so children never hold devmesh's own descriptors. Returns -1 where unsupported.
int cdevmesh_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/// Waits until `pid` has exited WITHOUT reaping it (waitid with WNOWAIT): the zombie keeps the
/// pid, and so the process group id, reserved until `cdevmesh_reap` — so devmesh can still
/// signal what the process left in its group without any risk of hitting a reused number.
/// On return 0, `*code` is the exit code (or -1) and `*signal` the killing signal (or 0).
int cdevmesh_wait_exit_keep_zombie(int pid, int *code, int *signal);

/// Reaps the zombie of `pid` (after `cdevmesh_wait_exit_keep_zombie`).
void cdevmesh_reap(int pid);

/// Lowers the calling thread's scheduling priority to `nice` (Linux: priorities are per thread).
int cdevmesh_set_thread_nice(int nice);

/// `idle` 1: moves the calling thread to SCHED_IDLE (it runs only when a core would otherwise
/// be idle); 0: back to SCHED_OTHER at `nice`. Linux; returns -1 when not possible.
int cdevmesh_set_thread_idle(int idle, int nice);

/// The git commit the binary was built from: install.sh passes -DDEVMESH_GIT_COMMIT="…";
/// other builds say "unknown".
const char *cdevmesh_build_commit(void);
#endif
