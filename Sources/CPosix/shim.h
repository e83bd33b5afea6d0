#pragma once
#include <spawn.h>

// GNU extensions of glibc (2.29+) that Swift's Glibc module hides without _GNU_SOURCE.
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *__restrict actions,
                                                const char *__restrict path);
extern int pipe2(int pipefd[2], int flags);
extern int syncfs(int fd);
extern int memfd_create(const char *name, unsigned int flags);

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>

// Grows a pipe to 1 MiB (F_SETPIPE_SZ, Linux's default ceiling for unprivileged processes), best effort: a
// 1080p frame then crosses in 8 writes instead of 127 and the two sides wake each other 16 times less,
// which halved the CPU a frame costs to hand over (bench/accounting.py). Returns the new size or -1.
static inline int farm_widen_pipe(int fd) {
    return fcntl(fd, 1031 /* F_SETPIPE_SZ */, 1 << 20);
}

#include <unistd.h>

// An anonymous shared file of `bytes` whose size is sealed: the process it is handed to can write into it but can
// neither shrink it (reading a truncated mapping raises SIGBUS in whoever reads it) nor grow it. -1 on failure.
static inline int farm_sealed_memory(long bytes) {
    int fd = memfd_create("farm-frames", 1U /* MFD_CLOEXEC */ | 2U /* MFD_ALLOW_SEALING */);
    if (fd < 0) return -1;
    if (ftruncate(fd, bytes) != 0
        || fcntl(fd, 1033 /* F_ADD_SEALS */, 0x0001 /* SEAL */ | 0x0002 /* SHRINK */ | 0x0004 /* GROW */) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}
#include <sys/types.h>

// Sends `length` bytes and `count` file descriptors (SCM_RIGHTS) in one
// message. CMSG_* are macros Swift cannot import.
static inline ssize_t farm_send_with_fds(int socket, const void *bytes, size_t length, const int *fds, int count) {
    struct iovec vector = { (void *)bytes, length };
    char control[CMSG_SPACE(sizeof(int) * 8)];
    memset(control, 0, sizeof control);
    if (count < 0 || count > 8) return -1;
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    if (count > 0) {
        message.msg_control = control;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * count);
        memcpy(CMSG_DATA(header), fds, sizeof(int) * count);
    }
    return sendmsg(socket, &message, MSG_NOSIGNAL);
}
