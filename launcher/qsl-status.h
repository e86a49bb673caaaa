/* qsound-launch — the status: a line redrawn in place on a terminal, plain
 * log lines without one.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __QSL_STATUS_H__
#define __QSL_STATUS_H__

#include <gst/gst.h>

#include "qsl-options.h"

G_BEGIN_DECLS

typedef struct _QslStatus QslStatus;

/* The status of a running pipeline, read from its elements named net (the
 * transport), jitter (a receiver's audiojitterbuffer) and capture (a
 * transmitter's loopbacksrc), any of them NULL; borrowed, they must outlive
 * the status.  @tty: stderr is a terminal, so the line is redrawn in place;
 * else state changes and a summary every 5 s are logged as plain lines. */
QslStatus *qsl_status_new (const QslSettings * set, gboolean tty,
    GstElement * net, GstElement * jitter, GstElement * capture);
void qsl_status_free (QslStatus * status);

/* One line "qsound-launch: <message>" on stderr (nothing with -q), after
 * clearing the status line. */
void qsl_status_log (QslStatus * status, const gchar * format, ...)
    G_GNUC_PRINTF (2, 3);

/* Clears the status line on a terminal, before other output. */
void qsl_status_clear (QslStatus * status);

/* What the bus and the streaming threads tell: a message of the level
 * element; the pipeline's latency; the decoder that decodebin picked (from
 * any thread). */
void qsl_status_level (QslStatus * status, const GstStructure * level);
void qsl_status_set_latency (QslStatus * status, GstClockTime latency);
void qsl_status_set_decoder (QslStatus * status, const gchar * name);

/* Reads the elements' stats and shows them: a GSourceFunc, for a timeout
 * every 250 ms on a terminal, every second without one. */
gboolean qsl_status_tick (gpointer status);

G_END_DECLS

#endif /* __QSL_STATUS_H__ */
