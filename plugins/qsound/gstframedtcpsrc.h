/* qsound — framedtcpsrc: receives a stream sent by framedtcpsink.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_FRAMED_TCP_SRC_H__
#define __GST_FRAMED_TCP_SRC_H__

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_FRAMED_TCP_SRC (gst_framed_tcp_src_get_type ())
G_DECLARE_FINAL_TYPE (GstFramedTcpSrc, gst_framed_tcp_src, GST, FRAMED_TCP_SRC,
    GstPushSrc);

G_END_DECLS

#endif /* __GST_FRAMED_TCP_SRC_H__ */
