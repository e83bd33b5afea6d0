#pragma once
#include <zmq.h>
#include <sys/eventfd.h>
#include <errno.h>
#include <unistd.h>

// Swift cannot import these as values; expose them as functions.
static inline int czmq_errno(void) { return errno; }
static inline int czmq_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
