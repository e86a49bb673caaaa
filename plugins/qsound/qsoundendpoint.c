/* qsound — one endpoint for framedtcpsink and framedtcpsrc.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsoundendpoint.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (qs_endpoint_debug);
#define GST_CAT_DEFAULT qs_endpoint_debug

#define DEFAULT_HOST            "127.0.0.1"
#define DEFAULT_PORT            5000
#define DEFAULT_KEY             ""
#define DEFAULT_MAX_FRAME_SIZE  QS_PROTO_DEFAULT_MAX_FRAME_SIZE
#define DEFAULT_TIMEOUT         5
#define DEFAULT_RECONNECT       TRUE

static QsConnMode
qs_endpoint_default_mode (QsEndpointRole role)
{
  /* the sender serves, the receiver connects: qsound-launch modes 1 and 2 */
  return role == QS_ENDPOINT_SINK ? QS_CONN_MODE_SERVER : QS_CONN_MODE_CLIENT;
}

void
qs_endpoint_init (QsEndpoint * ep, GstElement * element, QsEndpointRole role)
{
  memset (ep, 0, sizeof (*ep));
  ep->element = element;
  ep->role = role;
  ep->settings.mode = qs_endpoint_default_mode (role);
  ep->settings.host = g_strdup (DEFAULT_HOST);
  ep->settings.port = DEFAULT_PORT;
  ep->settings.key = g_strdup (DEFAULT_KEY);
  ep->settings.max_frame_size = DEFAULT_MAX_FRAME_SIZE;
  ep->settings.timeout = DEFAULT_TIMEOUT;
  ep->settings.reconnect = DEFAULT_RECONNECT;
  ep->run = ep->settings;
  ep->run.host = g_strdup (DEFAULT_HOST);
  ep->run.key = NULL;
  g_mutex_init (&ep->lock);
  ep->state = g_strdup ("idle");
  ep->peer = g_strdup ("");
}

void
qs_endpoint_clear (QsEndpoint * ep)
{
  g_free (ep->settings.host);
  if (ep->settings.key)
    qs_proto_wipe (ep->settings.key, strlen (ep->settings.key));
  g_free (ep->settings.key);
  g_free (ep->run.host);
  g_free (ep->state);
  g_free (ep->peer);
  g_mutex_clear (&ep->lock);
}

void
qs_endpoint_install_properties (GObjectClass * klass, QsEndpointRole role)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;
  gboolean sink = role == QS_ENDPOINT_SINK;

  if (!qs_endpoint_debug)
    GST_DEBUG_CATEGORY_INIT (qs_endpoint_debug, "qsendpoint", 0,
        "qsound framed TCP endpoint");

  g_object_class_install_property (klass, QS_ENDPOINT_PROP_MODE,
      g_param_spec_enum ("mode", "Mode", sink ?
          "Whether to listen for receivers (server) or connect to a "
          "receiver that listens (client)." :
          "Whether to connect to a sender that listens (client) or listen "
          "for senders (server).", QS_TYPE_CONN_MODE,
          qs_endpoint_default_mode (role), rw));
  g_object_class_install_property (klass, QS_ENDPOINT_PROP_HOST,
      g_param_spec_string ("host", "Host", sink ?
          "In server mode the address to listen on (0.0.0.0 for every "
          "interface); in client mode the receiver to connect to." :
          "In client mode the sender to connect to; in server mode the "
          "address to listen on (0.0.0.0 for every interface).",
          DEFAULT_HOST, rw));
  g_object_class_install_property (klass, QS_ENDPOINT_PROP_PORT,
      g_param_spec_int ("port", "Port", sink ?
          "The TCP port to listen on or connect to (0 in server mode lets "
          "the system pick one; read it back from current-port)." :
          "The TCP port to connect to or listen on (0 in server mode lets "
          "the system pick one; read it back from current-port).",
          0, G_MAXUINT16, DEFAULT_PORT, rw));
  g_object_class_install_property (klass, QS_ENDPOINT_PROP_CURRENT_PORT,
      g_param_spec_int ("current-port", "Current port",
          "The port the server actually listens on, or 0 when not listening.",
          0, G_MAXUINT16, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (klass, QS_ENDPOINT_PROP_KEY,
      g_param_spec_string ("key", "Key", sink ?
          "A pre-shared key, the same on both ends: the peer must prove it "
          "knows it, and every frame is then encrypted and authenticated. "
          "Empty means none: the stream goes in clear." :
          "A pre-shared key, the same on both ends: the peer must prove it "
          "knows it, and every frame is then encrypted and authenticated. "
          "Empty means none: the stream comes in clear.", DEFAULT_KEY, rw));
  g_object_class_install_property (klass, QS_ENDPOINT_PROP_MAX_FRAME_SIZE,
      g_param_spec_uint ("max-frame-size", "Maximum frame size", sink ?
          "The largest frame, in bytes, accepted from or sent to the peer." :
          "The largest frame, in bytes, accepted from the sender; a larger "
          "one is refused before anything is allocated.",
          QS_PROTO_MIN_MAX_FRAME_SIZE, QS_PROTO_MAX_MAX_FRAME_SIZE,
          DEFAULT_MAX_FRAME_SIZE, rw));
  g_object_class_install_property (klass, QS_ENDPOINT_PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout", sink ?
          "Seconds a receiver may stay silent or stop reading before it is "
          "disconnected (heartbeats come every second, so at least 2)." :
          "Seconds of silence from the sender (no media and no heartbeat) "
          "after which it is considered gone (heartbeats come every second, "
          "so at least 2).", 2, 3600, DEFAULT_TIMEOUT, rw));
  g_object_class_install_property (klass, QS_ENDPOINT_PROP_RECONNECT,
      g_param_spec_boolean ("reconnect", "Reconnect", sink ?
          "In client mode, keep retrying (with backoff) when the receiver is "
          "not there or the link breaks, instead of failing." :
          "In client mode, keep retrying (with backoff) when the sender is "
          "not there or the link breaks, instead of failing.",
          DEFAULT_RECONNECT, rw));
  gst_type_mark_as_plugin_api (QS_TYPE_CONN_MODE, 0);
}

gboolean
qs_endpoint_set_property (QsEndpoint * ep, guint prop_id, const GValue * value)
{
  QsEndpointSettings *s = &ep->settings;

  if (prop_id == QS_ENDPOINT_PROP_0 || prop_id >= QS_ENDPOINT_PROP_LAST
      || prop_id == QS_ENDPOINT_PROP_CURRENT_PORT)
    return FALSE;
  GST_OBJECT_LOCK (ep->element);
  switch (prop_id) {
    case QS_ENDPOINT_PROP_MODE:
      s->mode = g_value_get_enum (value);
      break;
    case QS_ENDPOINT_PROP_HOST:
      g_free (s->host);
      s->host = g_value_dup_string (value);
      if (!s->host)
        s->host = g_strdup (DEFAULT_HOST);
      break;
    case QS_ENDPOINT_PROP_PORT:
      s->port = g_value_get_int (value);
      break;
    case QS_ENDPOINT_PROP_KEY:
      if (s->key)
        qs_proto_wipe (s->key, strlen (s->key));
      g_free (s->key);
      s->key = g_value_dup_string (value);
      if (!s->key)
        s->key = g_strdup ("");
      break;
    case QS_ENDPOINT_PROP_MAX_FRAME_SIZE:
      s->max_frame_size = g_value_get_uint (value);
      break;
    case QS_ENDPOINT_PROP_TIMEOUT:
      s->timeout = g_value_get_uint (value);
      break;
    case QS_ENDPOINT_PROP_RECONNECT:
      s->reconnect = g_value_get_boolean (value);
      break;
  }
  GST_OBJECT_UNLOCK (ep->element);
  return TRUE;
}

gboolean
qs_endpoint_get_property (QsEndpoint * ep, guint prop_id, GValue * value)
{
  QsEndpointSettings *s = &ep->settings;

  if (prop_id == QS_ENDPOINT_PROP_0 || prop_id >= QS_ENDPOINT_PROP_LAST)
    return FALSE;
  if (prop_id == QS_ENDPOINT_PROP_CURRENT_PORT) {
    g_mutex_lock (&ep->lock);
    g_value_set_int (value, ep->current_port);
    g_mutex_unlock (&ep->lock);
    return TRUE;
  }
  GST_OBJECT_LOCK (ep->element);
  switch (prop_id) {
    case QS_ENDPOINT_PROP_MODE:
      g_value_set_enum (value, s->mode);
      break;
    case QS_ENDPOINT_PROP_HOST:
      g_value_set_string (value, s->host);
      break;
    case QS_ENDPOINT_PROP_PORT:
      g_value_set_int (value, s->port);
      break;
    case QS_ENDPOINT_PROP_KEY:
      g_value_set_string (value, s->key);
      break;
    case QS_ENDPOINT_PROP_MAX_FRAME_SIZE:
      g_value_set_uint (value, s->max_frame_size);
      break;
    case QS_ENDPOINT_PROP_TIMEOUT:
      g_value_set_uint (value, s->timeout);
      break;
    case QS_ENDPOINT_PROP_RECONNECT:
      g_value_set_boolean (value, s->reconnect);
      break;
  }
  GST_OBJECT_UNLOCK (ep->element);
  return TRUE;
}

static void
qs_endpoint_post_error (QsEndpoint * ep, const gchar * message)
{
  if (ep->role == QS_ENDPOINT_SINK)
    GST_ELEMENT_ERROR (ep->element, RESOURCE, OPEN_WRITE, ("%s", message),
        (NULL));
  else
    GST_ELEMENT_ERROR (ep->element, RESOURCE, OPEN_READ, ("%s", message),
        (NULL));
}

gboolean
qs_endpoint_start (QsEndpoint * ep, GCancellable * cancellable,
    GSocket ** listener)
{
  GError *error = NULL;
  gchar *key;

  GST_OBJECT_LOCK (ep->element);
  g_free (ep->run.host);
  ep->run = ep->settings;
  ep->run.host = g_strdup (ep->settings.host);
  ep->run.key = NULL;
  key = g_strdup (ep->settings.key);
  GST_OBJECT_UNLOCK (ep->element);

  /* stretched here, once per key and process, never per connection */
  ep->skey = qs_conn_key_get (key, &error);
  if (key)
    qs_proto_wipe (key, strlen (key));
  g_free (key);
  if (error) {
    qs_endpoint_post_error (ep, error->message);
    g_clear_error (&error);
    return FALSE;
  }

  g_mutex_lock (&ep->lock);
  ep->reconnects = 0;
  ep->connections = 0;
  g_mutex_unlock (&ep->lock);

  *listener = NULL;
  if (ep->run.mode != QS_CONN_MODE_SERVER)
    return TRUE;

  *listener = qs_conn_listen (ep->run.host, ep->run.port, cancellable, &error);
  if (!*listener) {
    qs_endpoint_post_error (ep, error->message);
    g_clear_error (&error);
    return FALSE;
  }
  g_mutex_lock (&ep->lock);
  ep->current_port = qs_conn_local_port (*listener);
  g_mutex_unlock (&ep->lock);
  GST_INFO_OBJECT (ep->element, "listening on %s:%u", ep->run.host,
      ep->current_port);
  if (!ep->skey && !qs_conn_host_is_loopback (ep->run.host)) {
    if (ep->role == QS_ENDPOINT_SINK)
      GST_ELEMENT_WARNING (ep->element, RESOURCE, SETTINGS,
          ("Serving in clear on %s:%u without a key: anyone who can reach "
              "this port can listen; set a key on both ends (qsound-launch "
              "--new-key, then -k) to seal the link.", ep->run.host,
              ep->current_port), (NULL));
    else
      GST_ELEMENT_WARNING (ep->element, RESOURCE, SETTINGS,
          ("Listening in clear on %s:%u without a key: anyone who can reach "
              "this port can send to it and listen; set a key on both ends "
              "(qsound-launch --new-key, then -k) to seal the link.",
              ep->run.host, ep->current_port), (NULL));
  }
  qs_endpoint_set_state (ep, "listening", "");
  g_object_notify (G_OBJECT (ep->element), "current-port");
  return TRUE;
}

void
qs_endpoint_stop (QsEndpoint * ep)
{
  g_mutex_lock (&ep->lock);
  ep->current_port = 0;
  g_mutex_unlock (&ep->lock);
  qs_endpoint_set_state (ep, "idle", "");
}

void
qs_endpoint_set_state (QsEndpoint * ep, const gchar * state,
    const gchar * peer)
{
  g_mutex_lock (&ep->lock);
  g_free (ep->state);
  ep->state = g_strdup (state);
  if (peer) {
    g_free (ep->peer);
    ep->peer = g_strdup (peer);
  }
  g_mutex_unlock (&ep->lock);
}

gboolean
qs_endpoint_connected (QsEndpoint * ep, const gchar * peer)
{
  gboolean again;

  g_mutex_lock (&ep->lock);
  again = ep->connections++ > 0;
  if (again)
    ep->reconnects++;
  g_mutex_unlock (&ep->lock);
  qs_endpoint_set_state (ep, "connected", peer);
  return again;
}

void
qs_endpoint_add_stats (QsEndpoint * ep, GstStructure * s)
{
  g_mutex_lock (&ep->lock);
  gst_structure_set (s, "reconnects", G_TYPE_UINT, ep->reconnects,
      "state", G_TYPE_STRING, ep->state ? ep->state : "idle",
      "peer", G_TYPE_STRING, ep->peer ? ep->peer : "", NULL);
  g_mutex_unlock (&ep->lock);
  /* once per key and process: many connections, one stretch */
  gst_structure_set (s, "key-stretches", G_TYPE_UINT, qs_conn_key_stretches (),
      NULL);
}

/* Counts a refusal, and posts the report when one is due. */
static void
qs_endpoint_refusal (QsEndpoint * ep, QsConnRefusals * r,
    const gchar * sentence)
{
  guint count;
  gchar *report = qs_conn_refusals_add (r, sentence, &count);

  if (report)
    qs_endpoint_post_refusals (ep, r, report, count);
}

void
qs_endpoint_post_refusals (QsEndpoint * ep, QsConnRefusals * r,
    gchar * report, guint count)
{
  GST_ELEMENT_WARNING_WITH_DETAILS (ep->element, RESOURCE, READ,
      ("%s", report), (NULL), ("refused-count", G_TYPE_UINT, count,
          "refused", G_TYPE_UINT64, qs_conn_refusals_total (r), NULL));
  g_free (report);
}

void
qs_endpoint_refuse (QsEndpoint * ep, QsConnRefusals * r, GSocket * socket,
    const gchar * why)
{
  gchar *sentence;

  g_socket_close (socket, NULL);
  g_object_unref (socket);
  sentence = g_strdup_printf ("Closed a connection at once: %s.", why);
  qs_endpoint_refusal (ep, r, sentence);
  g_free (sentence);
}

void
qs_endpoint_refused (QsEndpoint * ep, QsConnRefusals * r, const gchar * peer,
    const GError * error)
{
  gchar *sentence = g_strdup_printf ("Refused a connection from %s: %s",
      peer, error->message);

  qs_endpoint_refusal (ep, r, sentence);
  g_free (sentence);
}

gint64
qs_endpoint_accept_failed (QsEndpoint * ep, QsConnRefusals * r,
    const GError * error, gint64 backoff)
{
  qs_endpoint_refusal (ep, r, error->message);
  return qs_conn_backoff_next (backoff);
}

gint64
qs_endpoint_refusals_flush (QsEndpoint * ep, QsConnRefusals * r)
{
  guint count;
  gchar *report = qs_conn_refusals_flush (r, &count);

  if (report)
    qs_endpoint_post_refusals (ep, r, report, count);
  /* refusals may come from other threads meanwhile: look again soon */
  return g_get_monotonic_time () + QS_ENDPOINT_FLUSH_PERIOD;
}

gboolean
qs_endpoint_error_is_fatal (const GError * error)
{
  return error->domain == QS_CONN_ERROR &&
      (error->code == QS_CONN_ERROR_AUTH || error->code == QS_CONN_ERROR_VERSION
      || error->code == QS_CONN_ERROR_ROLE
      || error->code == QS_CONN_ERROR_NOT_QSOUND
      || error->code == QS_CONN_ERROR_RESOLVE);
}

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean woken;
} QsWake;

static void
qs_endpoint_wake (GCancellable * cancellable, gpointer data)
{
  QsWake *w = data;

  g_mutex_lock (&w->lock);
  w->woken = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
}

GstClockTime
qs_endpoint_running_time (QsEndpoint * ep)
{
  GstClock *clock = gst_element_get_clock (ep->element);
  GstClockTime now, base;

  if (!clock)
    return GST_CLOCK_TIME_NONE;
  now = gst_clock_get_time (clock);
  base = gst_element_get_base_time (ep->element);
  gst_object_unref (clock);
  return now >= base ? now - base : GST_CLOCK_TIME_NONE;
}

gboolean
qs_endpoint_sleep (GCancellable * cancellable, gint64 delay_us)
{
  gint64 until = g_get_monotonic_time () + delay_us;
  QsWake w;
  gulong id;

  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  w.woken = FALSE;
  /* runs the callback at once when already cancelled */
  id = g_cancellable_connect (cancellable, G_CALLBACK (qs_endpoint_wake), &w,
      NULL);
  g_mutex_lock (&w.lock);
  while (!w.woken && g_get_monotonic_time () < until)
    g_cond_wait_until (&w.cond, &w.lock, until);
  g_mutex_unlock (&w.lock);
  g_cancellable_disconnect (cancellable, id);
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  return !g_cancellable_is_cancelled (cancellable);
}

GSocket *
qs_endpoint_connect (QsEndpoint * ep, QsRole role, QsProtoParser * parser,
    QsProtoSeal ** seal, gint64 * backoff, GCancellable * cancellable,
    GError ** error)
{
  for (;;) {
    GError *err = NULL;
    GSocket *socket;

    qs_endpoint_set_state (ep, "connecting", NULL);
    socket = qs_conn_connect (ep->run.host, ep->run.port, cancellable, &err);
    if (socket) {
      qs_proto_parser_reset (parser);
      if (qs_conn_handshake (socket, parser, role, FALSE, ep->skey, seal,
              cancellable, &err)) {
        *backoff = 0;
        return socket;
      }
      g_socket_close (socket, NULL);
      g_object_unref (socket);
    }
    if (g_error_matches (err, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED)
        || !ep->run.reconnect || qs_endpoint_error_is_fatal (err)) {
      g_propagate_error (error, err);
      return NULL;
    }
    GST_INFO_OBJECT (ep->element, "%s; retrying", err->message);
    g_clear_error (&err);
    qs_endpoint_set_state (ep, "waiting", NULL);
    *backoff = qs_conn_backoff_next (*backoff);
    if (!qs_endpoint_sleep (cancellable, *backoff)) {
      g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED,
          "cancelled");
      return NULL;
    }
  }
}
