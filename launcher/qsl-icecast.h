/* qsound-launch — publishing a transmitter's stream to Icecast (--icecast).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __QSL_ICECAST_H__
#define __QSL_ICECAST_H__

#include <gst/gst.h>

#include "qsl-options.h"
#include "qsl-status.h"

G_BEGIN_DECLS

/* ------------------------------------------- descriptions (pure text) */

/* What the transmitter's pipeline gets with --icecast: @ICECAST_TEE@, put
 * after the encoder (" ! tee name=icecast_tee"), and @ICECAST@, the
 * branch from that tee, added at the end.  Both "" without --icecast.
 * With set->print the branch ends in shout2send itself (one gst-launch-1.0
 * line, which does not retry); else in a leaky queue and an appsink named
 * icecast, from which QslIcecast feeds its own publishing pipeline.  Newly
 * allocated. */
gchar *qsl_icecast_tee_text (const QslSettings * set);
gchar *qsl_icecast_branch_text (const QslSettings * set);

/* What goes to Icecast after the codec's output, up to and including
 * shout2send: mp3 as it is, Opus muxed into Ogg, pcm encoded to mp3.
 * Newly allocated. */
gchar *qsl_icecast_sink_text (const QslSettings * set);

/* The listeners Icecast reports for @mount in its status-json.xsl
 * document @json; -1 when the mount is not listed (no source on it). */
gint qsl_icecast_json_listeners (const gchar * json, const gchar * mount);

/* --------------------------------------------------- the publisher */

typedef struct _QslIcecast QslIcecast;

/* Publishes what the appsink @tap (in the transmitter's pipeline) receives
 * to set's Icecast mount, in a pipeline of its own that is torn down and
 * built again, with backoff, whenever Icecast fails, so that nothing of
 * it reaches the transmitter's pipeline; reads the listener count from
 * status-json.xsl every few seconds.  Runs on the default main context;
 * logs through @status. */
QslIcecast *qsl_icecast_new (const QslSettings * set, GstElement * tap,
    QslStatus * status);
void qsl_icecast_free (QslIcecast * ice);

/* The status line's Icecast field: "icecast connecting", "icecast live, 3
 * listeners", "icecast down, retrying", "icecast refused the password,
 * retrying" or "icecast unavailable (a plugin is missing)", and in
 * *@short_text its short form ("icecast 3").  Newly allocated. */
gchar *qsl_icecast_status_text (QslIcecast * ice, gchar ** short_text);

G_END_DECLS

#endif /* __QSL_ICECAST_H__ */
