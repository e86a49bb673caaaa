/* qsound-launch — the four modes and the three codecs, as data.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __QSL_MODES_H__
#define __QSL_MODES_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint mode;                    /* -m MODE */
  const gchar *file;            /* its description under pipelines/ */
  gboolean server;
  gboolean transmit;
  /* "role: what it does", one line of --help and of the log */
  const gchar *summary;
  gint pairs_with;
} QslMode;

typedef struct
{
  const gchar *name;            /* -c NAME */
  /* the media type of the stream's caps, as a receiver sees them */
  const gchar *media_type;
  gint default_kbps;
  /* the bitrates -b takes, ascending and 0-terminated: every one when
   * list_kbps, else the lowest and the highest; NULL: fixed at
   * default_kbps */
  const gint *kbps;
  gboolean list_kbps;
  /* the encoder chain; %d is the bitrate in kbit/s */
  const gchar *encoder;
  /* a receiver's default room for network jitter (audiojitterbuffer), in
   * ms: a loopback or LAN link needs little; -l raises it on a worse one */
  gint latency_ms;
} QslCodec;

/* The mode without -m, and the codec without -c. */
const QslMode *qsl_mode_default (void);
const QslCodec *qsl_codec_default (void);

/* The mode numbered @mode, the codec named @name (any case); NULL when
 * there is none. */
const QslMode *qsl_mode_find (gint mode);
const QslCodec *qsl_codec_find (const gchar * name);

/* The codec whose stream has caps of @media_type; NULL when none. */
const QslCodec *qsl_codec_for_media_type (const gchar * media_type);

/* The lowest and highest bitrate -b takes. */
gint qsl_codec_min_kbps (const QslCodec * codec);
gint qsl_codec_max_kbps (const QslCodec * codec);

/* TRUE when -b @kbps suits @codec. */
gboolean qsl_codec_kbps_ok (const QslCodec * codec, gint kbps);

/* The lowest and highest mode number. */
gint qsl_mode_min (void);
gint qsl_mode_max (void);

/* Text made from the tables, for --help and the error messages; newly
 * allocated:
 *   qsl_modes_list_text ()         "1, 2, 3 or 4"
 *   qsl_modes_option_text ()       "1 server/transmit, 2 client/receive
 *                                   (default), ..."
 *   qsl_modes_help_text ()         the "Modes (-m):" block of --help
 *   qsl_codecs_list_text (sep)     "mp3, opus or pcm" (@sep NULL), or
 *                                  "mp3|opus|pcm" (@sep "|")
 *   qsl_codecs_option_text ()      "mp3 (default), opus or pcm"
 *   qsl_codecs_bitrate_text ()     "mp3: 32, 40, ..., 192 (default), ...
 *                                   or 320; opus: 6-510, default 128"
 *   qsl_codecs_latency_text ()     "mp3 10, opus 8, pcm 8"
 *   qsl_codec_kbps_list_text (c)   "32, 40, ... or 320" */
gchar *qsl_modes_list_text (void);
gchar *qsl_modes_option_text (void);
gchar *qsl_modes_help_text (void);
gchar *qsl_codecs_list_text (const gchar * sep);
gchar *qsl_codecs_option_text (void);
gchar *qsl_codecs_bitrate_text (void);
gchar *qsl_codecs_latency_text (void);
gchar *qsl_codec_kbps_list_text (const QslCodec * codec);

G_END_DECLS

#endif /* __QSL_MODES_H__ */
