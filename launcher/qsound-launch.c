/* qsound-launch — stream what one computer plays to another, live.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Like GStreamer's tools/gst-launch.c, but with four fixed modes: each mode
 * is a pipeline description under pipelines/ with @PLACEHOLDERS@ that this
 * program fills from its options.  `--print` shows the filled description,
 * which gst-launch-1.0 runs the same way.
 *
 * Exit codes: 0 done (end of stream or Ctrl-C), 1 bad usage, 2 runtime error.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>

#include <gio/gio.h>
#include <gst/gst.h>

#include "qsl-key.h"
#include "qsl-platform.h"
#include "qsl-replug.h"

#ifdef G_OS_UNIX
#include <unistd.h>
#define qs_isatty(fd) isatty (fd)
#else
#include <io.h>
#define qs_isatty(fd) _isatty (fd)
#endif

enum
{
  EXIT_DONE = 0,
  EXIT_USAGE = 1,
  EXIT_RUNTIME = 2
};

#define USAGE_LINE \
  "Usage: qsound-launch [-n HOST] [-p PORT] [-m MODE] [-c mp3|opus|pcm] " \
  "[-b KBPS] [-d DEVICE] [-o OUTPUT] [-l MS] [-k KEY] [--new-key] [--print] [-q]"

/* ------------------------------------------------------------ the modes */

typedef struct
{
  gint mode;
  const gchar *file;
  gboolean server;
  gboolean transmit;
  const gchar *summary;
  gint pairs_with;
} QsMode;

static const QsMode qs_modes[] = {
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

typedef struct
{
  const gchar *name;
  gint default_kbps;
  gint min_kbps;
  gint max_kbps;
  /* the encoder chain; %d is the bitrate in kbit/s */
  const gchar *encoder;
  /* a receiver's default room for network jitter (audiojitterbuffer), in
   * ms: a loopback or LAN link needs little; -l raises it on a worse one */
  gint latency_ms;
} QsCodec;

static const QsCodec qs_codecs[] = {
  {"mp3", 192, 32, 320,
        "audio/x-raw,rate=48000,channels=2 "
        "! lamemp3enc target=bitrate cbr=true bitrate=%d", 10},
  {"opus", 128, 6, 510,
        "audio/x-raw,rate=48000,channels=2 "
        "! opusenc audio-type=restricted-lowdelay frame-size=5 "
        "bitrate=%d000", 8},
  {"pcm", 1536, 1536, 1536,
      "audio/x-raw,format=S16LE,rate=48000,channels=2", 8},
};

/* ------------------------------------------------------------- settings */

typedef struct
{
  gchar *host;
  gint port;
  const QsMode *mode;
  const QsCodec *codec;
  gint kbps;
  gchar *device;
  gchar *output;
  gchar *key;
  gint latency_ms;              /* the receiver's jitter room */
  gboolean latency_set;         /* given with -l, else by the stream's codec */
  gboolean print;
  gboolean quiet;
} QsSettings;

/* -------------------------------------------------------------- running */

typedef struct
{
  QsSettings *set;
  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *net;
  GstElement *jitter;           /* a receiver's audiojitterbuffer */
  GstElement *capture;
  gchar *capture_device;
  gint exit_code;
  gboolean interrupted;
  gboolean tty;

  /* what the status shows */
  gchar *last_state;
  gchar *decoder;
  gdouble peak_db;
  gboolean have_level;
  GstClockTime latency;
  guint64 last_bytes;
  gint64 last_bytes_time;
  gdouble kbps;
  gint64 last_summary;
  guint status_width;
} QsApp;

static void
qs_usage_error (const gchar * format, ...) G_GNUC_PRINTF (1, 2);

static void
qs_usage_error (const gchar * format, ...)
{
  va_list ap;
  gchar *msg;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("qsound-launch: %s\n%s\n", msg, USAGE_LINE);
  g_free (msg);
}

/* Quote a value for gst-launch-1.0 syntax: bare when it is a plain word,
 * otherwise in double quotes with " and \ escaped. */
static gchar *
qs_quote (const gchar * value)
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
qs_pipelines_dir (const gchar * file, gchar ** path_out)
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
#define QS_PULSESINK_SETTINGS "buffer-time=40000 latency-time=5000 sync=false"

#define QS_WASAPISINK_SETTINGS "low-latency=true sync=false"

static gchar *
qs_sink_description (const QsSettings * set)
{
  gchar *q, *ret;

#ifdef G_OS_WIN32
  /* WASAPI in shared mode, with the small buffer of its low-latency mode
   * (processing-deadline=0, as on pulsesink, lost bursts and doubled the
   * spread under Wine: docs/WINDOWS.md) */
  if (set->output == NULL)
    return g_strdup ("wasapisink name=sink " QS_WASAPISINK_SETTINGS);
  q = qs_quote (set->output);
  ret = g_strdup_printf ("wasapisink name=sink device=%s "
      QS_WASAPISINK_SETTINGS, q);
#else
  if (set->output == NULL)
    return g_strdup ("pulsesink name=sink " QS_PULSESINK_SETTINGS);
  q = qs_quote (set->output);
  ret = g_strdup_printf ("pulsesink name=sink device=%s "
      QS_PULSESINK_SETTINGS, q);
#endif
  g_free (q);
  return ret;
}

/* Fill the mode's description: drop '#' comment lines, join the rest with
 * spaces, replace the placeholders.  Returns NULL and sets @error when the
 * file cannot be read or names an unknown placeholder. */
static gchar *
qs_build_description (const QsSettings * set, GError ** error)
{
  gchar *path = NULL, *contents = NULL, **lines, *encoder, *sink;
  GString *desc;
  guint i;
  gchar *vals[7][2];
  const gchar *p;

  if (!qs_pipelines_dir (set->mode->file, &path)) {
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
  sink = qs_sink_description (set);
  vals[0][0] = (gchar *) "HOST";
  vals[0][1] = qs_quote (set->host);
  vals[1][0] = (gchar *) "PORT";
  vals[1][1] = g_strdup_printf ("%d", set->port);
  vals[2][0] = (gchar *) "KEY";
  vals[2][1] = qs_quote (set->key ? set->key : "");
  vals[3][0] = (gchar *) "DEVICE";
  vals[3][1] = qs_quote (set->device ? set->device : "");
  vals[4][0] = (gchar *) "ENCODER";
  vals[4][1] = encoder;
  vals[5][0] = (gchar *) "SINK";
  vals[5][1] = sink;
  vals[6][0] = (gchar *) "LATENCY";
  vals[6][1] = g_strdup_printf ("%" G_GUINT64_FORMAT,
      (guint64) set->latency_ms * GST_MSECOND);

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
static gchar *
qs_shell_form (const gchar * desc)
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

/* --------------------------------------------------------- validation */

static gboolean
qs_parse_int (const gchar * s, gint64 min, gint64 max, gint * out)
{
  gint64 v;

  if (!g_ascii_string_to_signed (s, 10, min, max, &v, NULL))
    return FALSE;
  *out = (gint) v;
  return TRUE;
}

static gboolean
qs_host_syntax_ok (const gchar * host)
{
  const gchar *p;

  if (g_hostname_is_ip_address (host))
    return TRUE;
  if (host[0] == '\0' || strlen (host) > 253 || host[0] == '-'
      || host[0] == '.')
    return FALSE;
  for (p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  /* all-numeric dotted names that are not addresses (300.1.2.3) */
  for (p = host; *p; p++)
    if (!g_ascii_isdigit (*p) && *p != '.')
      return TRUE;
  return FALSE;
}

typedef struct
{
  GMainLoop *loop;
  GList *addresses;
  GError *error;
} QsResolve;

static void
qs_resolved (GObject * resolver, GAsyncResult * res, gpointer user_data)
{
  QsResolve *r = user_data;

  r->addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (resolver),
      res, &r->error);
  g_main_loop_quit (r->loop);
}

static gboolean
qs_resolve_timeout (gpointer cancellable)
{
  g_cancellable_cancel (cancellable);
  return G_SOURCE_REMOVE;
}

/* TRUE when @host is an address or a name that resolves (within 10 s). */
static gboolean
qs_host_resolves (const gchar * host, gchar ** why)
{
  GResolver *resolver;
  GCancellable *cancellable;
  QsResolve r = { NULL, NULL, NULL };
  guint timeout;

  if (g_hostname_is_ip_address (host))
    return TRUE;

  resolver = g_resolver_get_default ();
  cancellable = g_cancellable_new ();
  r.loop = g_main_loop_new (NULL, FALSE);
  g_resolver_lookup_by_name_async (resolver, host, cancellable, qs_resolved,
      &r);
  timeout = g_timeout_add_seconds (10, qs_resolve_timeout, cancellable);
  g_main_loop_run (r.loop);
  if (!g_cancellable_is_cancelled (cancellable))
    g_source_remove (timeout);

  if (r.error) {
    *why = g_strdup (r.error->message);
    g_error_free (r.error);
  }
  g_resolver_free_addresses (r.addresses);
  g_main_loop_unref (r.loop);
  g_object_unref (cancellable);
  g_object_unref (resolver);
  return *why == NULL;
}

/* ------------------------------------------------------------- status */

static void
qs_status_clear (QsApp * app)
{
  if (app->tty && app->status_width) {
    g_printerr ("\r%*s\r", app->status_width, "");
    app->status_width = 0;
  }
}

static void
qs_log (QsApp * app, const gchar * format, ...) G_GNUC_PRINTF (2, 3);

static void
qs_log (QsApp * app, const gchar * format, ...)
{
  va_list ap;
  gchar *msg;

  if (app->set->quiet)
    return;
  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  qs_status_clear (app);
  g_printerr ("qsound-launch: %s\n", msg);
  g_free (msg);
}

static GstStructure *
qs_net_stats (QsApp * app)
{
  GstStructure *s = NULL;

  if (app->net && g_object_class_find_property (G_OBJECT_GET_CLASS (app->net),
          "stats"))
    g_object_get (app->net, "stats", &s, NULL);
  return s;
}

static guint64 qs_get_u64 (const GstStructure * s, const gchar * field);

/* A transmitter's capture: logs the device it captures when that changes,
 * returns the frames it lost (never silently: they are counted). */
static guint64
qs_capture_stats (QsApp * app)
{
  GstStructure *s = NULL;
  const gchar *device;
  guint64 lost;

  if (!app->capture
      || !g_object_class_find_property (G_OBJECT_GET_CLASS (app->capture),
          "stats"))
    return 0;
  g_object_get (app->capture, "stats", &s, NULL);
  if (!s)
    return 0;
  device = gst_structure_get_string (s, "device");
  if (device && *device && g_strcmp0 (device, app->capture_device) != 0) {
    qs_log (app, "capturing %s", device);
    g_free (app->capture_device);
    app->capture_device = g_strdup (device);
  }
  lost = qs_get_u64 (s, "frames-lost");
  gst_structure_free (s);
  return lost;
}

static guint64
qs_get_u64 (const GstStructure * s, const gchar * field)
{
  guint64 v64 = 0;
  guint v = 0;

  if (gst_structure_get_uint64 (s, field, &v64))
    return v64;
  if (gst_structure_get_uint (s, field, &v))
    return v;
  return 0;
}

static gint
qs_server_port (QsApp * app)
{
  gint port = app->set->port;

  if (app->net && g_object_class_find_property (G_OBJECT_GET_CLASS (app->net),
          "current-port"))
    g_object_get (app->net, "current-port", &port, NULL);
  return port;
}

/* The sentence for a transport state, e.g. "waiting for server at ...". */
static gchar *
qs_state_text (QsApp * app, const gchar * state, const gchar * peer,
    guint clients)
{
  const QsSettings *set = app->set;

  if (g_strcmp0 (state, "listening") == 0)
    return g_strdup_printf ("listening on %s:%d", set->host,
        qs_server_port (app));
  if (g_strcmp0 (state, "connecting") == 0)
    return g_strdup_printf ("connecting to %s:%d", set->host, set->port);
  if (g_strcmp0 (state, "waiting") == 0)
    return g_strdup_printf ("waiting for server at %s:%d, retrying",
        set->host, set->port);
  if (g_strcmp0 (state, "connected") == 0) {
    if (set->mode->server && set->mode->transmit && clients > 1)
      return g_strdup_printf ("serving %u receivers on %s:%d", clients,
          set->host, qs_server_port (app));
    return g_strdup_printf ("connected to %s", peer && *peer ? peer : "peer");
  }
  if (state == NULL || g_strcmp0 (state, "idle") == 0)
    return g_strdup ("starting");
  return g_strdup (state);
}

static gchar *
qs_codec_text (QsApp * app)
{
  const QsSettings *set = app->set;

  gchar *decoder, *text;

  if (set->mode->transmit)
    return g_strdup_printf ("%s %d kbps", set->codec->name, set->kbps);
  /* set from a streaming thread (qs_deep_element_added) */
  GST_OBJECT_LOCK (app->pipeline);
  decoder = g_strdup (app->decoder);
  GST_OBJECT_UNLOCK (app->pipeline);
  if (decoder)
    text = g_strdup_printf ("%s, %.0f kbps", decoder, app->kbps);
  else
    text = g_strdup_printf ("%.0f kbps", app->kbps);
  g_free (decoder);
  return text;
}

/* A server on the network that nobody reached within 30 s: say which
 * firewall setting lets the other computer in (once). */
static void
qs_firewall_hint (QsApp * app, const gchar * state)
{
  static gint64 listening_since;
  static gboolean hinted, reached;
  gint64 now = g_get_monotonic_time ();
  gchar *hint;

  if (g_strcmp0 (state, "connected") == 0)
    reached = TRUE;
  if (hinted || reached || !app->set->mode->server
      || g_strcmp0 (state, "listening") != 0) {
    listening_since = 0;
    return;
  }
  if (!listening_since)
    listening_since = now;
  if (now - listening_since < 30 * G_USEC_PER_SEC)
    return;
  hinted = TRUE;
  hint = qsl_platform_firewall_hint (app->set->host, qs_server_port (app));
  if (hint)
    qs_log (app, "%s", hint);
  g_free (hint);
}

static gboolean
qs_status_tick (gpointer user_data)
{
  QsApp *app = user_data;
  GstStructure *s;
  const gchar *state = NULL, *peer = NULL;
  guint64 drops = 0, bytes = 0, capture_lost;
  guint reconnects = 0, clients = 0;
  gchar *state_text, *codec_text, *meter, *line, *latency_text;
  gchar *capture_text;
  gint64 now = g_get_monotonic_time ();

  s = qs_net_stats (app);
  if (s) {
    state = gst_structure_get_string (s, "state");
    peer = gst_structure_get_string (s, "peer");
    drops = qs_get_u64 (s, app->set->mode->transmit ? "dropped" : "lost");
    bytes = qs_get_u64 (s, "bytes");
    reconnects = (guint) qs_get_u64 (s, "reconnects");
    clients = (guint) qs_get_u64 (s, "clients");
  }

  if (app->last_bytes_time && now > app->last_bytes_time
      && bytes >= app->last_bytes) {
    gdouble k = (bytes - app->last_bytes) * 8.0 / 1000.0 /
        ((now - app->last_bytes_time) / 1e6);
    app->kbps = app->kbps > 0 ? 0.7 * app->kbps + 0.3 * k : k;
  }
  app->last_bytes = bytes;
  app->last_bytes_time = now;

  capture_lost = qs_capture_stats (app);
  qs_firewall_hint (app, state);
  state_text = qs_state_text (app, state, peer, clients);
  codec_text = qs_codec_text (app);

  /* state changes are always logged as plain lines */
  if (g_strcmp0 (state_text, app->last_state) != 0) {
    if (!app->tty)
      qs_log (app, "%s", state_text);
    g_free (app->last_state);
    app->last_state = g_strdup (state_text);
  }

  if (app->have_level) {
    gint cells = (gint) CLAMP (floor ((app->peak_db + 61.5) / 3.0), 0, 20);
    gdouble db = CLAMP (app->peak_db, -99.0, 0.0);
    gchar bar[21];
    memset (bar, '#', cells);
    memset (bar + cells, ' ', 20 - cells);
    bar[20] = '\0';
    meter = g_strdup_printf ("[%s] %3d dB", bar, (gint) lround (db));
  } else {
    meter = g_strdup ("[no level yet]");
  }

  if (GST_CLOCK_TIME_IS_VALID (app->latency))
    latency_text = g_strdup_printf (" | latency %" G_GUINT64_FORMAT " ms",
        app->latency / GST_MSECOND);
  else
    latency_text = g_strdup ("");
  if (app->jitter) {
    /* the receiver's jitter buffer: measured room / target, the drift it
     * corrects and how often it had to re-lock */
    GstStructure *js = NULL;
    gint64 jlat = 0;
    guint64 jtarget = 0;
    gdouble ppm = 0.0;
    guint relocks = 0;
    gchar *t;

    g_object_get (app->jitter, "stats", &js, NULL);
    if (js) {
      gst_structure_get (js, "latency", G_TYPE_INT64, &jlat, "target",
          G_TYPE_UINT64, &jtarget, "drift-ppm", G_TYPE_DOUBLE, &ppm,
          "corrections", G_TYPE_UINT, &relocks, NULL);
      gst_structure_free (js);
      t = latency_text;
      latency_text = g_strdup_printf ("%s | buffer %.0f/%" G_GUINT64_FORMAT
          " ms, drift %+.0f ppm, re-locks %u", t, jlat / 1e6,
          jtarget / GST_MSECOND, ppm, relocks);
      g_free (t);
    }
  }
  capture_text = capture_lost ? g_strdup_printf (" | capture lost %"
      G_GUINT64_FORMAT " frames", capture_lost) : g_strdup ("");
  line = g_strdup_printf ("%s | %s | %s%s | drops %" G_GUINT64_FORMAT
      "%s | reconnects %u", state_text, codec_text, meter, latency_text, drops,
      capture_text, reconnects);

  if (app->set->quiet) {
    /* nothing */
  } else if (app->tty) {
    guint len, width = qsl_platform_console_width ();

    /* a line wider than the console wraps, and \r goes back only to the
     * start of its last row: cut it to fit */
    if (width > 1 && strlen (line) >= width)
      line[width - 1] = '\0';
    len = strlen (line);
    g_printerr ("\r%s%*s", line, app->status_width > len ?
        app->status_width - len : 0, "");
    app->status_width = len;
  } else if (now - app->last_summary >= 5 * G_USEC_PER_SEC) {
    qs_log (app, "%s", line);
    app->last_summary = now;
  }

  g_free (line);
  g_free (capture_text);
  g_free (latency_text);
  g_free (meter);
  g_free (codec_text);
  g_free (state_text);
  if (s)
    gst_structure_free (s);
  return G_SOURCE_CONTINUE;
}

/* -------------------------------------------------------- bus handling */

static void
qs_update_latency (QsApp * app)
{
  GstQuery *q = gst_query_new_latency ();
  gboolean live;
  GstClockTime min, max;

  if (gst_element_query (app->pipeline, q)) {
    gst_query_parse_latency (q, &live, &min, &max);
    if (live)
      app->latency = min;
  }
  gst_query_unref (q);
}

static gboolean
qs_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  QsApp *app = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *dbg = NULL;

      gst_message_parse_error (msg, &err, &dbg);
      qs_status_clear (app);
      g_printerr ("qsound-launch: %s\n", err->message);
      if (dbg && g_getenv ("QSOUND_DEBUG"))
        g_printerr ("qsound-launch: (%s: %s)\n", GST_OBJECT_NAME (msg->src),
            dbg);
      g_clear_error (&err);
      g_free (dbg);
      app->exit_code = EXIT_RUNTIME;
      g_main_loop_quit (app->loop);
      break;
    }
    case GST_MESSAGE_WARNING:{
      GError *err = NULL;

      gst_message_parse_warning (msg, &err, NULL);
      qs_log (app, "warning: %s", err->message);
      g_clear_error (&err);
      break;
    }
    case GST_MESSAGE_EOS:
      qs_log (app, app->interrupted ? "stopped" : "end of stream");
      g_main_loop_quit (app->loop);
      break;
    case GST_MESSAGE_LATENCY:
      gst_bin_recalculate_latency (GST_BIN (app->pipeline));
      qs_update_latency (app);
      break;
    case GST_MESSAGE_CLOCK_LOST:
      gst_element_set_state (app->pipeline, GST_STATE_PAUSED);
      gst_element_set_state (app->pipeline, GST_STATE_PLAYING);
      break;
    case GST_MESSAGE_STATE_CHANGED:
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (app->pipeline)) {
        GstState new_state;
        gst_message_parse_state_changed (msg, NULL, &new_state, NULL);
        if (new_state == GST_STATE_PLAYING)
          qs_update_latency (app);
      }
      break;
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *s = gst_message_get_structure (msg);

      if (gst_structure_has_name (s, "level")) {
        const GValue *peaks = gst_structure_get_value (s, "peak");
        gdouble best = -200.0;
        guint i;

        G_GNUC_BEGIN_IGNORE_DEPRECATIONS;
        if (peaks && g_type_is_a (G_VALUE_TYPE (peaks),
                g_type_from_name ("GValueArray"))) {
          GValueArray *arr = g_value_get_boxed (peaks);
          for (i = 0; i < arr->n_values; i++)
            best = MAX (best, g_value_get_double (&arr->values[i]));
        }
        G_GNUC_END_IGNORE_DEPRECATIONS;
        app->peak_db = best;
        app->have_level = TRUE;
      }
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static void
qs_deep_element_added (GstBin * bin, GstBin * sub_bin, GstElement * element,
    gpointer user_data)
{
  QsApp *app = user_data;
  GstElementFactory *f = gst_element_get_factory (element);
  const gchar *klass;

  if (!f || GST_IS_BIN (element))     /* a decodebin is no decoder */
    return;
  klass = gst_element_factory_get_metadata (f, GST_ELEMENT_METADATA_KLASS);
  if (klass && strstr (klass, "Decoder")) {
    /* called from a streaming thread: hand over to the main loop */
    gchar *name = g_strdup (GST_OBJECT_NAME (f));
    GST_OBJECT_LOCK (bin);
    g_free (app->decoder);
    app->decoder = name;
    GST_OBJECT_UNLOCK (bin);
    if (!app->set->quiet && !app->tty)
      g_printerr ("qsound-launch: decoding with %s\n", name);
  }
}

/* A receiver without -l: when the stream says what it is (the caps framedtcpsrc
 * puts on its pad, before any audio), give the jitter buffer that codec's
 * room.  Called from the streaming thread; the element posts a latency
 * message and the bus handler recalculates. */
static void
qs_stream_caps (GstPad * pad, GParamSpec * pspec, gpointer user_data)
{
  QsApp *app = user_data;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  const gchar *name;
  const QsCodec *codec = NULL;

  if (!caps)
    return;
  name = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  if (g_str_equal (name, "audio/mpeg"))
    codec = &qs_codecs[0];
  else if (g_str_equal (name, "audio/x-opus"))
    codec = &qs_codecs[1];
  else if (g_str_equal (name, "audio/x-raw"))
    codec = &qs_codecs[2];
  if (codec) {
    guint64 want = (guint64) codec->latency_ms * GST_MSECOND, have = 0;

    g_object_get (app->jitter, "latency", &have, NULL);
    if (want != have) {
      g_object_set (app->jitter, "latency", want, NULL);
      if (!app->set->quiet && !app->tty)
        g_printerr ("qsound-launch: %s stream: %d ms of room for jitter "
            "(-l to change)\n", codec->name, codec->latency_ms);
    }
  }
  gst_caps_unref (caps);
}

static gboolean
qs_force_quit (gpointer user_data)
{
  QsApp *app = user_data;

  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

/* Ctrl-C: the first one asks the pipeline to end its stream; the loop ends
 * on EOS (or after two seconds, or at a second Ctrl-C). */
static gboolean
qs_interrupt (gpointer user_data)
{
  QsApp *app = user_data;

  if (app->interrupted) {
    g_main_loop_quit (app->loop);
    return G_SOURCE_CONTINUE;
  }
  app->interrupted = TRUE;
  qs_status_clear (app);
  gst_element_send_event (app->pipeline, gst_event_new_eos ());
  g_timeout_add_seconds (2, qs_force_quit, app);
  return G_SOURCE_CONTINUE;
}


static gint
qs_run (QsSettings * set, const gchar * description)
{
  QsApp app = { 0, };
  GError *err = NULL;
  GstBus *bus;
  guint watch, tick;
  GstStateChangeReturn ret;

  app.set = set;
  app.exit_code = EXIT_DONE;
  app.tty = qs_isatty (2);
  app.latency = GST_CLOCK_TIME_NONE;
  app.peak_db = -200.0;

  app.pipeline = gst_parse_launch_full (description, NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!app.pipeline) {
    g_printerr ("qsound-launch: could not build the mode %d pipeline: %s; "
        "install the GStreamer plugin that provides it or check the "
        "pipeline with --print.\n", set->mode->mode, err->message);
    g_clear_error (&err);
    return EXIT_RUNTIME;
  }
  app.net = gst_bin_get_by_name (GST_BIN (app.pipeline), "net");
  app.jitter = gst_bin_get_by_name (GST_BIN (app.pipeline), "jitter");
  if (app.jitter && app.net && !set->latency_set) {
    GstPad *pad = gst_element_get_static_pad (app.net, "src");

    if (pad) {
      g_signal_connect (pad, "notify::caps", G_CALLBACK (qs_stream_caps),
          &app);
      gst_object_unref (pad);
    }
  }
  app.capture = gst_bin_get_by_name (GST_BIN (app.pipeline), "capture");
  app.loop = g_main_loop_new (NULL, FALSE);

  qsl_replug_install (app.pipeline);     /* the next sender's codec */
  g_signal_connect (app.pipeline, "deep-element-added",
      G_CALLBACK (qs_deep_element_added), &app);
  bus = gst_element_get_bus (app.pipeline);
  watch = gst_bus_add_watch (bus, qs_bus_message, &app);
  gst_object_unref (bus);

  qsl_platform_catch_interrupt (qs_interrupt, &app);

  if (!set->quiet && !app.tty) {
    /* the key stays out of logs */
    QsSettings shown = *set;
    gchar *text;

    if (set->key && *set->key)
      shown.key = (gchar *) "(hidden)";
    text = qs_build_description (&shown, NULL);
    g_printerr ("qsound-launch: mode %d (%s), pipeline: %s\n",
        set->mode->mode, set->mode->summary, text ? text : "");
    g_free (text);
  }

  ret = gst_element_set_state (app.pipeline, GST_STATE_PLAYING);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    /* the element said why on the bus; let the watch print it */
    GstMessage *m;
    bus = gst_element_get_bus (app.pipeline);
    m = gst_bus_timed_pop_filtered (bus, GST_SECOND, GST_MESSAGE_ERROR);
    if (m) {
      qs_bus_message (bus, m, &app);
      gst_message_unref (m);
    } else {
      g_printerr ("qsound-launch: the mode %d pipeline could not start; run "
          "it with --print and gst-launch-1.0 -v to see which element "
          "refused.\n", set->mode->mode);
    }
    gst_object_unref (bus);
    app.exit_code = EXIT_RUNTIME;
  } else {
    tick = g_timeout_add (app.tty ? 250 : 1000, qs_status_tick, &app);
    qs_status_tick (&app);
    g_main_loop_run (app.loop);
    g_source_remove (tick);
    qs_status_clear (&app);
  }

  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  qsl_platform_stopped ();
  g_source_remove (watch);
  if (app.net)
    gst_object_unref (app.net);
  if (app.jitter)
    gst_object_unref (app.jitter);
  if (app.capture)
    gst_object_unref (app.capture);
  g_free (app.capture_device);
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);
  g_free (app.last_state);
  g_free (app.decoder);
  return app.exit_code;
}

/* ---------------------------------------------------------------- main */

static const gchar *qs_description =
    "Streams what one computer plays to another, live.\n"
    "\n"
    "Modes (-m):\n"
    "  1  server, transmit: captures what this machine plays and serves it\n"
    "  2  client, receive:  connects to a mode 1 server and plays its sound"
    " (default)\n"
    "  3  server, receive:  waits for a mode 4 client and plays its sound\n"
    "  4  client, transmit: captures what this machine plays and sends it to"
    " a\n"
    "     mode 3 server\n"
    "1 pairs with 2, 3 with 4: use 1+2 when the playing machine can accept\n"
    "connections, 3+4 when the listening one can.\n"
    "\n"
    "Examples:\n"
    "  on the machine that plays:   qsound-launch -m 1 -n 0.0.0.0\n"
    "  on the one that listens:     qsound-launch -m 2 -n <that machine>\n"
    "or the other way round:\n"
    "  on the machine that listens: qsound-launch -m 3 -n 0.0.0.0\n"
    "  on the one that plays:       qsound-launch -m 4 -n <that machine>\n"
    "\n"
    "A server binds to HOST: the default 127.0.0.1 is reachable from this\n"
    "machine only; -n 0.0.0.0 opens it to the network: then give both ends\n"
    "the same key, made once with --new-key, as -k KEY or in the environment\n"
    "as QSOUND_KEY (which keeps it out of the process list). With a key the\n"
    "link is sealed: nobody without it can connect, listen in or alter it.\n"
    "A client connects to HOST and keeps retrying until the server is up.\n"
    "The receiver needs no codec option: the stream says what it is.\n"
    "A receiver holds a fixed delay (-l, room for network jitter; by default\n"
    "what the stream's codec needs on a quiet link) and follows the drift\n"
    "between the two machines' clocks, so it is the same after hours.\n"
    "\n"
    "--print shows the GStreamer pipeline of the mode, quoted for a shell:\n"
    "paste it after gst-launch-1.0 to run the same thing.\n"
    "Exit status: 0 done, 1 bad usage, 2 runtime error.";

int
main (int argc, char **argv)
{
  QsSettings set = { 0, };
  gchar *host = NULL, *port_s = NULL, *mode_s = NULL, *codec_s = NULL;
  gchar *bitrate_s = NULL, *latency_s = NULL, **rest = NULL;
  gboolean version = FALSE, new_key = FALSE;
  gchar *why = NULL, *desc = NULL;
  GError *err = NULL;
  GOptionContext *ctx;
  gint mode, i, ret = EXIT_DONE;
  GOptionEntry entries[] = {
    {"host", 'n', 0, G_OPTION_ARG_STRING, &host,
        "Server: address to listen on; client: server to connect to "
          "(default 127.0.0.1)", "HOST"},
    {"port", 'p', 0, G_OPTION_ARG_STRING, &port_s,
        "TCP port (default 5000; 0 lets a server pick a free one)", "PORT"},
    {"mode", 'm', 0, G_OPTION_ARG_STRING, &mode_s,
        "1 server/transmit, 2 client/receive (default), 3 server/receive, "
          "4 client/transmit", "MODE"},
    {"codec", 'c', 0, G_OPTION_ARG_STRING, &codec_s,
        "What a transmitter sends: mp3 (default), opus or pcm", "CODEC"},
    {"bitrate", 'b', 0, G_OPTION_ARG_STRING, &bitrate_s,
        "Bitrate in kbit/s (mp3: 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, "
          "192 (default), 224, 256 or 320; opus: 6-510, default 128)",
          "KBPS"},
    {"device", 'd', 0, G_OPTION_ARG_STRING, &set.device,
        "Transmitter: the output to capture, or an input (a microphone or "
          "line-in) to send instead (default: the current default output)",
          "NAME"},
    {"output", 'o', 0, G_OPTION_ARG_STRING, &set.output,
        "Receiver: where to play (default: the system's default output)",
          "NAME"},
    {"latency", 'l', 0, G_OPTION_ARG_STRING, &latency_s,
        "Receiver: room for network jitter in ms, held for as long as it "
          "runs (default by the stream's codec: mp3 10, opus 8, pcm 8; "
          "raise it on a worse link)", "MS"},
    {"key", 'k', 0, G_OPTION_ARG_STRING, &set.key,
        "Pre-shared key, the same on both ends; seals the link (default: "
          "$QSOUND_KEY, else none)", "KEY"},
    {"new-key", 0, 0, G_OPTION_ARG_NONE, &new_key,
        "Print a fresh random key for -k and exit", NULL},
    {"print", 0, 0, G_OPTION_ARG_NONE, &set.print,
        "Print the gst-launch-1.0 pipeline of the mode and exit", NULL},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &set.quiet,
        "Print nothing but errors", NULL},
    {"version", 0, 0, G_OPTION_ARG_NONE, &version,
        "Print the version and exit", NULL},
    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL},
    {NULL}
  };

  qsl_platform_init (argv[0]);
  ctx = g_option_context_new ("- stream what this computer plays, live");
  g_option_context_set_summary (ctx, qs_description);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    qs_usage_error ("%s.", err->message);
    g_clear_error (&err);
    g_option_context_free (ctx);
    ret = EXIT_USAGE;
    goto done;
  }
  g_option_context_free (ctx);

  if (version) {
    gchar *v = gst_version_string ();
    g_print ("qsound-launch %s (%s)\n", VERSION, v);
    g_free (v);
    ret = EXIT_DONE;
    goto done;
  }
  if (new_key) {
    gchar *k = qsl_key_new ();

    if (!k) {
      g_printerr ("qsound-launch: the system's random number source is "
          "unavailable; check that /dev/urandom exists.\n");
      ret = EXIT_RUNTIME;
      goto done;
    }
    g_print ("%s\n", k);
    g_free (k);
    ret = EXIT_DONE;
    goto done;
  }
  if (!set.key && g_getenv ("QSOUND_KEY"))
    set.key = g_strdup (g_getenv ("QSOUND_KEY"));

  if (rest && rest[0]) {
    qs_usage_error ("unexpected argument \"%s\"; all settings are options.",
        rest[0]);
    ret = EXIT_USAGE;
    goto done;
  }

  /* mode */
  mode = 2;
  if (mode_s && !qs_parse_int (mode_s, 1, 4, &mode)) {
    qs_usage_error ("unknown mode \"%s\"; use 1, 2, 3 or 4 (see --help).",
        mode_s);
    ret = EXIT_USAGE;
    goto done;
  }
  for (i = 0; i < (gint) G_N_ELEMENTS (qs_modes); i++)
    if (qs_modes[i].mode == mode)
      set.mode = &qs_modes[i];

  /* port */
  set.port = 5000;
  if (port_s && !qs_parse_int (port_s, 0, 65535, &set.port)) {
    qs_usage_error ("port \"%s\" is out of range; use a number from 1 to "
        "65535.", port_s);
    ret = EXIT_USAGE;
    goto done;
  }
  if (set.port == 0 && !set.mode->server) {
    qs_usage_error ("a client needs the server's port; port 0 only lets a "
        "server (mode 1 or 3) pick a free one.");
    ret = EXIT_USAGE;
    goto done;
  }

  /* codec and bitrate */
  set.codec = &qs_codecs[0];
  if (codec_s) {
    set.codec = NULL;
    for (i = 0; i < (gint) G_N_ELEMENTS (qs_codecs); i++)
      if (g_ascii_strcasecmp (codec_s, qs_codecs[i].name) == 0)
        set.codec = &qs_codecs[i];
    if (!set.codec) {
      qs_usage_error ("unknown codec \"%s\"; use mp3, opus or pcm.", codec_s);
      ret = EXIT_USAGE;
      goto done;
    }
  }
  set.kbps = set.codec->default_kbps;
  if (bitrate_s) {
    if (set.codec->min_kbps == set.codec->max_kbps) {
      qs_usage_error ("%s has a fixed bitrate (%d kbit/s); drop -b.",
          set.codec->name, set.codec->default_kbps);
      ret = EXIT_USAGE;
      goto done;
    }
    if (!qs_parse_int (bitrate_s, set.codec->min_kbps, set.codec->max_kbps,
            &set.kbps)) {
      qs_usage_error ("bitrate \"%s\" does not suit %s; use %d to %d kbit/s.",
          bitrate_s, set.codec->name, set.codec->min_kbps,
          set.codec->max_kbps);
      ret = EXIT_USAGE;
      goto done;
    }
    if (strcmp (set.codec->name, "mp3") == 0) {
      /* constant-bitrate MPEG-1 layer 3 has a fixed set of bitrates */
      static const gint mp3_kbps[] = { 32, 40, 48, 56, 64, 80, 96, 112, 128,
        160, 192, 224, 256, 320
      };
      gboolean ok = FALSE;

      for (i = 0; i < (gint) G_N_ELEMENTS (mp3_kbps); i++)
        ok |= (mp3_kbps[i] == set.kbps);
      if (!ok) {
        qs_usage_error ("bitrate %d is not an mp3 bitrate; use 32, 40, 48, "
            "56, 64, 80, 96, 112, 128, 160, 192, 224, 256 or 320.", set.kbps);
        ret = EXIT_USAGE;
      goto done;
      }
    }
  }

  /* the receiver's jitter room */
  set.latency_ms = set.codec->latency_ms;
  if (latency_s) {
    if (!qs_parse_int (latency_s, 1, 10000, &set.latency_ms)) {
      qs_usage_error ("latency \"%s\" is out of range; use 1 to 10000 ms.",
          latency_s);
      return EXIT_USAGE;
    }
    set.latency_set = TRUE;
  }

  /* host */
  set.host = host ? host : g_strdup ("127.0.0.1");
  host = NULL;
  if (!qs_host_syntax_ok (set.host)) {
    qs_usage_error ("\"%s\" is not a host name or address; give a name "
        "like myhost.lan or an address like 192.168.1.20.", set.host);
    ret = EXIT_USAGE;
    goto done;
  }
  if (!qs_host_resolves (set.host, &why)) {
    qs_usage_error ("host \"%s\" could not be resolved; check the name or "
        "give its address.", set.host);
    g_free (why);
    ret = EXIT_USAGE;
    goto done;
  }

  desc = qs_build_description (&set, &err);
  if (!desc) {
    g_printerr ("qsound-launch: %s\n", err->message);
    g_clear_error (&err);
    ret = EXIT_RUNTIME;
    goto done;
  }

  if (set.print) {
    gchar *words = qs_shell_form (desc);
    g_print ("%s\n", words);
    g_free (words);
    ret = EXIT_DONE;
  } else {
    ret = qs_run (&set, desc);
  }

done:
  g_free (desc);
  g_free (set.host);
  g_free (host);
  g_free (port_s);
  g_free (mode_s);
  g_free (codec_s);
  g_free (bitrate_s);
  g_free (latency_s);
  g_free (set.device);
  g_free (set.output);
  g_free (set.key);
  g_strfreev (rest);
  gst_deinit ();
  return ret;
}
