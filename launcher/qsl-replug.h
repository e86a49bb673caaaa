/* qsound-launch — a receiver takes the next sender in another codec.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __QSL_REPLUG_H__
#define __QSL_REPLUG_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* In a pipeline with a framedtcpsrc named "net" feeding a decodebin named
 * "decode": each new stream after the first (framedtcpsrc starts one when
 * the next sender's format differs) goes into a fresh decodebin, linked to
 * what the old one fed, so the decoder is chosen again.  Does nothing when
 * the pipeline has no such pair. */
void qsl_replug_install (GstElement * pipeline);

G_END_DECLS

#endif /* __QSL_REPLUG_H__ */
