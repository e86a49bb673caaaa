/* qsound-launch — publishing a transmitter's stream to Icecast
 * (qsl-icecast.h).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The transmitter's pipeline gets a tee after its encoder; one side goes
 * on to framedtcpsink as before, the other through a leaky queue into an
 * appsink.  Everything Icecast-side lives in a second pipeline, "appsrc !
 * [oggmux | lamemp3enc] ! shout2send", with a bus of its own: when Icecast
 * is down, restarts or refuses the password, that pipeline errors out, is
 * torn down and is built again after a backoff (0.5 s doubling to 4 s,
 * +-25 %), and the transmitter's pipeline never sees it.  Neither the
 * queue (leaky) nor the appsrc (leaky, non-blocking) can hold up the tee.
 * The listener count comes from Icecast's status-json.xsl, fetched every
 * 2 s with GIO on the main context, never on a streaming thread.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsl-icecast.h"
#include "qsl-template.h"

#include <string.h>

#include <gio/gio.h>
#include <gst/app/app.h>

/* backoff between attempts to publish, ms */
#define QSL_ICECAST_BACKOFF_MIN_MS 500
#define QSL_ICECAST_BACKOFF_MAX_MS 4000
/* how often status-json.xsl is read, ms */
#define QSL_ICECAST_POLL_MS 2000
/* the most of a status document read */
#define QSL_ICECAST_STATUS_MAX (1 << 20)
/* what the appsrc holds at most while Icecast is slow: then it drops the
 * oldest */
#define QSL_ICECAST_APPSRC_BYTES (512 * 1024)
/* the tap hands the publishing pipeline its buffers in batches this long,
 * or this many */
#define QSL_ICECAST_BATCH (40 * GST_MSECOND)
#define QSL_ICECAST_BATCH_MAX 64
/* pcm goes to Icecast as mp3 at this bitrate */
#define QSL_ICECAST_PCM_KBPS 192

/* ------------------------------------------- descriptions (pure text) */

static gboolean
qsl_icecast_is_pcm (const QslSettings * set)
{
  return g_strcmp0 (set->codec->name, "pcm") == 0;
}

static gboolean
qsl_icecast_is_opus (const QslSettings * set)
{
  return g_strcmp0 (set->codec->name, "opus") == 0;
}

gchar *
qsl_icecast_sink_text (const QslSettings * set)
{
  gchar *name, *desc, *mount, *host, *user, *password, *qname, *qdesc, *ret;
  const gchar *middle;
  gint kbps = set->kbps;

  if (qsl_icecast_is_opus (set)) {
    /* Ogg pages at least every 100 ms: a browser starts soon; its audio
     * pad named, as an appsrc without caps yet would get a video one */
    middle = "icecast_mux.audio_%u oggmux name=icecast_mux "
        "max-delay=100000000 max-page-delay=100000000 ! ";
  } else if (qsl_icecast_is_pcm (set)) {
    middle = "audioconvert ! lamemp3enc target=bitrate cbr=true "
        "bitrate=" G_STRINGIFY (QSL_ICECAST_PCM_KBPS) " ! ";
    kbps = QSL_ICECAST_PCM_KBPS;
  } else {
    middle = "";                /* mp3: as it is */
  }
  name = g_strdup_printf ("qsound on %s", g_get_host_name ());
  desc = g_strdup_printf ("%s %d kbit/s, from qsound-launch -m %d",
      qsl_icecast_is_opus (set) ? "Opus in Ogg," : "mp3", kbps,
      set->mode->mode);
  qname = qsl_template_quote (name);
  qdesc = qsl_template_quote (desc);
  host = qsl_template_quote (set->icecast_host);
  user = qsl_template_quote (set->icecast_user);
  password = qsl_template_quote (set->icecast_password);
  mount = qsl_template_quote (set->icecast_mount);
  ret = g_strdup_printf ("%sshout2send name=shout ip=%s port=%d username=%s "
      "password=%s mount=%s streamname=%s description=%s genre=qsound "
      "sync=false async=false", middle, host, set->icecast_port, user,
      password, mount, qname, qdesc);
  g_free (name);
  g_free (desc);
  g_free (qname);
  g_free (qdesc);
  g_free (host);
  g_free (user);
  g_free (password);
  g_free (mount);
  return ret;
}

gchar *
qsl_icecast_tee_text (const QslSettings * set)
{
  if (!set->icecast_url)
    return g_strdup ("");
  return g_strdup (" ! tee name=icecast_tee");
}

/* the tee's Icecast side: never waits, drops the oldest after 2 s */
#define QSL_ICECAST_QUEUE "queue name=icecast_queue leaky=downstream " \
  "max-size-time=2000000000 max-size-bytes=0 max-size-buffers=0"

gchar *
qsl_icecast_branch_text (const QslSettings * set)
{
  gchar *sink, *ret;

  if (!set->icecast_url)
    return g_strdup ("");
  if (!set->print)
    return g_strdup (" icecast_tee. ! " QSL_ICECAST_QUEUE " ! appsink "
        "name=icecast sync=false async=false "
        "max-buffers=200 drop=true enable-last-sample=false");
  sink = qsl_icecast_sink_text (set);
  ret = g_strdup_printf (" icecast_tee. ! " QSL_ICECAST_QUEUE " ! %s", sink);
  g_free (sink);
  return ret;
}

gint
qsl_icecast_json_listeners (const gchar * json, const gchar * mount)
{
  const gchar *p = json;
  static const gchar key[] = "\"listenurl\":\"";

  /* Icecast's sources are flat objects: {"...":...,"listeners":N,
   * "listenurl":"http://HOST:PORT/MOUNT",...}; find the one whose URL's
   * path is @mount, then its listeners within the same braces */
  while ((p = strstr (p, key))) {
    const gchar *url = p + strlen (key), *end = strchr (url, '"'), *path;
    const gchar *open, *close, *l;

    if (!end)
      return -1;
    path = url;
    if (g_str_has_prefix (path, "http://"))
      path += 7;
    else if (g_str_has_prefix (path, "https://"))
      path += 8;
    path = memchr (path, '/', end - path);
    p = end;
    if (!path || (gsize) (end - path) != strlen (mount)
        || strncmp (path, mount, end - path) != 0)
      continue;
    for (open = url; open > json && *open != '{'; open--);
    close = strchr (end, '}');
    if (!close)
      close = end + strlen (end);
    for (l = open; (l = strstr (l, "\"listeners\":")) && l < close; l++) {
      gint64 n = g_ascii_strtoll (l + strlen ("\"listeners\":"), NULL, 10);
      return (gint) CLAMP (n, 0, G_MAXINT);
    }
    return 0;
  }
  return -1;
}

/* --------------------------------------------------- the publisher */

typedef enum
{
  QSL_ICECAST_CONNECTING,       /* publishing pipeline started, not listed */
  QSL_ICECAST_LIVE,             /* the mount is listed */
  QSL_ICECAST_RETRYING,         /* it failed; waiting for the next try */
  QSL_ICECAST_REFUSED,          /* the password was refused; retrying */
  QSL_ICECAST_UNAVAILABLE,      /* no shout2send or oggmux here */
} QslIcecastState;

struct _QslIcecast
{
  const QslSettings *set;
  QslStatus *status;
  GstElement *tap;              /* the appsink, in the transmitter's pipeline */
  gchar *sink_text;

  GMutex lock;                  /* guards src, caps, base, batch */
  GstElement *src;              /* the appsrc of the publishing pipeline */
  GstCaps *caps;                /* the tap's caps */
  GstClockTime base;            /* the first PTS since the last build */
  GstBufferList *batch;         /* gathered for src, not handed yet */
  GstClockTime batch_start;     /* its first PTS (rebased) */

  GstElement *pipe;             /* the publishing pipeline, or NULL */
  guint bus_watch;
  guint retry_id;
  guint poll_id;
  gint backoff_ms;
  gint attempts;
  QslIcecastState state;
  gchar *why;                   /* the last failure, one sentence */
  gint listeners;               /* -1: not known */
  gboolean polling;
  GCancellable *cancel;
  gboolean ever_live;
};

static void qsl_icecast_build (QslIcecast * ice);

/* the tap's streaming thread (behind the leaky queue): gather the buffers
 * into batches of 40 ms (Opus comes in 5 ms packets: fewer wakeups of the
 * publishing pipeline's thread) and hand each batch to that pipeline, if
 * there is one; its appsrc drops the oldest when it is full and never
 * blocks */
static GstFlowReturn
qsl_icecast_new_sample (GstAppSink * sink, gpointer user_data)
{
  QslIcecast *ice = user_data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buf;
  GstCaps *caps;
  GstElement *src = NULL;
  GstBufferList *batch = NULL;

  if (!sample)
    return GST_FLOW_OK;
  caps = gst_sample_get_caps (sample);
  buf = gst_sample_get_buffer (sample);

  g_mutex_lock (&ice->lock);
  if (caps && (!ice->caps || !gst_caps_is_equal (caps, ice->caps))) {
    gst_caps_replace (&ice->caps, caps);
    if (ice->src)
      g_object_set (ice->src, "caps", caps, NULL);
  }
  if (ice->src && buf) {
    GstBuffer *copy = gst_buffer_copy (buf);    /* shares the memory */
    GstClockTime pts = GST_BUFFER_PTS (copy), end;

    /* each publishing pipeline's stream starts at 0 */
    if (GST_CLOCK_TIME_IS_VALID (pts) && !GST_CLOCK_TIME_IS_VALID (ice->base))
      ice->base = pts;
    if (GST_CLOCK_TIME_IS_VALID (pts))
      pts = GST_BUFFER_PTS (copy) = pts > ice->base ? pts - ice->base : 0;
    GST_BUFFER_DTS (copy) = GST_CLOCK_TIME_NONE;
    if (!ice->batch) {
      ice->batch = gst_buffer_list_new ();
      ice->batch_start = pts;
    }
    gst_buffer_list_add (ice->batch, copy);
    end = pts;
    if (GST_CLOCK_TIME_IS_VALID (end) && GST_BUFFER_DURATION_IS_VALID (buf))
      end += GST_BUFFER_DURATION (buf);
    if (!GST_CLOCK_TIME_IS_VALID (end)
        || !GST_CLOCK_TIME_IS_VALID (ice->batch_start)
        || end >= ice->batch_start + QSL_ICECAST_BATCH
        || gst_buffer_list_length (ice->batch) >= QSL_ICECAST_BATCH_MAX) {
      batch = ice->batch;
      ice->batch = NULL;
      src = gst_object_ref (ice->src);
    }
  }
  g_mutex_unlock (&ice->lock);

  if (batch) {
    /* takes the list */
    gst_app_src_push_buffer_list (GST_APP_SRC (src), batch);
    gst_object_unref (src);
  }
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static void
qsl_icecast_say (QslIcecast * ice, const gchar * format, ...)
    G_GNUC_PRINTF (2, 3);

/* logs a sentence when it differs from the last one */
static void
qsl_icecast_say (QslIcecast * ice, const gchar * format, ...)
{
  va_list ap;
  gchar *msg;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (g_strcmp0 (msg, ice->why) != 0) {
    qsl_status_log (ice->status, "icecast: %s", msg);
    g_free (ice->why);
    ice->why = msg;
  } else {
    g_free (msg);
  }
}

static void
qsl_icecast_teardown (QslIcecast * ice)
{
  GstElement *pipe = ice->pipe;

  g_mutex_lock (&ice->lock);
  gst_clear_object (&ice->src);
  if (ice->batch) {
    gst_buffer_list_unref (ice->batch);
    ice->batch = NULL;
  }
  g_mutex_unlock (&ice->lock);
  if (ice->bus_watch) {
    g_source_remove (ice->bus_watch);
    ice->bus_watch = 0;
  }
  ice->pipe = NULL;
  if (pipe) {
    gst_element_set_state (pipe, GST_STATE_NULL);
    gst_object_unref (pipe);
  }
}

static gboolean
qsl_icecast_retry (gpointer user_data)
{
  QslIcecast *ice = user_data;

  ice->retry_id = 0;
  qsl_icecast_build (ice);
  return G_SOURCE_REMOVE;
}

static void
qsl_icecast_schedule (QslIcecast * ice)
{
  gint ms = ice->backoff_ms;

  ms = ms * g_random_int_range (75, 126) / 100;
  ice->backoff_ms = MIN (ice->backoff_ms * 2, QSL_ICECAST_BACKOFF_MAX_MS);
  if (ice->retry_id)
    g_source_remove (ice->retry_id);
  ice->retry_id = g_timeout_add (ms, qsl_icecast_retry, ice);
}

/* the publishing pipeline failed: one sentence, tear down, try later */
static void
qsl_icecast_failed (QslIcecast * ice, const GError * err, const gchar * dbg)
{
  const QslSettings *set = ice->set;
  gchar *where = g_strdup_printf ("%s:%d", set->icecast_host,
      set->icecast_port);

  qsl_icecast_teardown (ice);
  if (dbg && strstr (dbg, "Login failed")) {
    ice->state = QSL_ICECAST_REFUSED;
    qsl_icecast_say (ice, "Icecast at %s refused the source password for "
        "%s (or the mount is taken by another source); give the "
        "<source-password> of its icecast.xml in the URL, "
        "icecast://source:PASSWORD@%s%s; retrying.", where,
        set->icecast_mount, where, set->icecast_mount);
  } else if (dbg && strstr (dbg, "Socket error")) {
    ice->state = QSL_ICECAST_RETRYING;
    qsl_icecast_say (ice, "nothing answers at %s (Icecast is not running "
        "there, or a firewall is in the way); retrying.", where);
  } else if (ice->state == QSL_ICECAST_LIVE) {
    ice->state = QSL_ICECAST_RETRYING;
    qsl_icecast_say (ice, "the connection to Icecast at %s was lost (%s); "
        "retrying.", where, err ? err->message : "no reason given");
  } else {
    ice->state = QSL_ICECAST_RETRYING;
    qsl_icecast_say (ice, "publishing to Icecast at %s failed (%s%s%s); "
        "retrying.", where, err ? err->message : "no reason given",
        dbg ? ": " : "", dbg ? dbg : "");
  }
  g_free (where);
  ice->listeners = -1;
  qsl_icecast_schedule (ice);
}

static gboolean
qsl_icecast_bus (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  QslIcecast *ice = user_data;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gchar *dbg = NULL;

    gst_message_parse_error (msg, &err, &dbg);
    qsl_icecast_failed (ice, err, dbg);
    g_clear_error (&err);
    g_free (dbg);
    return G_SOURCE_REMOVE;     /* the watch went with the pipeline */
  }
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
    qsl_icecast_failed (ice, NULL, NULL);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
qsl_icecast_build (QslIcecast * ice)
{
  GError *err = NULL;
  gchar *desc;
  GstElement *pipe, *src;
  GstBus *bus;

  ice->attempts++;
  /* the media type at least, so that oggmux gives it an audio pad; the
   * tap's whole caps replace it before the first buffer */
  desc = g_strdup_printf ("appsrc name=src caps=%s is-live=true format=time "
      "block=false max-bytes=%u ! %s", ice->set->codec->media_type,
      QSL_ICECAST_APPSRC_BYTES, ice->sink_text);
  pipe = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
      &err);
  g_free (desc);
  if (!pipe) {
    /* a missing plugin will not come by retrying often */
    ice->state = QSL_ICECAST_UNAVAILABLE;
    qsl_icecast_say (ice, "cannot publish to Icecast: %s; this GStreamer "
        "lacks shout2send or oggmux (on Debian they come with "
        "gstreamer1.0-plugins-good and -base; the Windows zip has neither), "
        "so publish from a machine that has them.", err->message);
    g_clear_error (&err);
    ice->backoff_ms = QSL_ICECAST_BACKOFF_MAX_MS;
    qsl_icecast_schedule (ice);
    return;
  }
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  gst_util_set_object_arg (G_OBJECT (src), "leaky-type", "downstream");

  bus = gst_element_get_bus (pipe);
  ice->bus_watch = gst_bus_add_watch (bus, qsl_icecast_bus, ice);
  gst_object_unref (bus);
  ice->pipe = pipe;

  g_mutex_lock (&ice->lock);
  if (ice->caps)
    g_object_set (src, "caps", ice->caps, NULL);
  ice->base = GST_CLOCK_TIME_NONE;
  ice->src = src;               /* owns the ref */
  g_mutex_unlock (&ice->lock);

  if (ice->state != QSL_ICECAST_REFUSED)
    ice->state = QSL_ICECAST_CONNECTING;
  if (gst_element_set_state (pipe, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    GstMessage *m = gst_bus_pop_filtered (GST_ELEMENT_BUS (pipe),
        GST_MESSAGE_ERROR);
    GError *e = NULL;
    gchar *dbg = NULL;

    if (m)
      gst_message_parse_error (m, &e, &dbg);
    qsl_icecast_failed (ice, e, dbg);
    g_clear_error (&e);
    g_free (dbg);
    if (m)
      gst_message_unref (m);
  }
}

/* ---- status-json.xsl */

/* TRUE once the publishing pipeline's shout2send has sent a buffer (it
 * connects before its first) */
static gboolean
qsl_icecast_has_sent (QslIcecast * ice)
{
  GstElement *shout = gst_bin_get_by_name (GST_BIN (ice->pipe), "shout");
  GstStructure *stats = NULL;
  guint64 rendered = 0;

  if (!shout)
    return FALSE;
  g_object_get (shout, "stats", &stats, NULL);
  if (stats) {
    gst_structure_get_uint64 (stats, "rendered", &rendered);
    gst_structure_free (stats);
  }
  gst_object_unref (shout);
  return rendered > 0;
}

typedef struct
{
  QslIcecast *ice;
  GSocketConnection *conn;
  GByteArray *body;
  guint8 chunk[8192];
} QslIcecastPoll;

static void
qsl_icecast_poll_done (QslIcecastPoll * poll, gboolean ok)
{
  QslIcecast *ice = poll->ice;

  if (ok && ice) {
    gchar *doc, *json;
    gint n;

    g_byte_array_append (poll->body, (const guint8 *) "", 1);
    doc = (gchar *) poll->body->data;
    json = strstr (doc, "\r\n\r\n");
    n = qsl_icecast_json_listeners (json ? json : doc,
        ice->set->icecast_mount);
    ice->listeners = n;
    /* live: the mount is listed and this pipeline's shout2send has sent
     * (another source on the mount would be listed too) */
    if (n >= 0 && ice->pipe && ice->state != QSL_ICECAST_LIVE
        && qsl_icecast_has_sent (ice)) {
      ice->state = QSL_ICECAST_LIVE;
      ice->backoff_ms = QSL_ICECAST_BACKOFF_MIN_MS;
      qsl_icecast_say (ice, "publishing at http://%s:%d%s",
          ice->set->icecast_host, ice->set->icecast_port,
          ice->set->icecast_mount);
      ice->ever_live = TRUE;
    }
  }
  if (ice)
    ice->polling = FALSE;
  if (poll->conn)
    g_object_unref (poll->conn);
  g_byte_array_unref (poll->body);
  g_free (poll);
}

static void
qsl_icecast_poll_read (GObject * stream, GAsyncResult * res, gpointer data)
{
  QslIcecastPoll *poll = data;
  GError *err = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (stream), res, &err);

  if (n < 0) {
    gboolean cancelled = g_error_matches (err, G_IO_ERROR,
        G_IO_ERROR_CANCELLED);
    g_clear_error (&err);
    if (cancelled)
      poll->ice = NULL;         /* freed */
    qsl_icecast_poll_done (poll, FALSE);
    return;
  }
  if (n == 0 || poll->body->len + n > QSL_ICECAST_STATUS_MAX) {
    qsl_icecast_poll_done (poll, n == 0);
    return;
  }
  g_byte_array_append (poll->body, poll->chunk, n);
  g_input_stream_read_async (G_INPUT_STREAM (stream), poll->chunk,
      sizeof (poll->chunk), G_PRIORITY_DEFAULT, poll->ice->cancel,
      qsl_icecast_poll_read, poll);
}

static void
qsl_icecast_poll_written (GObject * stream, GAsyncResult * res, gpointer data)
{
  QslIcecastPoll *poll = data;
  GError *err = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (stream), res, NULL,
          &err)) {
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      poll->ice = NULL;
    g_clear_error (&err);
    qsl_icecast_poll_done (poll, FALSE);
    return;
  }
  g_byte_array_set_size (poll->body, 0);        /* the request went */
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM
          (poll->conn)), poll->chunk, sizeof (poll->chunk),
      G_PRIORITY_DEFAULT, poll->ice->cancel, qsl_icecast_poll_read, poll);
}

static void
qsl_icecast_poll_connected (GObject * client, GAsyncResult * res,
    gpointer data)
{
  QslIcecastPoll *poll = data;
  GError *err = NULL;
  gchar *req;
  GOutputStream *out;

  poll->conn = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT
      (client), res, &err);
  if (!poll->conn) {
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      poll->ice = NULL;
    g_clear_error (&err);
    qsl_icecast_poll_done (poll, FALSE);
    return;
  }
  req = g_strdup_printf ("GET /status-json.xsl HTTP/1.0\r\nHost: %s:%d\r\n"
      "User-Agent: qsound-launch\r\n\r\n", poll->ice->set->icecast_host,
      poll->ice->set->icecast_port);
  out = g_io_stream_get_output_stream (G_IO_STREAM (poll->conn));
  /* the request lives in the poll's buffer until it is written */
  g_byte_array_append (poll->body, (const guint8 *) req, strlen (req));
  g_free (req);
  g_output_stream_write_all_async (out, poll->body->data, poll->body->len,
      G_PRIORITY_DEFAULT, poll->ice->cancel, qsl_icecast_poll_written, poll);
}

static gboolean
qsl_icecast_poll (gpointer user_data)
{
  QslIcecast *ice = user_data;
  QslIcecastPoll *poll;
  GSocketClient *client;

  if (ice->polling || !ice->pipe)
    return G_SOURCE_CONTINUE;
  ice->polling = TRUE;
  poll = g_new0 (QslIcecastPoll, 1);
  poll->ice = ice;
  poll->body = g_byte_array_new ();
  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 5);
  g_socket_client_connect_to_host_async (client, ice->set->icecast_host,
      ice->set->icecast_port, ice->cancel, qsl_icecast_poll_connected, poll);
  g_object_unref (client);
  return G_SOURCE_CONTINUE;
}

QslIcecast *
qsl_icecast_new (const QslSettings * set, GstElement * tap,
    QslStatus * status)
{
  QslIcecast *ice = g_new0 (QslIcecast, 1);

  ice->set = set;
  ice->status = status;
  ice->tap = gst_object_ref (tap);
  ice->sink_text = qsl_icecast_sink_text (set);
  g_mutex_init (&ice->lock);
  ice->base = GST_CLOCK_TIME_NONE;
  ice->backoff_ms = QSL_ICECAST_BACKOFF_MIN_MS;
  ice->listeners = -1;
  ice->cancel = g_cancellable_new ();
  {
    GstAppSinkCallbacks cb = {.new_sample = qsl_icecast_new_sample };

    gst_app_sink_set_callbacks (GST_APP_SINK (tap), &cb, ice, NULL);
  }
  qsl_icecast_build (ice);
  ice->poll_id = g_timeout_add (QSL_ICECAST_POLL_MS, qsl_icecast_poll, ice);
  return ice;
}

void
qsl_icecast_free (QslIcecast * ice)
{
  if (!ice)
    return;
  {
    GstAppSinkCallbacks none = { NULL, };

    gst_app_sink_set_callbacks (GST_APP_SINK (ice->tap), &none, NULL, NULL);
  }
  if (ice->retry_id)
    g_source_remove (ice->retry_id);
  if (ice->poll_id)
    g_source_remove (ice->poll_id);
  g_cancellable_cancel (ice->cancel);
  /* a poll in flight learns of the cancel when the main loop runs again;
   * it then forgets this object */
  qsl_icecast_teardown (ice);
  g_object_unref (ice->cancel);
  gst_object_unref (ice->tap);
  gst_caps_replace (&ice->caps, NULL);
  g_mutex_clear (&ice->lock);
  g_free (ice->sink_text);
  g_free (ice->why);
  g_free (ice);
}

gchar *
qsl_icecast_status_text (QslIcecast * ice, gchar ** short_text)
{
  switch (ice->state) {
    case QSL_ICECAST_LIVE:
      if (ice->listeners >= 0) {
        *short_text = g_strdup_printf ("icecast %d", ice->listeners);
        return g_strdup_printf ("icecast live, %d listener%s",
            ice->listeners, ice->listeners == 1 ? "" : "s");
      }
      *short_text = g_strdup ("icecast live");
      return g_strdup ("icecast live");
    case QSL_ICECAST_CONNECTING:
      *short_text = g_strdup ("icecast ...");
      return g_strdup ("icecast connecting");
    case QSL_ICECAST_REFUSED:
      *short_text = g_strdup ("icecast refused");
      return g_strdup ("icecast refused the password, retrying");
    case QSL_ICECAST_UNAVAILABLE:
      *short_text = g_strdup ("icecast n/a");
      return g_strdup ("icecast unavailable (a plugin is missing)");
    case QSL_ICECAST_RETRYING:
    default:
      *short_text = g_strdup ("icecast down");
      return g_strdup ("icecast down, retrying");
  }
}
