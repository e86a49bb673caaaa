/* qsound — capture backend interface for loopbacksrc.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Plain C: no GLib or GStreamer types, so that the Windows backend builds
 * with mingw-w64 alone and a small test program can run it under Wine.
 *
 * A backend owns a capture thread that only copies what the device delivers
 * into a ring buffer (it never waits for the consumer).  The consumer (the
 * element's streaming thread) reads from that ring with qs_capture_read().
 * If the consumer falls behind by more than the ring holds, the oldest
 * frames are overwritten and counted in frames_lost, and the next read
 * reports QS_CAPTURE_DISCONT.
 */
#ifndef QS_CAPTURE_H
#define QS_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  QS_SAMPLE_S16LE = 1,
  QS_SAMPLE_S24_32LE,     /* 24 bits in a 32-bit container */
  QS_SAMPLE_S32LE,
  QS_SAMPLE_F32LE,
} QsSampleFormat;

typedef struct {
  QsSampleFormat format;
  unsigned rate;
  unsigned channels;
  uint64_t channel_mask;  /* WAVEFORMATEXTENSIBLE-style mask; 0 = unknown */
} QsCaptureFormat;

typedef struct {
  uint64_t frames_captured;   /* frames the device delivered */
  uint64_t frames_silence;    /* frames filled with silence (SILENT packets, position gaps, device switches) */
  uint64_t frames_lost;       /* frames overwritten before the consumer read them */
  uint64_t discontinuities;   /* DISCONT marks issued */
  uint64_t device_switches;   /* default-output changes followed */
} QsCaptureStats;

/* qs_capture_read() flags */
#define QS_CAPTURE_DISCONT   (1u << 0)
#define QS_CAPTURE_FORMAT_CHANGED (1u << 1)  /* call qs_capture_get_format() */

/* qs_capture_read() results (negative) */
#define QS_CAPTURE_ERROR        (-1)   /* fatal; qs_capture_get_error() says why */
#define QS_CAPTURE_INTERRUPTED  (-2)   /* qs_capture_interrupt() was called */

typedef struct QsCapture QsCapture;

typedef enum {
  QS_BACKEND_AUTO = 0,
  QS_BACKEND_PULSE,
  QS_BACKEND_WASAPI,
} QsBackendKind;

/* Creates and starts capture.  device NULL or "" = the current default
 * output, followed when it changes.  On failure returns NULL and writes one
 * plain sentence naming the cause and the fix into err. */
QsCapture *qs_capture_open (QsBackendKind kind, const char *device,
    QsCaptureFormat *out_format, char *err, size_t errlen);

/* Blocks until at least one frame is available (or timeout_ms passes, then
 * returns 0), copies up to max_frames interleaved frames into dst, returns
 * the number of frames copied.  *flags gets QS_CAPTURE_* bits. */
int qs_capture_read (QsCapture *cap, void *dst, size_t max_frames,
    unsigned timeout_ms, unsigned *flags);

/* Makes a blocked or the next qs_capture_read() return QS_CAPTURE_INTERRUPTED
 * (GstBaseSrc::unlock); qs_capture_clear_interrupt() undoes it (unlock_stop). */
void qs_capture_interrupt (QsCapture *cap);
void qs_capture_clear_interrupt (QsCapture *cap);

void qs_capture_get_format (QsCapture *cap, QsCaptureFormat *out_format);
void qs_capture_get_stats (QsCapture *cap, QsCaptureStats *out_stats);
/* The capture clock: every frame the device delivered or that was filled
 * for it (lost ones included), and when the last of them came, in
 * qs_capture_now_us() time (0 before the first).  Frames at the nominal
 * rate against that time give the device's clock (loopbacksrc's). */
void qs_capture_get_position (QsCapture *cap, uint64_t *frames,
    uint64_t *at_us);
/* The monotonic clock that times them, in microseconds. */
uint64_t qs_capture_now_us (void);
/* Name of the device currently captured (owned by cap; valid until the next call). */
const char *qs_capture_get_device (QsCapture *cap);
const char *qs_capture_get_error (QsCapture *cap);

/* Stops the capture thread and frees everything. */
void qs_capture_close (QsCapture *cap);

/* Backend entry points used by qs_capture_open() (one per platform). */
#ifdef __cplusplus
}
#endif

#endif /* QS_CAPTURE_H */
