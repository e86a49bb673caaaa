/* qsound — single-producer single-consumer audio ring for capture backends.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qsring.h"

#include "qsthread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QS_RING_MAX_DISCONT 16

struct QsRing
{
  QsMutex lock;
  QsCond cond;
  unsigned char *data;
  size_t capacity;              /* frames */
  size_t bpf;                   /* bytes per frame */
  uint64_t write_pos;           /* frames ever written */
  uint64_t read_pos;            /* frames ever consumed or lost */
  uint64_t written_at;          /* when the last were written (qs_now_us) */
  /* write positions of frames that follow a discontinuity, oldest first,
   * so that the DISCONT mark lands on the right frame even when the reader
   * is behind */
  uint64_t disc[QS_RING_MAX_DISCONT];
  unsigned n_disc;
  int interrupted;
  char error[512];
  QsCaptureStats stats;
};

QsRing *
qs_ring_new (size_t capacity_frames, size_t bytes_per_frame)
{
  QsRing *ring;

  if (capacity_frames == 0 || bytes_per_frame == 0)
    return NULL;
  ring = calloc (1, sizeof (QsRing));
  if (!ring)
    return NULL;
  ring->data = calloc (capacity_frames, bytes_per_frame);
  if (!ring->data) {
    free (ring);
    return NULL;
  }
  ring->capacity = capacity_frames;
  ring->bpf = bytes_per_frame;
  qs_mutex_init (&ring->lock);
  qs_cond_init (&ring->cond);
  return ring;
}

void
qs_ring_free (QsRing * ring)
{
  if (!ring)
    return;
  qs_cond_clear (&ring->cond);
  qs_mutex_clear (&ring->lock);
  free (ring->data);
  free (ring);
}

/* copies frames into the ring at the write position, wrapping around */
static void
qs_ring_put (QsRing * ring, const unsigned char *src, size_t frames)
{
  while (frames > 0) {
    size_t at = (size_t) (ring->write_pos % ring->capacity);
    size_t n = ring->capacity - at;

    if (n > frames)
      n = frames;
    if (src) {
      memcpy (ring->data + at * ring->bpf, src, n * ring->bpf);
      src += n * ring->bpf;
    } else {
      memset (ring->data + at * ring->bpf, 0, n * ring->bpf);
    }
    ring->write_pos += n;
    frames -= n;
  }
}

/* marks the frame at pos as following a discontinuity (pos >= read_pos) */
static void
qs_ring_mark_discont (QsRing * ring, uint64_t pos)
{
  unsigned i = 0, j;

  /* marks on frames that were overwritten unread are gone; the caller marks
   * the oldest frame still there */
  while (i < ring->n_disc && ring->disc[i] < ring->read_pos)
    i++;
  for (j = i; j < ring->n_disc; j++)
    ring->disc[j - i] = ring->disc[j];
  ring->n_disc -= i;
  /* sorted insert */
  for (i = 0; i < ring->n_disc && ring->disc[i] < pos; i++);
  if (i < ring->n_disc && ring->disc[i] == pos)
    return;
  if (ring->n_disc == QS_RING_MAX_DISCONT) {
    /* too many pending: drop the newest and let this one stand for it */
    if (i == ring->n_disc) {
      ring->disc[ring->n_disc - 1] = pos;
      return;
    }
    ring->n_disc--;
  }
  for (j = ring->n_disc; j > i; j--)
    ring->disc[j] = ring->disc[j - 1];
  ring->disc[i] = pos;
  ring->n_disc++;
}

static void
qs_ring_store (QsRing * ring, const void *data, size_t frames, unsigned flags,
    int wake)
{
  const unsigned char *src = data;
  size_t total = frames;

  if (frames == 0)
    return;
  qs_mutex_lock (&ring->lock);
  if (flags & QS_CAPTURE_DISCONT)
    qs_ring_mark_discont (ring, ring->write_pos);
  /* only the newest capacity frames can be kept (the rest count as lost) */
  if (frames > ring->capacity) {
    size_t skip = frames - ring->capacity;

    ring->write_pos += skip;
    if (src)
      src += skip * ring->bpf;
    frames = ring->capacity;
  }
  qs_ring_put (ring, src, frames);
  ring->written_at = qs_now_us ();
  if (src)
    ring->stats.frames_captured += total;
  else
    ring->stats.frames_silence += total;
  if (ring->write_pos - ring->read_pos > ring->capacity) {
    uint64_t lost = ring->write_pos - ring->capacity - ring->read_pos;

    ring->stats.frames_lost += lost;
    ring->read_pos += lost;
    qs_ring_mark_discont (ring, ring->read_pos);
  }
  qs_mutex_unlock (&ring->lock);
  /* after the unlock: woken under it, the reader would at once block on
   * the lock the writer still holds (two more system calls a period) */
  if (wake)
    qs_cond_signal (&ring->cond);
}

void
qs_ring_write (QsRing * ring, const void *data, size_t frames, unsigned flags)
{
  qs_ring_store (ring, data, frames, flags, 1);
}

void
qs_ring_write_more (QsRing * ring, const void *data, size_t frames,
    unsigned flags)
{
  qs_ring_store (ring, data, frames, flags, 0);
}

void
qs_ring_wake (QsRing * ring)
{
  qs_cond_signal (&ring->cond);
}

void
qs_ring_count_switch (QsRing * ring)
{
  qs_mutex_lock (&ring->lock);
  ring->stats.device_switches++;
  qs_mutex_unlock (&ring->lock);
}

void
qs_ring_set_error (QsRing * ring, const char *message)
{
  qs_mutex_lock (&ring->lock);
  snprintf (ring->error, sizeof (ring->error), "%s", message ? message : "capture failed");
  qs_cond_broadcast (&ring->cond);
  qs_mutex_unlock (&ring->lock);
}

int
qs_ring_read (QsRing * ring, void *dst, size_t max_frames, unsigned timeout_ms,
    unsigned *flags)
{
  uint64_t deadline;
  unsigned char *out = dst;
  size_t avail, done = 0;
  int discont = 0;

  if (flags)
    *flags = 0;
  deadline = qs_now_us () + (uint64_t) timeout_ms * 1000u;
  qs_mutex_lock (&ring->lock);
  while (ring->write_pos == ring->read_pos && !ring->interrupted
      && ring->error[0] == '\0') {
    if (!qs_cond_wait_until (&ring->cond, &ring->lock, deadline))
      break;
  }
  if (ring->interrupted) {
    qs_mutex_unlock (&ring->lock);
    return QS_CAPTURE_INTERRUPTED;
  }
  if (ring->error[0] != '\0' && ring->write_pos == ring->read_pos) {
    qs_mutex_unlock (&ring->lock);
    return QS_CAPTURE_ERROR;
  }
  avail = (size_t) (ring->write_pos - ring->read_pos);
  if (avail > max_frames)
    avail = max_frames;
  /* a read never spans a discontinuity: it starts at the marked frame */
  if (avail > 0 && ring->n_disc > 0 && ring->disc[0] <= ring->read_pos) {
    unsigned j, i = 0;

    while (i < ring->n_disc && ring->disc[i] <= ring->read_pos)
      i++;
    for (j = i; j < ring->n_disc; j++)
      ring->disc[j - i] = ring->disc[j];
    ring->n_disc -= i;
    discont = 1;
  }
  if (ring->n_disc > 0 && ring->disc[0] - ring->read_pos < avail)
    avail = (size_t) (ring->disc[0] - ring->read_pos);
  while (done < avail) {
    size_t at = (size_t) (ring->read_pos % ring->capacity);
    size_t n = ring->capacity - at;

    if (n > avail - done)
      n = avail - done;
    memcpy (out + done * ring->bpf, ring->data + at * ring->bpf, n * ring->bpf);
    ring->read_pos += n;
    done += n;
  }
  if (done > 0 && discont) {
    ring->stats.discontinuities++;
    if (flags)
      *flags = QS_CAPTURE_DISCONT;
  }
  qs_mutex_unlock (&ring->lock);
  return (int) done;
}

void
qs_ring_interrupt (QsRing * ring, int on)
{
  qs_mutex_lock (&ring->lock);
  ring->interrupted = on;
  qs_cond_broadcast (&ring->cond);
  qs_mutex_unlock (&ring->lock);
}

void
qs_ring_get_position (QsRing * ring, uint64_t * frames, uint64_t * at_us)
{
  qs_mutex_lock (&ring->lock);
  *frames = ring->write_pos;
  *at_us = ring->written_at;
  qs_mutex_unlock (&ring->lock);
}

void
qs_ring_get_stats (QsRing * ring, QsCaptureStats * stats)
{
  qs_mutex_lock (&ring->lock);
  *stats = ring->stats;
  qs_mutex_unlock (&ring->lock);
}

const char *
qs_ring_get_error (QsRing * ring)
{
  return ring->error;
}
