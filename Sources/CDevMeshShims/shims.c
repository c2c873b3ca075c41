#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include <spawn.h>
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

#ifndef DEVMESH_GIT_COMMIT
#define DEVMESH_GIT_COMMIT "unknown"
#endif

const char *cdevmesh_build_commit(void) {
    return DEVMESH_GIT_COMMIT;
}
