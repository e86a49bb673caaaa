/* qsound — the lock and condition the capture code uses, on any platform.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Plain C, no GLib (see qscapture.h): pthreads on POSIX systems, the Win32
 * slim reader/writer lock and condition variable on Windows (no
 * winpthreads, so MinGW and MSVC build it alike).  A timed wait takes a
 * deadline on a monotonic clock in microseconds (qs_now_us).
 */
#ifndef QS_THREAD_H
#define QS_THREAD_H

#include <stdint.h>

#ifdef _WIN32
#include <windows.h>

typedef SRWLOCK QsMutex;
typedef CONDITION_VARIABLE QsCond;

static inline void qs_mutex_init (QsMutex *m) { InitializeSRWLock (m); }
static inline void qs_mutex_clear (QsMutex *m) { (void) m; }
static inline void qs_mutex_lock (QsMutex *m) { AcquireSRWLockExclusive (m); }
static inline void qs_mutex_unlock (QsMutex *m) { ReleaseSRWLockExclusive (m); }
static inline void qs_cond_init (QsCond *c) { InitializeConditionVariable (c); }
static inline void qs_cond_clear (QsCond *c) { (void) c; }
static inline void qs_cond_signal (QsCond *c) { WakeConditionVariable (c); }
static inline void qs_cond_broadcast (QsCond *c) { WakeAllConditionVariable (c); }

static inline uint64_t
qs_now_us (void)
{
  LARGE_INTEGER f, t;

  QueryPerformanceFrequency (&f);
  QueryPerformanceCounter (&t);
  return (uint64_t) (t.QuadPart / f.QuadPart) * 1000000u
      + (uint64_t) (t.QuadPart % f.QuadPart) * 1000000u / (uint64_t) f.QuadPart;
}

/* Waits until signalled or @deadline_us; returns 0 when the deadline has
 * passed (spurious wake-ups return 1, as with pthreads: callers loop). */
static inline int
qs_cond_wait_until (QsCond *c, QsMutex *m, uint64_t deadline_us)
{
  uint64_t now = qs_now_us ();
  DWORD ms;

  if (now >= deadline_us)
    return 0;
  ms = (DWORD) ((deadline_us - now + 999) / 1000);
  if (!SleepConditionVariableSRW (c, m, ms, 0))
    return GetLastError () != ERROR_TIMEOUT;
  return 1;
}

#else
#include <errno.h>
#include <pthread.h>
#include <time.h>

typedef pthread_mutex_t QsMutex;
typedef pthread_cond_t QsCond;

static inline void qs_mutex_init (QsMutex *m) { pthread_mutex_init (m, NULL); }
static inline void qs_mutex_clear (QsMutex *m) { pthread_mutex_destroy (m); }
static inline void qs_mutex_lock (QsMutex *m) { pthread_mutex_lock (m); }
static inline void qs_mutex_unlock (QsMutex *m) { pthread_mutex_unlock (m); }
static inline void qs_cond_clear (QsCond *c) { pthread_cond_destroy (c); }
static inline void qs_cond_signal (QsCond *c) { pthread_cond_signal (c); }
static inline void qs_cond_broadcast (QsCond *c) { pthread_cond_broadcast (c); }

static inline void
qs_cond_init (QsCond *c)
{
  pthread_condattr_t attr;

  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (c, &attr);
  pthread_condattr_destroy (&attr);
}

static inline uint64_t
qs_now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static inline int
qs_cond_wait_until (QsCond *c, QsMutex *m, uint64_t deadline_us)
{
  struct timespec ts;

  ts.tv_sec = (time_t) (deadline_us / 1000000u);
  ts.tv_nsec = (long) (deadline_us % 1000000u) * 1000L;
  return pthread_cond_timedwait (c, m, &ts) != ETIMEDOUT;
}
#endif

#endif /* QS_THREAD_H */
