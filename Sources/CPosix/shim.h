#pragma once
#include <spawn.h>

// GNU extensions of glibc (2.29+) that Swift's Glibc module hides without _GNU_SOURCE.
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *__restrict actions,
                                                const char *__restrict path);
extern int pipe2(int pipefd[2], int flags);
