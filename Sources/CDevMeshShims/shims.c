#define _GNU_SOURCE
#include <sched.h>
#include <fcntl.h>
#include <unistd.h>
#include <spawn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include "CDevMeshShims.h"

int cdevmesh_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int cdevmesh_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
#if defined(__GLIBC__) && ((__GLIBC__ > 2) || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
    return posix_spawn_file_actions_addchdir_np(actions, path);
#else
    (void)actions; (void)path;
    return -1;
#endif
}

int cdevmesh_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
#if defined(__GLIBC__) && ((__GLIBC__ > 2) || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
#else
    (void)actions; (void)from;
    return -1;
#endif
}

int cdevmesh_wait_exit_keep_zombie(int pid, int *code, int *signal) {
    siginfo_t info;
    for (;;) {
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) == 0) break;
        if (errno != EINTR) return -1;
    }
    if (info.si_code == CLD_EXITED) {
        *code = info.si_status;
        *signal = 0;
    } else {
        *code = -1;
        *signal = info.si_status;
    }
    return 0;
}

void cdevmesh_reap(int pid) {
    int status;
    while (waitpid((pid_t)pid, &status, 0) == -1 && errno == EINTR) {}
}

int cdevmesh_set_thread_nice(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

int cdevmesh_set_thread_idle(int idle, int nice) {
    struct sched_param param = { .sched_priority = 0 };
    pid_t tid = (pid_t)syscall(SYS_gettid);
#ifdef SCHED_IDLE
    if (idle) return sched_setscheduler(tid, SCHED_IDLE, &param);
#else
    if (idle) return -1;
#endif
    if (sched_setscheduler(tid, SCHED_OTHER, &param) != 0) return -1;
    return setpriority(PRIO_PROCESS, (id_t)tid, nice);
}

#ifndef DEVMESH_GIT_COMMIT
#define DEVMESH_GIT_COMMIT "unknown"
#endif

const char *cdevmesh_build_commit(void) {
    return DEVMESH_GIT_COMMIT;
}
