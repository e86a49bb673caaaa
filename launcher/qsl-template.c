/* qsound-launch — a mode's pipeline description, filled from the settings
 * (qsl-template.h).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each mode is a file under pipelines/ with @PLACEHOLDERS@ (HOST, PORT,
 * KEY, DEVICE, ENCODER, SINK, LATENCY, END_TO_END, ICECAST_TEE, ICECAST);
 * this module finds the file, fills it, and makes the shell form that
 * --print shows.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsl-template.h"
#include "qsl-platform.h"
#include "qsl-icecast.h"

#include <string.h>

#include <gst/gst.h>

gchar *
qsl_template_quote (const gchar * value)
{
  GString *s;
  const gchar *p;
  gboolean plain = (value[0] != '\0');

  for (p = value; *p; p++) {
    if (!g_ascii_isalnum (*p) && !strchr ("_.:/+-", *p)) {
      plain = FALSE;
      break;
    }
  }
  if (plain)
    return g_strdup (value);

  s = g_string_new ("\"");
  for (p = value; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_c (s, '\\');
    g_string_append_c (s, *p);
  }
  g_string_append_c (s, '"');
  return g_string_free (s, FALSE);
}

static const gchar *
qsl_pipelines_dir (const gchar * file, gchar ** path_out)
{
  const gchar *const *dirs = qsl_platform_pipelines_dirs ();
  guint i;

  for (i = 0; dirs[i]; i++) {
    gchar *path = g_build_filename (dirs[i], file, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
      *path_out = path;
      return dirs[i];
    }
    g_free (path);
  }
  *path_out = NULL;
  return NULL;
}

/* The receiver's audio sink.  audiojitterbuffer before it holds the room
 * for jitter and keeps the sink's buffer full, so the sink paces the
 * stream (docs/LATENCY.md): it plays what it is given as it comes
 * (sync=false: no placement by timestamps, no clock slaving of its own),
 * and its buffer is the margin for this machine's scheduling: 40 ms in 5 ms
 * segments.  10 ms was too little here with both cores busy (the sound
 * server ran dry); 20 ms was too little when the host took 30-40 % of the
 * CPU time away: after the sound server stalled, pulsesink wrote behind
 * its read position and parts of bursts were lost (docs/LATENCY.md).  On
 * Linux that is pulsesink (PulseAudio or PipeWire, as loopbacksrc), for the
 * default output too: autoaudiosink would pick it with its 200 ms default
 * buffer. */
#define QSL_PULSESINK_SETTINGS "buffer-time=40000 latency-time=5000 sync=false"

#define QSL_WASAPISINK_SETTINGS "low-latency=true sync=false"

static gchar *
qsl_sink_description (const QslSettings * set)
{
  gchar *q, *ret;

#ifdef G_OS_WIN32
  /* WASAPI in shared mode, with the small buffer of its low-latency mode
   * (processing-deadline=0, as on pulsesink, lost bursts and doubled the
   * spread under Wine: docs/WINDOWS.md) */
  if (set->output == NULL)
    return g_strdup ("wasapisink name=sink " QSL_WASAPISINK_SETTINGS);
  q = qsl_template_quote (set->output);
  ret = g_strdup_printf ("wasapisink name=sink device=%s "
      QSL_WASAPISINK_SETTINGS, q);
#else
  if (set->output == NULL)
    return g_strdup ("pulsesink name=sink " QSL_PULSESINK_SETTINGS);
  q = qsl_template_quote (set->output);
  ret = g_strdup_printf ("pulsesink name=sink device=%s "
      QSL_PULSESINK_SETTINGS, q);
#endif
  g_free (q);
  return ret;
}

gchar *
qsl_template_fill (const QslSettings * set, GError ** error)
{
  gchar *path = NULL, *contents = NULL, **lines, *encoder, *sink;
  GString *desc;
  guint i;
  gchar *vals[10][2];
  const gchar *p;

  if (!qsl_pipelines_dir (set->mode->file, &path)) {
    gchar *tried = g_strjoinv (", ", (gchar **) qsl_platform_pipelines_dirs ());

    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
        "The pipeline description %s was not found (looked in: %s; the "
        "installed place is %s, relative to qsound-launch); reinstall "
        "qsound or set QSOUND_PIPELINES_DIR to its pipelines directory.",
        set->mode->file, *tried ? tried : "nowhere",
        QSOUND_BINDIR_TO_PIPELINES);
    g_free (tried);
    return NULL;
  }
  if (!g_file_get_contents (path, &contents, NULL, error)) {
    g_free (path);
    return NULL;
  }

  encoder = g_strdup_printf (set->codec->encoder, set->kbps);
  sink = qsl_sink_description (set);
  vals[0][0] = (gchar *) "HOST";
  vals[0][1] = qsl_template_quote (set->host);
  vals[1][0] = (gchar *) "PORT";
  vals[1][1] = g_strdup_printf ("%d", set->port);
  vals[2][0] = (gchar *) "KEY";
  vals[2][1] = qsl_template_quote (set->key ? set->key : "");
  vals[3][0] = (gchar *) "DEVICE";
  vals[3][1] = qsl_template_quote (set->device ? set->device : "");
  vals[4][0] = (gchar *) "ENCODER";
  vals[4][1] = encoder;
  vals[5][0] = (gchar *) "SINK";
  vals[5][1] = sink;
  vals[6][0] = (gchar *) "LATENCY";
  vals[6][1] = g_strdup_printf ("%" G_GUINT64_FORMAT,
      (guint64) set->codec->latency_ms * GST_MSECOND);
  vals[7][0] = (gchar *) "END_TO_END";
  vals[7][1] = g_strdup_printf ("%" G_GUINT64_FORMAT, set->latency_set ?
      (guint64) set->latency_ms * GST_MSECOND : (guint64) 0);
  vals[8][0] = (gchar *) "ICECAST_TEE";
  vals[8][1] = qsl_icecast_tee_text (set);
  vals[9][0] = (gchar *) "ICECAST";
  vals[9][1] = qsl_icecast_branch_text (set);

  desc = g_string_new (NULL);
  lines = g_strsplit (contents, "\n", -1);
  for (i = 0; lines[i]; i++) {
    gchar *line = g_strstrip (lines[i]);
    if (line[0] == '\0' || line[0] == '#')
      continue;
    if (desc->len)
      g_string_append_c (desc, ' ');
    for (p = line; *p;) {
      const gchar *end;
      guint k;

      if (*p != '@' || !(end = strchr (p + 1, '@'))) {
        g_string_append_c (desc, *p++);
        continue;
      }
      for (k = 0; k < G_N_ELEMENTS (vals); k++) {
        if ((gsize) (end - p - 1) == strlen (vals[k][0])
            && strncmp (p + 1, vals[k][0], end - p - 1) == 0)
          break;
      }
      if (k == G_N_ELEMENTS (vals)) {
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
            "The pipeline description %s uses the unknown placeholder "
            "%.*s; fix the file or reinstall qsound.", path,
            (int) (end - p + 1), p);
        g_string_free (desc, TRUE);
        desc = NULL;
        goto done;
      }
      if (g_strcmp0 (vals[k][1], "\"\"") == 0 && desc->len > 0
          && desc->str[desc->len - 1] == '=') {
        /* an empty setting: leave the property out (its default is empty),
         * which keeps the description pasteable into a shell unquoted */
        gsize start = desc->len - 1;
        while (start > 0 && desc->str[start - 1] != ' ')
          start--;
        g_string_truncate (desc, start > 0 ? start - 1 : 0);
      } else {
        g_string_append (desc, vals[k][1]);
      }
      p = end + 1;
    }
  }

done:
  g_strfreev (lines);
  for (i = 0; i < G_N_ELEMENTS (vals); i++)
    g_free (vals[i][1]);
  g_free (contents);
  g_free (path);
  return desc ? g_string_free (desc, FALSE) : NULL;
}

/* The description as shell words for `gst-launch-1.0 <paste>`: gst-launch
 * joins its arguments and escapes spaces outside double quotes, so each
 * gst-launch token must reach it as one argument.  Tokens (split at spaces
 * outside double quotes) with characters a shell would interpret are put in
 * single quotes. */
gchar *
qsl_template_shell_form (const gchar * desc)
{
  GString *out = g_string_new (NULL), *tok = g_string_new (NULL);
  gboolean in_quotes = FALSE;
  const gchar *p;

  for (p = desc;; p++) {
    if (*p == '\0' || (*p == ' ' && !in_quotes)) {
      if (tok->len) {
        const gchar *t;
        gboolean plain = TRUE;

        for (t = tok->str; *t; t++)
          if (!g_ascii_isalnum (*t) && !strchr ("_./:=,+@%!-", *t))
            plain = FALSE;
        if (out->len)
          g_string_append_c (out, ' ');
        if (plain) {
          g_string_append (out, tok->str);
        } else {
          g_string_append_c (out, '\'');
          for (t = tok->str; *t; t++) {
            if (*t == '\'')
              g_string_append (out, "'\\''");
            else
              g_string_append_c (out, *t);
          }
          g_string_append_c (out, '\'');
        }
        g_string_truncate (tok, 0);
      }
      if (*p == '\0')
        break;
      continue;
    }
    if (*p == '\\' && in_quotes && p[1]) {
      g_string_append_c (tok, *p++);
    } else if (*p == '"') {
      in_quotes = !in_quotes;
    }
    g_string_append_c (tok, *p);
  }
  g_string_free (tok, TRUE);
  return g_string_free (out, FALSE);
}
