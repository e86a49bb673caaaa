/* qsound — backend-independent part of the capture interface.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qscapture-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

QsCapture *
qs_capture_alloc (void)
{
  QsCapture *cap = calloc (1, sizeof (QsCapture));

  if (cap)
    qs_mutex_init (&cap->lock);
  return cap;
}

size_t
qs_capture_bytes_per_frame (const QsCaptureFormat * format)
{
  size_t sample = format->format == QS_SAMPLE_S16LE ? 2 : 4;

  return sample * format->channels;
}

QsCapture *
qs_capture_open (QsBackendKind kind, const char *device,
    QsCaptureFormat * out_format, char *err, size_t errlen)
{
  if (kind == QS_BACKEND_AUTO) {
#if defined(_WIN32)
    kind = QS_BACKEND_WASAPI;
#else
    kind = QS_BACKEND_PULSE;
#endif
  }

  switch (kind) {
    case QS_BACKEND_PULSE:
#ifdef HAVE_PULSE
      return qs_capture_pulse_open (device, out_format, err, errlen);
#else
      snprintf (err, errlen, "this build of qsound has no PulseAudio backend; "
          "rebuild with libpulse-dev installed or choose backend=auto");
      return NULL;
#endif
    case QS_BACKEND_WASAPI:
#if defined(_WIN32)
      return qs_capture_wasapi_open (device, out_format, err, errlen);
#else
      snprintf (err, errlen, "the WASAPI backend exists only on Windows; "
          "use backend=auto or backend=pulse here");
      return NULL;
#endif
    default:
      snprintf (err, errlen, "unknown capture backend; use auto, pulse or wasapi");
      return NULL;
  }
}

int
qs_capture_read (QsCapture * cap, void *dst, size_t max_frames,
    unsigned timeout_ms, unsigned *flags)
{
  int n = qs_ring_read (cap->ring, dst, max_frames, timeout_ms, flags);

  if (n > 0 && flags) {
    qs_mutex_lock (&cap->lock);
    if (cap->format_changed)
      *flags |= QS_CAPTURE_FORMAT_CHANGED;
    cap->format_changed = 0;
    qs_mutex_unlock (&cap->lock);
  }
  return n;
}

void
qs_capture_interrupt (QsCapture * cap)
{
  qs_ring_interrupt (cap->ring, 1);
}

void
qs_capture_clear_interrupt (QsCapture * cap)
{
  qs_ring_interrupt (cap->ring, 0);
}

void
qs_capture_get_format (QsCapture * cap, QsCaptureFormat * out_format)
{
  qs_mutex_lock (&cap->lock);
  *out_format = cap->format;
  qs_mutex_unlock (&cap->lock);
}

void
qs_capture_set_format (QsCapture * cap, const QsCaptureFormat * format)
{
  qs_mutex_lock (&cap->lock);
  if (memcmp (&cap->format, format, sizeof (*format)) != 0)
    cap->format_changed = 1;
  cap->format = *format;
  qs_mutex_unlock (&cap->lock);
}

void
qs_capture_get_position (QsCapture * cap, uint64_t * frames, uint64_t * at_us)
{
  qs_ring_get_position (cap->ring, frames, at_us);
}

uint64_t
qs_capture_now_us (void)
{
  return qs_now_us ();
}

void
qs_capture_get_stats (QsCapture * cap, QsCaptureStats * out_stats)
{
  qs_ring_get_stats (cap->ring, out_stats);
}

void
qs_capture_set_device (QsCapture * cap, const char *device)
{
  qs_mutex_lock (&cap->lock);
  snprintf (cap->device, sizeof (cap->device), "%s", device ? device : "");
  qs_mutex_unlock (&cap->lock);
}

const char *
qs_capture_get_device (QsCapture * cap)
{
  /* the backend thread may rewrite device at any time: hand out a copy
   * taken under the lock (only the consumer calls this) */
  qs_mutex_lock (&cap->lock);
  memcpy (cap->device_out, cap->device, sizeof (cap->device_out));
  qs_mutex_unlock (&cap->lock);
  return cap->device_out;
}

const char *
qs_capture_get_error (QsCapture * cap)
{
  return qs_ring_get_error (cap->ring);
}

void
qs_capture_close (QsCapture * cap)
{
  if (!cap)
    return;
  if (cap->close)
    cap->close (cap);
  qs_ring_free (cap->ring);
  qs_mutex_clear (&cap->lock);
  free (cap);
}
