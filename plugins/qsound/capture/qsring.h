/* qsound — single-producer single-consumer audio ring for capture backends.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Plain C with qsthread.h (pthreads, or Win32 locks on Windows).  The producer (the
 * backend's capture thread) never waits for the consumer: when the ring is
 * full the oldest frames are overwritten, counted as lost, and the next read
 * is flagged QS_CAPTURE_DISCONT.
 */
#ifndef QS_RING_H
#define QS_RING_H

#include <stddef.h>
#include <stdint.h>

#include "qscapture.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct QsRing QsRing;

/* capacity in frames; bytes_per_frame = channels * sample size */
QsRing *qs_ring_new (size_t capacity_frames, size_t bytes_per_frame);
void qs_ring_free (QsRing *ring);

/* Producer side.  data NULL writes silence (zeros) and counts it in
 * frames_silence; otherwise the frames count in frames_captured.  A backend
 * that zero-fills a SILENT packet itself should pass NULL instead.  flags
 * QS_CAPTURE_DISCONT marks the next frame read as following a discontinuity. */
void qs_ring_write (QsRing *ring, const void *data, size_t frames, unsigned flags);
/* As qs_ring_write, but the reader is not woken: for a backend with more to
 * write at once (the pieces one callback of the sound server hands over),
 * which then calls qs_ring_wake.  Woken at the first piece, the reader
 * took it alone, and a period went out as two buffers. */
void qs_ring_write_more (QsRing *ring, const void *data, size_t frames,
    unsigned flags);
void qs_ring_wake (QsRing *ring);
void qs_ring_count_switch (QsRing *ring);
/* A fatal backend error: wakes the reader, which returns QS_CAPTURE_ERROR. */
void qs_ring_set_error (QsRing *ring, const char *message);

/* Consumer side, see qs_capture_read(). */
int qs_ring_read (QsRing *ring, void *dst, size_t max_frames, unsigned timeout_ms,
    unsigned *flags);
void qs_ring_interrupt (QsRing *ring, int on);
void qs_ring_get_stats (QsRing *ring, QsCaptureStats *stats);
/* Frames ever written (captured, filled or overwritten since), and when
 * the last of them were (qs_now_us; 0 before the first). */
void qs_ring_get_position (QsRing *ring, uint64_t *frames, uint64_t *at_us);
/* The error set with qs_ring_set_error(), or "" */
const char *qs_ring_get_error (QsRing *ring);

#ifdef __cplusplus
}
#endif

#endif /* QS_RING_H */
