/* qsound — framedtcpsink: sends any GStreamer stream over TCP as frames.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_FRAMED_TCP_SINK_H__
#define __GST_FRAMED_TCP_SINK_H__

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_FRAMED_TCP_SINK (gst_framed_tcp_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstFramedTcpSink, gst_framed_tcp_sink, GST, FRAMED_TCP_SINK,
    GstBaseSink);

G_END_DECLS

#endif /* __GST_FRAMED_TCP_SINK_H__ */
