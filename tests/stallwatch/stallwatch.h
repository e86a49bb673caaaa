/* qsound — stallwatch: sees when the host stops running this machine.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A live audio test loses sound when the machine stops running its
 * processes for longer than the sound server's buffer: a virtual machine
 * whose host takes its CPUs away (steal), or a kernel that does not preempt.
 * Such a loss is real, but it is the host's, not qsound's.  The watch lets a
 * test tell the two apart: one thread per CPU, pinned to it and (where
 * allowed) real-time, wakes every 2 ms; a wake-up that comes late by the
 * threshold or more is a stall of that CPU, recorded with its time on the
 * monotonic clock (g_get_monotonic_time, Python's time.monotonic).  Being
 * real-time, the threads are not delayed by the machine's own processes, so
 * a busy machine (or a slow qsound) is not mistaken for a stalled one.
 */
#ifndef __QSOUND_STALLWATCH_H__
#define __QSOUND_STALLWATCH_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64 start_us;              /* monotonic time the stall began */
  gint64 length_us;
  gint cpu;
} StallEvent;

typedef struct _StallWatch StallWatch;

/* Starts watching every online CPU; stalls of @threshold_us or more count. */
StallWatch *stall_watch_start (gint64 threshold_us);

/* Stops the threads (the events stay readable) and frees nothing. */
void stall_watch_stop (StallWatch * watch);

void stall_watch_free (StallWatch * watch);

/* TRUE when the threads run real-time; else they share the CPUs with the
 * machine's own processes, and a busy machine can look like a stall. */
gboolean stall_watch_realtime (StallWatch * watch);

/* The share of the CPUs' time the host took (steal in /proc/stat) since the
 * start, 0..1; -1 when unknown.  Until stopped: so far. */
gdouble stall_watch_steal (StallWatch * watch);

/* A copy of the stalls seen so far, in order of their end. */
GArray *stall_watch_events (StallWatch * watch);

/* The longest stall that overlaps @from_us..@to_us (monotonic); FALSE if
 * there is none. */
gboolean stall_watch_find (StallWatch * watch, gint64 from_us, gint64 to_us,
    StallEvent * found);

G_END_DECLS

#endif /* __QSOUND_STALLWATCH_H__ */
