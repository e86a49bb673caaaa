/* qsound — loopbacksrc: the sound a machine is playing, as a live source.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_LOOPBACKSRC_H__
#define __GST_LOOPBACKSRC_H__

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

/**
 * GstLoopbackSrcBackend:
 * @GST_LOOPBACKSRC_BACKEND_AUTO: the platform's backend (pulse on Linux, wasapi on Windows)
 * @GST_LOOPBACKSRC_BACKEND_PULSE: PulseAudio or PipeWire's pulse server (libpulse)
 * @GST_LOOPBACKSRC_BACKEND_WASAPI: WASAPI shared-mode loopback (Windows)
 */
typedef enum
{
  GST_LOOPBACKSRC_BACKEND_AUTO = 0,
  GST_LOOPBACKSRC_BACKEND_PULSE,
  GST_LOOPBACKSRC_BACKEND_WASAPI,
} GstLoopbackSrcBackend;

#define GST_TYPE_LOOPBACKSRC_BACKEND (gst_loopbacksrc_backend_get_type ())
GType gst_loopbacksrc_backend_get_type (void);

#define GST_TYPE_LOOPBACKSRC (gst_loopbacksrc_get_type ())
G_DECLARE_FINAL_TYPE (GstLoopbackSrc, gst_loopbacksrc, GST, LOOPBACKSRC, GstPushSrc)

G_END_DECLS

#endif /* __GST_LOOPBACKSRC_H__ */
