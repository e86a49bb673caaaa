/* qsound — stallwatch: sees when the host stops running this machine.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* pthread_setaffinity_np */
#endif

#include "stallwatch.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS (2 * 1000 * 1000)

typedef struct
{
  StallWatch *watch;
  gint cpu;
  pthread_t thread;
  gboolean started;
} Watcher;

struct _StallWatch
{
  gint64 threshold_us;
  gint stop;
  gint realtime;                /* every watcher got SCHED_FIFO */
  guint n;
  Watcher *watchers;
  GMutex lock;
  GArray *events;
  guint64 steal0, total0;       /* /proc/stat at the start */
  guint64 steal1, total1;       /* and at the stop */
  gboolean stopped;
};

static void
timespec_add_ns (struct timespec *ts, glong ns)
{
  ts->tv_nsec += ns;
  while (ts->tv_nsec >= 1000000000L) {
    ts->tv_nsec -= 1000000000L;
    ts->tv_sec++;
  }
}

static gint64
timespec_us (const struct timespec *ts)
{
  return (gint64) ts->tv_sec * G_USEC_PER_SEC + ts->tv_nsec / 1000;
}

static void *
watch_cpu (void *data)
{
  Watcher *w = data;
  StallWatch *watch = w->watch;
  struct timespec next, now;
  cpu_set_t set;
  struct sched_param sp = { 0 };

  CPU_ZERO (&set);
  CPU_SET (w->cpu, &set);
  pthread_setaffinity_np (pthread_self (), sizeof (set), &set);
  /* the top priority, as cyclictest measures: only the kernel and the host
   * can hold it back, never a process of this machine (PulseAudio runs its
   * threads real-time too) */
  sp.sched_priority = sched_get_priority_max (SCHED_FIFO);
  if (pthread_setschedparam (pthread_self (), SCHED_FIFO, &sp) != 0)
    g_atomic_int_set (&watch->realtime, 0);

  clock_gettime (CLOCK_MONOTONIC, &next);
  while (!g_atomic_int_get (&watch->stop)) {
    gint64 late;

    timespec_add_ns (&next, PERIOD_NS);
    while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) != 0);
    clock_gettime (CLOCK_MONOTONIC, &now);
    late = timespec_us (&now) - timespec_us (&next);
    if (late >= watch->threshold_us) {
      StallEvent e = { timespec_us (&next), late, w->cpu };

      g_mutex_lock (&watch->lock);
      g_array_append_val (watch->events, e);
      g_mutex_unlock (&watch->lock);
    }
    if (late > PERIOD_NS / 1000)
      next = now;               /* a stall: start the beat again from now */
  }
  return NULL;
}

/* The "cpu" line of /proc/stat: steal and the sum of all fields, in ticks. */
static gboolean
read_steal (guint64 * steal, guint64 * total)
{
  FILE *f = fopen ("/proc/stat", "r");
  guint64 v[8] = { 0, };
  gboolean ok;

  if (!f)
    return FALSE;
  ok = fscanf (f, "cpu %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %"
      G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %"
      G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &v[0],
      &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8;
  fclose (f);
  if (ok) {
    *steal = v[7];
    *total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
  }
  return ok;
}

StallWatch *
stall_watch_start (gint64 threshold_us)
{
  StallWatch *watch = g_new0 (StallWatch, 1);
  glong ncpu = sysconf (_SC_NPROCESSORS_ONLN);
  guint i;

  watch->threshold_us = threshold_us;
  watch->realtime = 1;
  watch->n = ncpu > 0 ? (guint) ncpu : 1;
  watch->watchers = g_new0 (Watcher, watch->n);
  watch->events = g_array_new (FALSE, FALSE, sizeof (StallEvent));
  g_mutex_init (&watch->lock);
  if (!read_steal (&watch->steal0, &watch->total0))
    watch->total0 = 0;
  for (i = 0; i < watch->n; i++) {
    watch->watchers[i].watch = watch;
    watch->watchers[i].cpu = i;
    watch->watchers[i].started = pthread_create (&watch->watchers[i].thread,
        NULL, watch_cpu, &watch->watchers[i]) == 0;
  }
  return watch;
}

void
stall_watch_stop (StallWatch * watch)
{
  guint i;

  if (watch->stopped)
    return;
  g_atomic_int_set (&watch->stop, 1);
  for (i = 0; i < watch->n; i++)
    if (watch->watchers[i].started)
      pthread_join (watch->watchers[i].thread, NULL);
  if (!read_steal (&watch->steal1, &watch->total1))
    watch->total0 = 0;
  watch->stopped = TRUE;
}

void
stall_watch_free (StallWatch * watch)
{
  if (!watch)
    return;
  stall_watch_stop (watch);
  g_array_unref (watch->events);
  g_mutex_clear (&watch->lock);
  g_free (watch->watchers);
  g_free (watch);
}

gboolean
stall_watch_realtime (StallWatch * watch)
{
  return g_atomic_int_get (&watch->realtime) != 0;
}

gdouble
stall_watch_steal (StallWatch * watch)
{
  guint64 steal = watch->steal1, total = watch->total1;

  if (watch->total0 == 0 || (!watch->stopped && !read_steal (&steal, &total))
      || total <= watch->total0)
    return -1.0;
  return (gdouble) (steal - watch->steal0) / (gdouble) (total - watch->total0);
}

GArray *
stall_watch_events (StallWatch * watch)
{
  GArray *copy;

  g_mutex_lock (&watch->lock);
  copy = g_array_copy (watch->events);
  g_mutex_unlock (&watch->lock);
  return copy;
}

gboolean
stall_watch_find (StallWatch * watch, gint64 from_us, gint64 to_us,
    StallEvent * found)
{
  gboolean any = FALSE;
  guint i;

  g_mutex_lock (&watch->lock);
  for (i = 0; i < watch->events->len; i++) {
    const StallEvent *e = &g_array_index (watch->events, StallEvent, i);

    if (e->start_us + e->length_us < from_us || e->start_us > to_us)
      continue;
    if (!any || e->length_us > found->length_us)
      *found = *e;
    any = TRUE;
  }
  g_mutex_unlock (&watch->lock);
  return any;
}
