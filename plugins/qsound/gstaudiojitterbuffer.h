/* qsound — audiojitterbuffer: holds a target latency on the receiving side
 * and corrects the drift between the sender's and the receiver's clocks.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_AUDIO_JITTER_BUFFER_H__
#define __GST_AUDIO_JITTER_BUFFER_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_AUDIO_JITTER_BUFFER (gst_audio_jitter_buffer_get_type ())
G_DECLARE_FINAL_TYPE (GstAudioJitterBuffer, gst_audio_jitter_buffer, GST,
    AUDIO_JITTER_BUFFER, GstElement);

G_END_DECLS

#endif /* __GST_AUDIO_JITTER_BUFFER_H__ */
