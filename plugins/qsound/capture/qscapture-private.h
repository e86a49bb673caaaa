/* qsound — what capture backends share (not for the element).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A backend fills a QsCapture: the ring its capture thread writes into, the
 * format it negotiated, and a close function that stops its thread and frees
 * its private data.  Everything the consumer calls (read, interrupt, stats)
 * is generic and lives in qscapture.c.
 */
#ifndef QS_CAPTURE_PRIVATE_H
#define QS_CAPTURE_PRIVATE_H

#include "qscapture.h"
#include "qsthread.h"
#include "qsring.h"

#ifdef __cplusplus
extern "C" {
#endif

struct QsCapture
{
  QsRing *ring;
  void *priv;                         /* the backend's own state */
  void (*close) (QsCapture *cap);     /* stops the thread, frees priv (not ring) */

  QsMutex lock;                       /* protects format, device, format_changed */
  QsCaptureFormat format;
  char device[256];
  char device_out[256];               /* the consumer's copy (get_device) */
  int format_changed;
};

/* Allocates a QsCapture with its lock initialised (ring and priv unset). */
QsCapture *qs_capture_alloc (void);
/* Backends call these from their thread when the device or format changes. */
void qs_capture_set_device (QsCapture *cap, const char *device);
void qs_capture_set_format (QsCapture *cap, const QsCaptureFormat *format);

size_t qs_capture_bytes_per_frame (const QsCaptureFormat *format);

/* Backend entry points (each compiled only where it can run). */
QsCapture *qs_capture_pulse_open (const char *device, QsCaptureFormat *out_format,
    char *err, size_t errlen);
QsCapture *qs_capture_wasapi_open (const char *device, QsCaptureFormat *out_format,
    char *err, size_t errlen);

/* What qs_capture_wasapi_open_ex() captures: the loopback of a render
 * endpoint (what qs_capture_wasapi_open() does), or a capture endpoint
 * through the same path (for the Wine test, where loopback is refused). */
#define QS_WASAPI_FLOW_LOOPBACK 0
#define QS_WASAPI_FLOW_CAPTURE  1
QsCapture *qs_capture_wasapi_open_ex (const char *device, int flow,
    QsCaptureFormat *out_format, char *err, size_t errlen);
/* Makes the capture thread reopen its stream as if the device had been
 * invalidated (for the Wine test, where no device ever goes away). */
void qs_capture_wasapi_reopen (QsCapture *cap);

#ifdef __cplusplus
}
#endif

#endif /* QS_CAPTURE_PRIVATE_H */
