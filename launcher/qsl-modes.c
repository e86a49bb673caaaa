/* qsound-launch — the four modes and the three codecs, as data
 * (qsl-modes.h).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every fact about a mode or a codec is written here once: --help, the
 * usage errors and the filled pipeline take it from these tables.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsl-modes.h"

#include <string.h>

/* ------------------------------------------------------------ the modes */

#define QSL_DEFAULT_MODE 2

static const QslMode qsl_modes[] = {
  {1, "mode1-server-transmit.txt", TRUE, TRUE,
      "server, transmit: captures what this machine plays and serves it", 2},
  {2, "mode2-client-receive.txt", FALSE, FALSE,
      "client, receive: connects to a mode 1 server and plays its sound", 1},
  {3, "mode3-server-receive.txt", TRUE, FALSE,
      "server, receive: waits for a mode 4 client and plays its sound", 4},
  {4, "mode4-client-transmit.txt", FALSE, TRUE,
      "client, transmit: captures what this machine plays and sends it to "
      "a mode 3 server", 3},
};

/* ----------------------------------------------------------- the codecs */

/* constant-bitrate MPEG-1 layer 3 has a fixed set of bitrates */
static const gint qsl_mp3_kbps[] = { 32, 40, 48, 56, 64, 80, 96, 112, 128,
  160, 192, 224, 256, 320, 0
};

static const gint qsl_opus_kbps[] = { 6, 510, 0 };

/* the first is the default */
static const QslCodec qsl_codecs[] = {
  {"mp3", "audio/mpeg", 192, qsl_mp3_kbps, TRUE,
        "audio/x-raw,rate=48000,channels=2 "
        "! lamemp3enc target=bitrate cbr=true bitrate=%d", 10},
  {"opus", "audio/x-opus", 128, qsl_opus_kbps, FALSE,
        "audio/x-raw,rate=48000,channels=2 "
        "! opusenc audio-type=restricted-lowdelay frame-size=5 "
        "bitrate=%d000", 8},
  /* 48000 Hz x 2 channels x 16 bits */
  {"pcm", "audio/x-raw", 1536, NULL, FALSE,
      "audio/x-raw,format=S16LE,rate=48000,channels=2", 8},
};

const QslMode *
qsl_mode_default (void)
{
  return qsl_mode_find (QSL_DEFAULT_MODE);
}

const QslCodec *
qsl_codec_default (void)
{
  return &qsl_codecs[0];
}

const QslMode *
qsl_mode_find (gint mode)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_modes); i++)
    if (qsl_modes[i].mode == mode)
      return &qsl_modes[i];
  return NULL;
}

const QslCodec *
qsl_codec_find (const gchar * name)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_codecs); i++)
    if (g_ascii_strcasecmp (name, qsl_codecs[i].name) == 0)
      return &qsl_codecs[i];
  return NULL;
}

const QslCodec *
qsl_codec_for_media_type (const gchar * media_type)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_codecs); i++)
    if (g_strcmp0 (media_type, qsl_codecs[i].media_type) == 0)
      return &qsl_codecs[i];
  return NULL;
}

gint
qsl_codec_min_kbps (const QslCodec * codec)
{
  return codec->kbps ? codec->kbps[0] : codec->default_kbps;
}

gint
qsl_codec_max_kbps (const QslCodec * codec)
{
  guint n = 0;

  if (!codec->kbps)
    return codec->default_kbps;
  while (codec->kbps[n + 1])
    n++;
  return codec->kbps[n];
}

gboolean
qsl_codec_kbps_ok (const QslCodec * codec, gint kbps)
{
  guint i;

  if (kbps < qsl_codec_min_kbps (codec) || kbps > qsl_codec_max_kbps (codec))
    return FALSE;
  if (!codec->list_kbps)
    return TRUE;
  for (i = 0; codec->kbps[i]; i++)
    if (codec->kbps[i] == kbps)
      return TRUE;
  return FALSE;
}

gint
qsl_mode_min (void)
{
  gint min = G_MAXINT;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_modes); i++)
    min = MIN (min, qsl_modes[i].mode);
  return min;
}

gint
qsl_mode_max (void)
{
  gint max = 0;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_modes); i++)
    max = MAX (max, qsl_modes[i].mode);
  return max;
}

/* ------------------------------------------------------------ the texts */

/* Appends @item to a list of @n items being written into @s: "a, b or c". */
static void
qsl_list_append (GString * s, guint i, guint n, const gchar * item)
{
  if (i > 0)
    g_string_append (s, i + 1 == n ? " or " : ", ");
  g_string_append (s, item);
}

gchar *
qsl_modes_list_text (void)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_modes); i++) {
    gchar *num = g_strdup_printf ("%d", qsl_modes[i].mode);

    qsl_list_append (s, i, G_N_ELEMENTS (qsl_modes), num);
    g_free (num);
  }
  return g_string_free (s, FALSE);
}

gchar *
qsl_modes_option_text (void)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_modes); i++) {
    const QslMode *m = &qsl_modes[i];

    g_string_append_printf (s, "%s%d %s/%s%s", i > 0 ? ", " : "", m->mode,
        m->server ? "server" : "client", m->transmit ? "transmit" : "receive",
        m->mode == QSL_DEFAULT_MODE ? " (default)" : "");
  }
  return g_string_free (s, FALSE);
}

/* the role in a summary, "server, transmit:", padded to this width */
#define QSL_HELP_ROLE_WIDTH 17
/* a line of the modes' help is wrapped before this column */
#define QSL_HELP_WIDTH 76
#define QSL_HELP_INDENT "     "

gchar *
qsl_modes_help_text (void)
{
  GString *s = g_string_new ("Modes (-m):");
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_modes); i++) {
    const QslMode *m = &qsl_modes[i];
    const gchar *colon = strchr (m->summary, ':');
    gchar **words;
    gsize line_start;
    guint w;

    g_assert (colon != NULL);
    line_start = s->len + 1;
    g_string_append_printf (s, "\n  %d  %-*.*s", m->mode, QSL_HELP_ROLE_WIDTH,
        (int) (colon - m->summary + 1), m->summary);
    words = g_strsplit (colon + 1, " ", -1);
    for (w = 0; words[w]; w++) {
      if (words[w][0] == '\0')
        continue;
      if (s->len - line_start + 1 + strlen (words[w]) >= QSL_HELP_WIDTH) {
        g_string_append (s, "\n");
        line_start = s->len;
        g_string_append_printf (s, QSL_HELP_INDENT "%s", words[w]);
      } else {
        g_string_append_printf (s, " %s", words[w]);
      }
    }
    g_strfreev (words);
    if (m->mode == QSL_DEFAULT_MODE)
      g_string_append (s, " (default)");
  }
  return g_string_free (s, FALSE);
}

gchar *
qsl_codecs_list_text (const gchar * sep)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_codecs); i++) {
    if (sep)
      g_string_append_printf (s, "%s%s", i > 0 ? sep : "",
          qsl_codecs[i].name);
    else
      qsl_list_append (s, i, G_N_ELEMENTS (qsl_codecs), qsl_codecs[i].name);
  }
  return g_string_free (s, FALSE);
}

gchar *
qsl_codecs_option_text (void)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_codecs); i++) {
    gchar *item = g_strdup_printf ("%s%s", qsl_codecs[i].name,
        (&qsl_codecs[i] == qsl_codec_default ()) ? " (default)" : "");

    qsl_list_append (s, i, G_N_ELEMENTS (qsl_codecs), item);
    g_free (item);
  }
  return g_string_free (s, FALSE);
}

/* "32, 40, ... 192 (default), ... or 320", with the default marked when
 * @mark_default */
static gchar *
qsl_codec_kbps_list (const QslCodec * codec, gboolean mark_default)
{
  GString *s;
  guint i, n = 0;

  g_return_val_if_fail (codec->list_kbps, NULL);
  s = g_string_new (NULL);
  while (codec->kbps[n])
    n++;
  for (i = 0; i < n; i++) {
    gchar *item = g_strdup_printf ("%d%s", codec->kbps[i], mark_default
        && codec->kbps[i] == codec->default_kbps ? " (default)" : "");

    qsl_list_append (s, i, n, item);
    g_free (item);
  }
  return g_string_free (s, FALSE);
}

gchar *
qsl_codec_kbps_list_text (const QslCodec * codec)
{
  return qsl_codec_kbps_list (codec, FALSE);
}

gchar *
qsl_codecs_bitrate_text (void)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_codecs); i++) {
    const QslCodec *c = &qsl_codecs[i];

    if (!c->kbps)
      continue;                 /* fixed: no choice to explain */
    if (s->len)
      g_string_append (s, "; ");
    if (c->list_kbps) {
      gchar *list = qsl_codec_kbps_list (c, TRUE);

      g_string_append_printf (s, "%s: %s", c->name, list);
      g_free (list);
    } else {
      g_string_append_printf (s, "%s: %d-%d, default %d", c->name,
          qsl_codec_min_kbps (c), qsl_codec_max_kbps (c), c->default_kbps);
    }
  }
  return g_string_free (s, FALSE);
}

gchar *
qsl_codecs_latency_text (void)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (qsl_codecs); i++)
    g_string_append_printf (s, "%s%s %d", i > 0 ? ", " : "",
        qsl_codecs[i].name, qsl_codecs[i].latency_ms);
  return g_string_free (s, FALSE);
}
