/* qsound-launch — the status: a line redrawn in place on a terminal, plain
 * log lines without one (qsl-status.h).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The line: the transport's state, the codec and bitrate, a level meter,
 * the pipeline's latency, a receiver's jitter buffer (measured room/target,
 * drift, re-locks), drops, a transmitter's lost capture frames, reconnects.
 * Tests and benchmarks parse the plain lines ("listening on", "connected
 * to", "buffer ... re-locks N"): keep those words.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsl-status.h"
#include "qsl-platform.h"

#include <string.h>
#include <math.h>

struct _QslStatus
{
  const QslSettings *set;
  gboolean tty;
  GstElement *net;
  GstElement *jitter;
  GstElement *capture;

  GMutex lock;                  /* guards decoder */
  gchar *decoder;
  gchar *capture_device;
  gchar *last_state;
  gdouble peak_db;
  gboolean have_level;
  GstClockTime latency;
  guint64 last_bytes;
  gint64 last_bytes_time;
  gdouble kbps;
  gint64 last_summary;
  guint status_width;

  /* the firewall hint */
  gint64 listening_since;
  gboolean hinted;
  gboolean reached;
};

QslStatus *
qsl_status_new (const QslSettings * set, gboolean tty, GstElement * net,
    GstElement * jitter, GstElement * capture)
{
  QslStatus *status = g_new0 (QslStatus, 1);

  status->set = set;
  status->tty = tty;
  status->net = net;
  status->jitter = jitter;
  status->capture = capture;
  g_mutex_init (&status->lock);
  status->latency = GST_CLOCK_TIME_NONE;
  status->peak_db = -200.0;
  return status;
}

void
qsl_status_free (QslStatus * status)
{
  g_mutex_clear (&status->lock);
  g_free (status->decoder);
  g_free (status->capture_device);
  g_free (status->last_state);
  g_free (status);
}

void
qsl_status_clear (QslStatus * status)
{
  if (status->tty && status->status_width) {
    g_printerr ("\r%*s\r", status->status_width, "");
    status->status_width = 0;
  }
}

void
qsl_status_log (QslStatus * status, const gchar * format, ...)
{
  va_list ap;
  gchar *msg;

  if (status->set->quiet)
    return;
  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  qsl_status_clear (status);
  g_printerr ("qsound-launch: %s\n", msg);
  g_free (msg);
}

void
qsl_status_level (QslStatus * status, const GstStructure * level)
{
  const GValue *peaks = gst_structure_get_value (level, "peak");
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
  status->peak_db = best;
  status->have_level = TRUE;
}

void
qsl_status_set_latency (QslStatus * status, GstClockTime latency)
{
  status->latency = latency;
}

void
qsl_status_set_decoder (QslStatus * status, const gchar * name)
{
  g_mutex_lock (&status->lock);
  g_free (status->decoder);
  status->decoder = g_strdup (name);
  g_mutex_unlock (&status->lock);
}

static GstStructure *
qsl_status_net_stats (QslStatus * status)
{
  GstStructure *s = NULL;

  if (status->net
      && g_object_class_find_property (G_OBJECT_GET_CLASS (status->net),
          "stats"))
    g_object_get (status->net, "stats", &s, NULL);
  return s;
}

static guint64
qsl_get_u64 (const GstStructure * s, const gchar * field)
{
  guint64 v64 = 0;
  guint v = 0;

  if (gst_structure_get_uint64 (s, field, &v64))
    return v64;
  if (gst_structure_get_uint (s, field, &v))
    return v;
  return 0;
}

/* A transmitter's capture: logs the device it captures when that changes,
 * returns the frames it lost (never silently: they are counted). */
static guint64
qsl_status_capture_stats (QslStatus * status)
{
  GstStructure *s = NULL;
  const gchar *device;
  guint64 lost;

  if (!status->capture
      || !g_object_class_find_property (G_OBJECT_GET_CLASS (status->capture),
          "stats"))
    return 0;
  g_object_get (status->capture, "stats", &s, NULL);
  if (!s)
    return 0;
  device = gst_structure_get_string (s, "device");
  if (device && *device && g_strcmp0 (device, status->capture_device) != 0) {
    qsl_status_log (status, "capturing %s", device);
    g_free (status->capture_device);
    status->capture_device = g_strdup (device);
  }
  lost = qsl_get_u64 (s, "frames-lost");
  gst_structure_free (s);
  return lost;
}

static gint
qsl_status_server_port (QslStatus * status)
{
  gint port = status->set->port;

  if (status->net
      && g_object_class_find_property (G_OBJECT_GET_CLASS (status->net),
          "current-port"))
    g_object_get (status->net, "current-port", &port, NULL);
  return port;
}

/* The sentence for a transport state, e.g. "waiting for server at ...". */
static gchar *
qsl_status_state_text (QslStatus * status, const gchar * state,
    const gchar * peer, guint clients)
{
  const QslSettings *set = status->set;

  if (g_strcmp0 (state, "listening") == 0)
    return g_strdup_printf ("listening on %s:%d", set->host,
        qsl_status_server_port (status));
  if (g_strcmp0 (state, "connecting") == 0)
    return g_strdup_printf ("connecting to %s:%d", set->host, set->port);
  if (g_strcmp0 (state, "waiting") == 0)
    return g_strdup_printf ("waiting for server at %s:%d, retrying",
        set->host, set->port);
  if (g_strcmp0 (state, "connected") == 0) {
    if (set->mode->server && set->mode->transmit && clients > 1)
      return g_strdup_printf ("serving %u receivers on %s:%d", clients,
          set->host, qsl_status_server_port (status));
    return g_strdup_printf ("connected to %s", peer && *peer ? peer : "peer");
  }
  if (state == NULL || g_strcmp0 (state, "idle") == 0)
    return g_strdup ("starting");
  return g_strdup (state);
}

static gchar *
qsl_status_codec_text (QslStatus * status)
{
  const QslSettings *set = status->set;
  gchar *decoder, *text;

  if (set->mode->transmit)
    return g_strdup_printf ("%s %d kbps", set->codec->name, set->kbps);
  /* set from a streaming thread (qsl_status_set_decoder) */
  g_mutex_lock (&status->lock);
  decoder = g_strdup (status->decoder);
  g_mutex_unlock (&status->lock);
  if (decoder)
    text = g_strdup_printf ("%s, %.0f kbps", decoder, status->kbps);
  else
    text = g_strdup_printf ("%.0f kbps", status->kbps);
  g_free (decoder);
  return text;
}

/* A server on the network that nobody reached within 30 s: say which
 * firewall setting lets the other computer in (once). */
static void
qsl_status_firewall_hint (QslStatus * status, const gchar * state)
{
  gint64 now = g_get_monotonic_time ();
  gchar *hint;

  if (g_strcmp0 (state, "connected") == 0)
    status->reached = TRUE;
  if (status->hinted || status->reached || !status->set->mode->server
      || g_strcmp0 (state, "listening") != 0) {
    status->listening_since = 0;
    return;
  }
  if (!status->listening_since)
    status->listening_since = now;
  if (now - status->listening_since < 30 * G_USEC_PER_SEC)
    return;
  status->hinted = TRUE;
  hint = qsl_platform_firewall_hint (status->set->host,
      qsl_status_server_port (status));
  if (hint)
    qsl_status_log (status, "%s", hint);
  g_free (hint);
}

gboolean
qsl_status_tick (gpointer user_data)
{
  QslStatus *status = user_data;
  GstStructure *s;
  const gchar *state = NULL, *peer = NULL;
  guint64 drops = 0, bytes = 0, capture_lost;
  guint reconnects = 0, clients = 0;
  gchar *state_text, *codec_text, *meter, *line, *latency_text;
  gchar *capture_text;
  gint64 now = g_get_monotonic_time ();

  s = qsl_status_net_stats (status);
  if (s) {
    state = gst_structure_get_string (s, "state");
    peer = gst_structure_get_string (s, "peer");
    drops = qsl_get_u64 (s, status->set->mode->transmit ? "dropped" : "lost");
    bytes = qsl_get_u64 (s, "bytes");
    reconnects = (guint) qsl_get_u64 (s, "reconnects");
    clients = (guint) qsl_get_u64 (s, "clients");
  }

  if (status->last_bytes_time && now > status->last_bytes_time
      && bytes >= status->last_bytes) {
    gdouble k = (bytes - status->last_bytes) * 8.0 / 1000.0 /
        ((now - status->last_bytes_time) / 1e6);
    status->kbps = status->kbps > 0 ? 0.7 * status->kbps + 0.3 * k : k;
  }
  status->last_bytes = bytes;
  status->last_bytes_time = now;

  capture_lost = qsl_status_capture_stats (status);
  qsl_status_firewall_hint (status, state);
  state_text = qsl_status_state_text (status, state, peer, clients);
  codec_text = qsl_status_codec_text (status);

  /* state changes are always logged as plain lines */
  if (g_strcmp0 (state_text, status->last_state) != 0) {
    if (!status->tty)
      qsl_status_log (status, "%s", state_text);
    g_free (status->last_state);
    status->last_state = g_strdup (state_text);
  }

  if (status->have_level) {
    gint cells = (gint) CLAMP (floor ((status->peak_db + 61.5) / 3.0), 0, 20);
    gdouble db = CLAMP (status->peak_db, -99.0, 0.0);
    gchar bar[21];
    memset (bar, '#', cells);
    memset (bar + cells, ' ', 20 - cells);
    bar[20] = '\0';
    meter = g_strdup_printf ("[%s] %3d dB", bar, (gint) lround (db));
  } else {
    meter = g_strdup ("[no level yet]");
  }

  if (GST_CLOCK_TIME_IS_VALID (status->latency))
    latency_text = g_strdup_printf (" | latency %" G_GUINT64_FORMAT " ms",
        status->latency / GST_MSECOND);
  else
    latency_text = g_strdup ("");
  if (status->jitter) {
    /* the receiver's jitter buffer: measured room / target, the drift it
     * corrects and how often it had to re-lock */
    GstStructure *js = NULL;
    gint64 jlat = 0;
    guint64 jtarget = 0;
    gdouble ppm = 0.0;
    guint relocks = 0;
    gchar *t;

    g_object_get (status->jitter, "stats", &js, NULL);
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

  if (status->set->quiet) {
    /* nothing */
  } else if (status->tty) {
    guint len, width = qsl_platform_console_width ();

    /* a line wider than the console wraps, and \r goes back only to the
     * start of its last row: cut it to fit */
    if (width > 1 && strlen (line) >= width)
      line[width - 1] = '\0';
    len = strlen (line);
    g_printerr ("\r%s%*s", line, status->status_width > len ?
        status->status_width - len : 0, "");
    status->status_width = len;
  } else if (now - status->last_summary >= 5 * G_USEC_PER_SEC) {
    qsl_status_log (status, "%s", line);
    status->last_summary = now;
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
