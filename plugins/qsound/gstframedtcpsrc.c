/* qsound — framedtcpsrc: receives a stream sent by framedtcpsink.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-framedtcpsrc
 * @title: framedtcpsrc
 * @see_also: framedtcpsink
 *
 * Receives a stream sent by framedtcpsink: the caps come in-band, so no
 * configuration is needed to receive mp3, Opus or raw PCM alike.  It is a
 * live source: timestamps are re-based to the receiver's own running time and
 * #GstFramedTcpSrc:latency is reported in LATENCY queries, so the audio sink
 * plays each buffer that long after it was expected to arrive.
 *
 * In client mode (the default) it connects to a framedtcpsink that listens,
 * and reconnects with backoff and jitter whenever the link breaks; in server
 * mode it listens and takes the next sender when one leaves.  A server
 * handshakes on threads of its own, with up to 4 peers at once (each for at
 * most 5 s; more are closed at once and reported at most every 10 s), so an
 * idle stranger never delays a real sender.  A sender that
 * sends nothing (not even a heartbeat) for #GstFramedTcpSrc:timeout seconds is
 * considered gone.  The first buffer after any loss or reconnect is marked
 * DISCONT; missing frames are counted in #GstFramedTcpSrc:stats.
 *
 * A receiver outlives its senders: when a sender ends its stream (EOS) or
 * goes away, a server waits for the next one and a client for its server to
 * come back.  A next sender in another format (another codec) starts a new
 * stream (stream-start, then its caps), so that a decodebin downstream
 * picks its decoder again.  Set #GstFramedTcpSrc:eos-ends to end the
 * pipeline at the sender's EOS instead, as when a file is sent.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 framedtcpsrc host=sender.local port=5000 ! decodebin ! \
 *     audioconvert ! audioresample ! autoaudiosink
 * gst-launch-1.0 loopbacksrc ! audioconvert ! lamemp3enc target=bitrate cbr=true ! \
 *     framedtcpsink host=0.0.0.0 port=5000
 * ]| Receive what sender.local plays.
 * |[
 * gst-launch-1.0 framedtcpsrc mode=server host=0.0.0.0 port=5000 key=secret ! \
 *     decodebin ! autoaudiosink
 * gst-launch-1.0 loopbacksrc ! audioconvert ! opusenc ! \
 *     framedtcpsink mode=client host=listener.local port=5000 key=secret
 * ]| The receiver listens; only a sender that knows the key is accepted, and
 * the link is sealed: every frame is encrypted and authenticated with keys
 * made for that connection (docs/PROTOCOL.md, version 2), and a frame
 * altered on the way ends the connection before anything of it goes
 * downstream.  Without a key the stream is in clear; in server mode on an
 * address other than loopback the element then warns once that anyone who
 * can reach it can send to it.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstframedtcpsrc.h"
#include "qsoundconn.h"
#include "qsoundelements.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (framed_tcp_src_debug);
#define GST_CAT_DEFAULT framed_tcp_src_debug

#define DEFAULT_MODE            QS_CONN_MODE_CLIENT
#define DEFAULT_HOST            "127.0.0.1"
#define DEFAULT_PORT            5000
#define DEFAULT_KEY             ""
#define DEFAULT_MAX_FRAME_SIZE  QS_PROTO_DEFAULT_MAX_FRAME_SIZE
#define DEFAULT_TIMEOUT         5
#define DEFAULT_LATENCY         (50 * GST_MSECOND)
#define DEFAULT_RECONNECT       TRUE
#define DEFAULT_EOS_ENDS        FALSE

enum
{
  PROP_0,
  PROP_MODE,
  PROP_HOST,
  PROP_PORT,
  PROP_CURRENT_PORT,
  PROP_KEY,
  PROP_MAX_FRAME_SIZE,
  PROP_TIMEOUT,
  PROP_LATENCY,
  PROP_RECONNECT,
  PROP_EOS_ENDS,
  PROP_STATS,
};

struct _GstFramedTcpSrc
{
  GstPushSrc parent;

  /* settings, under the object lock */
  QsConnMode mode;
  gchar *host;
  guint port;
  gchar *key;
  guint max_frame_size;
  guint timeout;
  GstClockTime latency;
  gboolean reconnect;
  gboolean eos_ends;

  GCancellable *cancellable;    /* replaced under the object lock */
  GSocket *listener;
  GSocket *socket;
  QsProtoSeal *seal;            /* NULL without a key */
  const guint8 *skey;           /* the stretched key, or NULL; set in start() */
  QsProtoParser *parser;
  gint64 last_recv;
  gint64 last_send;
  gint64 backoff;
  guint connections;
  gboolean discont;
  gboolean new_sender;          /* a connection after the first: its caps start a new stream */
  gboolean have_base;
  GstClockTimeDiff ts_offset;   /* added to the sender's timestamps */
  GstCaps *caps;

  /* server mode: accepting and handshaking happen off the streaming thread */
  GThread *accept_thread;
  GCancellable *accept_cancellable;     /* cancelled by stop() only */
  GMutex plock;
  GCond pcond;
  guint pending;                /* handshake threads running, under plock */
  GQueue ready;                 /* QsReady *, handshaken senders, under plock */
  QsConnRefusals refusals;      /* under plock */
  guint max_frame;              /* for the handshake threads, set in start() */

  /* statistics, under the object lock */
  guint64 bytes;
  guint64 buffers;
  guint64 lost;
  guint reconnects;
  gchar *state;
  gchar *peer_name;
  gchar *wire_caps;
  guint current_port;
};

/* A sender that passed the handshake, waiting for the streaming thread. */
typedef struct
{
  GstFramedTcpSrc *src;
  GSocket *socket;
  QsProtoParser *parser;
  QsProtoSeal *seal;
  gchar *peer;
} QsReady;

static void
qs_ready_free (QsReady * r)
{
  if (r->socket)
    g_socket_close (r->socket, NULL);
  g_clear_object (&r->socket);
  g_clear_pointer (&r->parser, qs_proto_parser_free);
  g_clear_pointer (&r->seal, qs_proto_seal_free);
  g_free (r->peer);
  g_free (r);
}

#define gst_framed_tcp_src_parent_class parent_class
G_DEFINE_TYPE (GstFramedTcpSrc, gst_framed_tcp_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (framedtcpsrc, "framedtcpsrc",
    GST_RANK_NONE, GST_TYPE_FRAMED_TCP_SRC,
    GST_DEBUG_CATEGORY_INIT (framed_tcp_src_debug, "framedtcpsrc", 0,
        "qsound framed TCP source"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static void
gst_framed_tcp_src_set_state (GstFramedTcpSrc * src, const gchar * state,
    const gchar * peer)
{
  GST_OBJECT_LOCK (src);
  g_free (src->state);
  src->state = g_strdup (state);
  if (peer) {
    g_free (src->peer_name);
    src->peer_name = g_strdup (peer);
  }
  GST_OBJECT_UNLOCK (src);
}

static GCancellable *
gst_framed_tcp_src_get_cancellable (GstFramedTcpSrc * src)
{
  GCancellable *c;

  GST_OBJECT_LOCK (src);
  c = g_object_ref (src->cancellable);
  GST_OBJECT_UNLOCK (src);
  return c;
}

static void
gst_framed_tcp_src_drop_connection (GstFramedTcpSrc * src, const GError * why)
{
  if (!src->socket)
    return;
  if (why)
    qs_conn_send_error (src->socket, src->seal, why);
  g_socket_close (src->socket, NULL);
  g_clear_object (&src->socket);
  g_clear_pointer (&src->seal, qs_proto_seal_free);
  src->discont = TRUE;
  src->have_base = FALSE;
  gst_framed_tcp_src_set_state (src, src->mode == QS_CONN_MODE_SERVER ?
      "listening" : "connecting", "");
}

/* Errors that retrying cannot cure. */
static gboolean
gst_framed_tcp_src_is_fatal (const GError * error)
{
  return error->domain == QS_CONN_ERROR &&
      (error->code == QS_CONN_ERROR_AUTH || error->code == QS_CONN_ERROR_VERSION
      || error->code == QS_CONN_ERROR_ROLE
      || error->code == QS_CONN_ERROR_NOT_QSOUND
      || error->code == QS_CONN_ERROR_RESOLVE);
}

static gboolean
gst_framed_tcp_src_sleep (GstFramedTcpSrc * src, GCancellable * cancellable,
    gint64 delay_us)
{
  gint64 until = g_get_monotonic_time () + delay_us;

  /* checking the cancellable every 50 ms keeps unlock prompt enough */
  while (g_get_monotonic_time () < until) {
    if (g_cancellable_is_cancelled (cancellable))
      return FALSE;
    g_usleep (MIN (50 * G_TIME_SPAN_MILLISECOND,
            MAX (until - g_get_monotonic_time (), 0)));
  }
  return TRUE;
}

/* Gets a connected, authenticated sender, or a flow return to give up with. */
static GstFlowReturn
gst_framed_tcp_src_ensure_connection (GstFramedTcpSrc * src,
    GCancellable * cancellable)
{
  gchar *host;
  guint port;
  gboolean reconnect;

  GST_OBJECT_LOCK (src);
  host = g_strdup (src->host);
  port = src->port;
  reconnect = src->reconnect;
  GST_OBJECT_UNLOCK (src);

  while (!src->socket && src->mode == QS_CONN_MODE_SERVER) {
    QsReady *r;

    gst_framed_tcp_src_set_state (src, "listening", NULL);
    g_mutex_lock (&src->plock);
    while (!(r = g_queue_pop_head (&src->ready))) {
      if (g_cancellable_is_cancelled (cancellable)) {
        g_mutex_unlock (&src->plock);
        g_free (host);
        return GST_FLOW_FLUSHING;
      }
      /* unlock() cancels without signalling: look again every 50 ms */
      g_cond_wait_until (&src->pcond, &src->plock, g_get_monotonic_time () +
          50 * G_TIME_SPAN_MILLISECOND);
    }
    g_mutex_unlock (&src->plock);

    GST_INFO_OBJECT (src, "sender %s connected", r->peer);
    qs_proto_parser_free (src->parser);
    src->parser = r->parser;
    src->socket = r->socket;
    src->seal = r->seal;
    r->parser = NULL;
    r->socket = NULL;
    r->seal = NULL;
    src->last_recv = src->last_send = g_get_monotonic_time ();
    src->discont = TRUE;
    src->have_base = FALSE;
    GST_OBJECT_LOCK (src);
    if (src->connections++ > 0) {
      src->reconnects++;
      src->new_sender = TRUE;
    }
    GST_OBJECT_UNLOCK (src);
    gst_framed_tcp_src_set_state (src, "connected", r->peer);
    qs_ready_free (r);
  }

  while (!src->socket) {
    GError *error = NULL;
    GSocket *socket;
    gchar *peer;

    {
      gst_framed_tcp_src_set_state (src, "connecting", NULL);
      socket = qs_conn_connect (host, port, cancellable, &error);
    }
    if (!socket)
      goto failed;

    peer = qs_conn_peer_name (socket);
    qs_proto_parser_reset (src->parser);
    if (!qs_conn_handshake (socket, src->parser, QS_ROLE_RECEIVER, FALSE,
            src->skey, &src->seal, cancellable, &error)) {
      g_socket_close (socket, NULL);
      g_object_unref (socket);
      g_free (peer);
      goto failed;
    }

    GST_INFO_OBJECT (src, "sender %s connected", peer);
    src->socket = socket;
    src->last_recv = src->last_send = g_get_monotonic_time ();
    src->backoff = 0;
    src->discont = TRUE;
    src->have_base = FALSE;
    GST_OBJECT_LOCK (src);
    if (src->connections++ > 0) {
      src->reconnects++;
      src->new_sender = TRUE;
    }
    GST_OBJECT_UNLOCK (src);
    gst_framed_tcp_src_set_state (src, "connected", peer);
    g_free (peer);
    continue;

  failed:
    if (g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED)) {
      g_clear_error (&error);
      g_free (host);
      return GST_FLOW_FLUSHING;
    }
    if (!reconnect || gst_framed_tcp_src_is_fatal (error)) {
      GST_ELEMENT_ERROR (src, RESOURCE, OPEN_READ, ("%s", error->message),
          (NULL));
      g_clear_error (&error);
      g_free (host);
      return GST_FLOW_ERROR;
    }
    GST_INFO_OBJECT (src, "%s; retrying", error->message);
    g_clear_error (&error);
    gst_framed_tcp_src_set_state (src, "waiting", NULL);
    src->backoff = qs_conn_backoff_next (src->backoff);
    if (!gst_framed_tcp_src_sleep (src, cancellable, src->backoff)) {
      g_free (host);
      return GST_FLOW_FLUSHING;
    }
  }
  g_free (host);
  return GST_FLOW_OK;
}

static GstClockTime
gst_framed_tcp_src_running_time (GstFramedTcpSrc * src)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (src));
  GstClockTime now;

  if (!clock)
    return GST_CLOCK_TIME_NONE;
  now = gst_clock_get_time (clock) - gst_element_get_base_time (GST_ELEMENT
      (src));
  gst_object_unref (clock);
  return now;
}

static GstClockTime
gst_framed_tcp_src_rebase (GstFramedTcpSrc * src, guint64 ts)
{
  GstClockTimeDiff out;

  if (ts == QS_PROTO_TIME_NONE || !src->have_base)
    return GST_CLOCK_TIME_NONE;
  out = (GstClockTimeDiff) ts + src->ts_offset;
  return out < 0 ? 0 : (GstClockTime) out;
}

static GstBuffer *
gst_framed_tcp_src_make_buffer (GstFramedTcpSrc * src, const QsMessage * msg)
{
  GstBuffer *buf = gst_buffer_new_memdup (msg->payload, msg->payload_len);

  /* re-base the sender's timestamps to our running time at the first
   * buffer of a connection */
  if (!src->have_base && msg->pts != QS_PROTO_TIME_NONE) {
    GstClockTime now = gst_framed_tcp_src_running_time (src);

    if (GST_CLOCK_TIME_IS_VALID (now)) {
      src->ts_offset = (GstClockTimeDiff) now - (GstClockTimeDiff) msg->pts;
      src->have_base = TRUE;
      GST_DEBUG_OBJECT (src, "timestamp offset %" GST_STIME_FORMAT,
          GST_STIME_ARGS (src->ts_offset));
    }
  }
  GST_BUFFER_PTS (buf) = gst_framed_tcp_src_rebase (src, msg->pts);
  GST_BUFFER_DTS (buf) = gst_framed_tcp_src_rebase (src, msg->dts);
  GST_BUFFER_DURATION (buf) = msg->duration == QS_PROTO_TIME_NONE ?
      GST_CLOCK_TIME_NONE : msg->duration;

  if (msg->buffer_flags & QS_BUF_FLAG_DISCONT)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  if (msg->buffer_flags & QS_BUF_FLAG_DELTA_UNIT)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  if (msg->buffer_flags & QS_BUF_FLAG_HEADER)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_HEADER);
  if (msg->buffer_flags & QS_BUF_FLAG_GAP)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_GAP);
  if (msg->buffer_flags & QS_BUF_FLAG_RESYNC)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_RESYNC);
  if (src->discont || msg->seq_gap > 0) {
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    src->discont = FALSE;
  }
  return buf;
}

/* Handles caps from the wire; FALSE with error if they are unusable. */
static gboolean
gst_framed_tcp_src_handle_caps (GstFramedTcpSrc * src, const gchar * text,
    GError ** error)
{
  GstCaps *caps = gst_caps_from_string (text);

  if (!caps || !gst_caps_is_fixed (caps)) {
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_BAD_CAPS,
        "The sender described its stream with caps that are not valid "
        "fixed GStreamer caps ('%.200s'); fix the sending pipeline.", text);
    if (caps)
      gst_caps_unref (caps);
    return FALSE;
  }
  GST_OBJECT_LOCK (src);
  g_free (src->wire_caps);
  src->wire_caps = g_strdup (text);
  GST_OBJECT_UNLOCK (src);

  if (src->caps && gst_caps_is_equal (src->caps, caps)) {
    src->new_sender = FALSE;
    gst_caps_unref (caps);
    return TRUE;
  }
  if (src->caps && src->new_sender) {
    /* the next sender, in another format (another codec, say): a new
     * stream, so that decoders downstream are chosen again */
    GstPad *pad = GST_BASE_SRC_PAD (src);
    gchar *id = gst_pad_create_stream_id_printf (pad, GST_ELEMENT (src),
        "sender-%u", src->connections);
    GstEvent *start = gst_event_new_stream_start (id);

    GST_INFO_OBJECT (src, "a new sender with other caps: new stream %s", id);
    gst_event_set_group_id (start, gst_util_group_id_next ());
    gst_pad_push_event (pad, start);
    g_free (id);
  }
  src->new_sender = FALSE;
  GST_INFO_OBJECT (src, "caps from the sender: %" GST_PTR_FORMAT, caps);
  gst_caps_replace (&src->caps, caps);
  if (!gst_base_src_set_caps (GST_BASE_SRC (src), caps)) {
    gst_caps_unref (caps);
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_BAD_CAPS,
        "Nothing after framedtcpsrc accepts the stream the sender sends "
        "(%.200s); add a decoder or converter that handles it.", text);
    return FALSE;
  }
  gst_caps_unref (caps);
  return TRUE;
}

/* Sends a heartbeat when nothing went to the sender for a heartbeat
 * interval; drops the link when that fails. */
static void
gst_framed_tcp_src_keepalive (GstFramedTcpSrc * src, gint64 now,
    gint64 timeout_us, GCancellable * cancellable)
{
  GError *error = NULL;

  if (!src->socket || now - src->last_send < QS_CONN_HEARTBEAT_INTERVAL)
    return;
  if (!qs_conn_send_heartbeat (src->socket, src->seal, now + timeout_us,
          cancellable, &error)) {
    GST_INFO_OBJECT (src, "heartbeat failed: %s", error->message);
    g_clear_error (&error);
    gst_framed_tcp_src_drop_connection (src, NULL);
  }
  src->last_send = now;
}

static GstFlowReturn
gst_framed_tcp_src_create (GstPushSrc * psrc, GstBuffer ** outbuf)
{
  GstFramedTcpSrc *src = GST_FRAMED_TCP_SRC (psrc);
  GCancellable *cancellable = gst_framed_tcp_src_get_cancellable (src);
  GstFlowReturn ret = GST_FLOW_OK;
  gint64 timeout_us;

  GST_OBJECT_LOCK (src);
  timeout_us = src->timeout * G_TIME_SPAN_SECOND;
  GST_OBJECT_UNLOCK (src);

  for (;;) {
    GError *error = NULL;
    QsMessage msg;
    gboolean timed_out;
    gint64 now, deadline;

    ret = gst_framed_tcp_src_ensure_connection (src, cancellable);
    if (ret != GST_FLOW_OK)
      break;

    deadline = MIN (src->last_send + QS_CONN_HEARTBEAT_INTERVAL,
        src->last_recv + timeout_us);
    if (!qs_conn_read_message (src->socket, src->parser, &msg,
            MAX (deadline, 1), &timed_out, cancellable, &error)) {
      if (timed_out) {
        now = g_get_monotonic_time ();
        if (now - src->last_recv >= timeout_us) {
          GST_ELEMENT_WARNING (src, RESOURCE, READ,
              ("The sender sent nothing, not even a heartbeat, for %u s; "
                  "dropping the link and %s.", (guint) (timeout_us /
                      G_TIME_SPAN_SECOND), src->mode == QS_CONN_MODE_SERVER ?
                  "waiting for the next sender" : "reconnecting"), (NULL));
          gst_framed_tcp_src_drop_connection (src, NULL);
        } else {
          gst_framed_tcp_src_keepalive (src, now, timeout_us, cancellable);
        }
        continue;
      }
      if (g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED)) {
        g_clear_error (&error);
        ret = GST_FLOW_FLUSHING;
        break;
      }
      if (g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_CLOSED)) {
        GST_INFO_OBJECT (src, "the sender left");
        g_clear_error (&error);
        gst_framed_tcp_src_drop_connection (src, NULL);
        if (src->mode == QS_CONN_MODE_CLIENT && !src->reconnect) {
          GST_ELEMENT_ERROR (src, RESOURCE, READ,
              ("The sender closed the connection and reconnect is off."),
              (NULL));
          ret = GST_FLOW_ERROR;
          break;
        }
        continue;
      }
      goto bad_peer;
    }

    src->last_recv = g_get_monotonic_time ();
    /* media flowing steadily never lets the read time out: the sender must
     * still hear from us within its timeout */
    gst_framed_tcp_src_keepalive (src, src->last_recv, timeout_us,
        cancellable);
    if (!src->socket)
      continue;
    switch (msg.type) {
      case QS_MSG_CAPS:
        if (!gst_framed_tcp_src_handle_caps (src, msg.text, &error))
          goto bad_peer;
        break;
      case QS_MSG_BUFFER:
        /* a stream without caps (e.g. from fakesrc or filesrc) flows as is */
        *outbuf = gst_framed_tcp_src_make_buffer (src, &msg);
        GST_OBJECT_LOCK (src);
        src->bytes += msg.payload_len;
        src->buffers++;
        src->lost += msg.seq_gap;
        GST_OBJECT_UNLOCK (src);
        g_object_unref (cancellable);
        return GST_FLOW_OK;
      case QS_MSG_EOS:{
        gboolean ends;

        GST_OBJECT_LOCK (src);
        ends = src->eos_ends;
        GST_OBJECT_UNLOCK (src);
        if (ends) {
          GST_INFO_OBJECT (src, "the sender ended the stream");
          g_object_unref (cancellable);
          return GST_FLOW_EOS;
        }
        /* a receiver outlives its sender: wait for the next one */
        GST_INFO_OBJECT (src, "the sender ended its stream; %s",
            src->mode == QS_CONN_MODE_SERVER ? "waiting for the next sender"
            : "reconnecting");
        gst_framed_tcp_src_drop_connection (src, NULL);
        if (src->mode == QS_CONN_MODE_CLIENT) {
          /* its server is probably going away: do not hammer it */
          gst_framed_tcp_src_set_state (src, "waiting", NULL);
          src->backoff = qs_conn_backoff_next (src->backoff);
          if (!gst_framed_tcp_src_sleep (src, cancellable, src->backoff)) {
            ret = GST_FLOW_FLUSHING;
            goto out;
          }
        }
        break;
      }
      case QS_MSG_HEARTBEAT:
        break;
      case QS_MSG_ERROR:{
        gchar *text = qs_conn_sanitize (msg.text);

        GST_ELEMENT_WARNING (src, RESOURCE, READ,
            ("The sender closed the link: %s", text), (NULL));
        g_free (text);
        gst_framed_tcp_src_drop_connection (src, NULL);
        break;
      }
      default:
        g_set_error (&error, QS_CONN_ERROR, QS_CONN_ERROR_UNEXPECTED,
            "The sender sent a message (type %d) that does not belong after "
            "the handshake; update both ends to the same qsound version.",
            msg.type);
        goto bad_peer;
    }
    continue;

  bad_peer:
    /* garbage, an oversized frame, bad caps: tell the peer and drop it */
    gst_framed_tcp_src_drop_connection (src, error);
    if (src->mode == QS_CONN_MODE_SERVER) {
      GST_ELEMENT_WARNING (src, STREAM, DECODE, ("%s", error->message), (NULL));
      g_clear_error (&error);
      continue;
    }
    GST_ELEMENT_ERROR (src, STREAM, DECODE, ("%s", error->message), (NULL));
    g_clear_error (&error);
    ret = GST_FLOW_ERROR;
    break;
  }
out:
  g_object_unref (cancellable);
  return ret;
}

/* Server mode: one short-lived thread per peer in the handshake. */
static gpointer
gst_framed_tcp_src_handshake_thread (gpointer data)
{
  QsReady *r = data;
  GstFramedTcpSrc *src = r->src;
  GError *error = NULL;

  r->parser = qs_proto_parser_new (src->max_frame);
  if (qs_conn_handshake (r->socket, r->parser, QS_ROLE_RECEIVER, TRUE,
          src->skey, &r->seal, src->accept_cancellable, &error)) {
    g_mutex_lock (&src->plock);
    g_queue_push_tail (&src->ready, r);
    r = NULL;
    g_cond_broadcast (&src->pcond);
    g_mutex_unlock (&src->plock);
  } else if (!g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED)) {
    /* a bad peer is logged; the server waits for the next one */
    GST_ELEMENT_WARNING (src, RESOURCE, READ,
        ("Refused a connection from %s: %s", r->peer, error->message), (NULL));
  }
  g_clear_error (&error);
  if (r)
    qs_ready_free (r);

  g_mutex_lock (&src->plock);
  src->pending--;
  g_cond_broadcast (&src->pcond);
  g_mutex_unlock (&src->plock);
  return NULL;
}

/* Under plock: closes a connection beyond the limits, reports every 10 s. */
static void
gst_framed_tcp_src_refuse (GstFramedTcpSrc * src, GSocket * socket,
    const gchar * why)
{
  guint count;

  g_socket_close (socket, NULL);
  g_object_unref (socket);
  if (qs_conn_refusals_add (&src->refusals, &count))
    GST_ELEMENT_WARNING (src, RESOURCE, READ,
        ("Closed %u connection%s at once: %s.", count, count == 1 ? "" : "s",
            why), (NULL));
}

static gpointer
gst_framed_tcp_src_accept_thread (gpointer data)
{
  GstFramedTcpSrc *src = data;
  gint64 backoff = 0;

  for (;;) {
    GError *error = NULL;
    GSocket *socket;
    GThread *thread;
    QsReady *r;
    guint count;

    socket = qs_conn_accept (src->listener, src->accept_cancellable, &error);
    if (!socket) {
      if (g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED)) {
        g_clear_error (&error);
        break;
      }
      /* out of descriptors, say: wait and retry; reported at most every
       * 10 s */
      backoff = qs_conn_backoff_next (backoff);
      g_mutex_lock (&src->plock);
      if (qs_conn_refusals_add (&src->refusals, &count))
        GST_ELEMENT_WARNING (src, RESOURCE, READ, ("%s (%u time%s since the "
                "last report.)", error->message, count, count == 1 ? "" : "s"),
            (NULL));
      g_clear_error (&error);
      g_cond_wait_until (&src->pcond, &src->plock,
          g_get_monotonic_time () + backoff);
      g_mutex_unlock (&src->plock);
      if (g_cancellable_is_cancelled (src->accept_cancellable))
        break;
      continue;
    }
    backoff = 0;

    g_mutex_lock (&src->plock);
    if (src->pending + src->ready.length >= QS_CONN_MAX_PENDING) {
      gst_framed_tcp_src_refuse (src, socket, "too many senders were still "
          "in the handshake or waiting (an idle stranger, or a flood)");
      g_mutex_unlock (&src->plock);
      continue;
    }
    r = g_new0 (QsReady, 1);
    r->src = src;
    r->socket = socket;
    r->peer = qs_conn_peer_name (socket);
    thread = g_thread_try_new ("framedtcpsrc-handshake",
        gst_framed_tcp_src_handshake_thread, r, &error);
    if (!thread) {
      r->socket = NULL;
      qs_ready_free (r);
      gst_framed_tcp_src_refuse (src, socket, error->message);
      g_clear_error (&error);
      g_mutex_unlock (&src->plock);
      continue;
    }
    src->pending++;
    g_thread_unref (thread);    /* stop() waits for pending to reach 0 */
    g_mutex_unlock (&src->plock);
  }
  return NULL;
}

static gboolean
gst_framed_tcp_src_start (GstBaseSrc * bsrc)
{
  GstFramedTcpSrc *src = GST_FRAMED_TCP_SRC (bsrc);
  GError *error = NULL;
  gchar *host, *key;
  guint port, max_frame;

  GST_OBJECT_LOCK (src);
  host = g_strdup (src->host);
  key = g_strdup (src->key);
  port = src->port;
  max_frame = src->max_frame_size;
  src->bytes = src->buffers = src->lost = 0;
  src->reconnects = 0;
  GST_OBJECT_UNLOCK (src);

  src->connections = 0;
  src->backoff = 0;
  src->discont = TRUE;
  src->have_base = FALSE;
  src->parser = qs_proto_parser_new (max_frame);
  src->max_frame = max_frame;
  memset (&src->refusals, 0, sizeof (src->refusals));

  /* stretched here, once per key, never per connection */
  src->skey = qs_conn_key_get (key, &error);
  if (key)
    qs_proto_wipe (key, strlen (key));
  g_free (key);
  if (error) {
    GST_ELEMENT_ERROR (src, RESOURCE, OPEN_READ, ("%s", error->message),
        (NULL));
    g_clear_error (&error);
    g_free (host);
    return FALSE;
  }

  if (src->mode == QS_CONN_MODE_SERVER) {
    GCancellable *cancellable = gst_framed_tcp_src_get_cancellable (src);

    src->listener = qs_conn_listen (host, port, cancellable, &error);
    g_object_unref (cancellable);
    if (!src->listener) {
      GST_ELEMENT_ERROR (src, RESOURCE, OPEN_READ, ("%s", error->message),
          (NULL));
      g_clear_error (&error);
      g_free (host);
      return FALSE;
    }
    GST_OBJECT_LOCK (src);
    src->current_port = qs_conn_local_port (src->listener);
    GST_OBJECT_UNLOCK (src);
    GST_INFO_OBJECT (src, "listening on %s:%u", host, src->current_port);
    if (!src->skey && !qs_conn_host_is_loopback (host))
      GST_ELEMENT_WARNING (src, RESOURCE, SETTINGS,
          ("Listening in clear on %s:%u without a key: anyone who can reach "
              "this port can send to it and listen; set a key on both ends "
              "(qsound-launch --new-key, then -k) to seal the link.", host,
              src->current_port), (NULL));
    gst_framed_tcp_src_set_state (src, "listening", "");
    g_object_notify (G_OBJECT (src), "current-port");
    src->accept_cancellable = g_cancellable_new ();
    src->accept_thread = g_thread_new ("framedtcpsrc-accept",
        gst_framed_tcp_src_accept_thread, src);
  }
  g_free (host);
  return TRUE;
}

static gboolean
gst_framed_tcp_src_stop (GstBaseSrc * bsrc)
{
  GstFramedTcpSrc *src = GST_FRAMED_TCP_SRC (bsrc);

  gst_framed_tcp_src_drop_connection (src, NULL);
  if (src->accept_thread) {
    g_cancellable_cancel (src->accept_cancellable);
    g_mutex_lock (&src->plock);
    g_cond_broadcast (&src->pcond);     /* ends a backoff wait */
    g_mutex_unlock (&src->plock);
    g_thread_join (src->accept_thread);
    src->accept_thread = NULL;
    g_mutex_lock (&src->plock);
    while (src->pending > 0)
      g_cond_wait (&src->pcond, &src->plock);
    g_queue_clear_full (&src->ready, (GDestroyNotify) qs_ready_free);
    g_mutex_unlock (&src->plock);
    g_clear_object (&src->accept_cancellable);
  }
  if (src->listener) {
    g_socket_close (src->listener, NULL);
    g_clear_object (&src->listener);
  }
  g_clear_pointer (&src->parser, qs_proto_parser_free);
  gst_caps_replace (&src->caps, NULL);
  GST_OBJECT_LOCK (src);
  src->current_port = 0;
  GST_OBJECT_UNLOCK (src);
  gst_framed_tcp_src_set_state (src, "idle", "");
  return TRUE;
}

static gboolean
gst_framed_tcp_src_unlock (GstBaseSrc * bsrc)
{
  GstFramedTcpSrc *src = GST_FRAMED_TCP_SRC (bsrc);

  GST_OBJECT_LOCK (src);
  g_cancellable_cancel (src->cancellable);
  GST_OBJECT_UNLOCK (src);
  return TRUE;
}

static gboolean
gst_framed_tcp_src_unlock_stop (GstBaseSrc * bsrc)
{
  GstFramedTcpSrc *src = GST_FRAMED_TCP_SRC (bsrc);

  GST_OBJECT_LOCK (src);
  g_object_unref (src->cancellable);
  src->cancellable = g_cancellable_new ();
  GST_OBJECT_UNLOCK (src);
  return TRUE;
}

static gboolean
gst_framed_tcp_src_query (GstBaseSrc * bsrc, GstQuery * query)
{
  GstFramedTcpSrc *src = GST_FRAMED_TCP_SRC (bsrc);

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    GstClockTime latency;

    GST_OBJECT_LOCK (src);
    latency = src->latency;
    GST_OBJECT_UNLOCK (src);
    gst_query_set_latency (query, TRUE, latency, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (parent_class)->query (bsrc, query);
}

static GstStructure *
gst_framed_tcp_src_get_stats (GstFramedTcpSrc * src)
{
  GstStructure *s;

  GST_OBJECT_LOCK (src);
  s = gst_structure_new ("framedtcpsrc-stats",
      "bytes", G_TYPE_UINT64, src->bytes,
      "buffers", G_TYPE_UINT64, src->buffers,
      "lost", G_TYPE_UINT64, src->lost,
      "reconnects", G_TYPE_UINT, src->reconnects,
      "state", G_TYPE_STRING, src->state ? src->state : "idle",
      "peer", G_TYPE_STRING, src->peer_name ? src->peer_name : "",
      "caps", G_TYPE_STRING, src->wire_caps ? src->wire_caps : "", NULL);
  GST_OBJECT_UNLOCK (src);
  return s;
}

static void
gst_framed_tcp_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstFramedTcpSrc *src = GST_FRAMED_TCP_SRC (object);

  GST_OBJECT_LOCK (src);
  switch (prop_id) {
    case PROP_MODE:
      src->mode = g_value_get_enum (value);
      break;
    case PROP_HOST:
      g_free (src->host);
      src->host = g_value_dup_string (value);
      if (!src->host)
        src->host = g_strdup (DEFAULT_HOST);
      break;
    case PROP_PORT:
      src->port = g_value_get_int (value);
      break;
    case PROP_KEY:
      g_free (src->key);
      src->key = g_value_dup_string (value);
      break;
    case PROP_MAX_FRAME_SIZE:
      src->max_frame_size = g_value_get_uint (value);
      break;
    case PROP_TIMEOUT:
      src->timeout = g_value_get_uint (value);
      break;
    case PROP_LATENCY:
      src->latency = g_value_get_uint64 (value);
      break;
    case PROP_RECONNECT:
      src->reconnect = g_value_get_boolean (value);
      break;
    case PROP_EOS_ENDS:
      src->eos_ends = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (src);
}

static void
gst_framed_tcp_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstFramedTcpSrc *src = GST_FRAMED_TCP_SRC (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, gst_framed_tcp_src_get_stats (src));
    return;
  }

  GST_OBJECT_LOCK (src);
  switch (prop_id) {
    case PROP_MODE:
      g_value_set_enum (value, src->mode);
      break;
    case PROP_HOST:
      g_value_set_string (value, src->host);
      break;
    case PROP_PORT:
      g_value_set_int (value, src->port);
      break;
    case PROP_CURRENT_PORT:
      g_value_set_int (value, src->current_port);
      break;
    case PROP_KEY:
      g_value_set_string (value, src->key);
      break;
    case PROP_MAX_FRAME_SIZE:
      g_value_set_uint (value, src->max_frame_size);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, src->timeout);
      break;
    case PROP_LATENCY:
      g_value_set_uint64 (value, src->latency);
      break;
    case PROP_RECONNECT:
      g_value_set_boolean (value, src->reconnect);
      break;
    case PROP_EOS_ENDS:
      g_value_set_boolean (value, src->eos_ends);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (src);
}

static void
gst_framed_tcp_src_finalize (GObject * object)
{
  GstFramedTcpSrc *src = GST_FRAMED_TCP_SRC (object);

  g_free (src->host);
  g_free (src->key);
  g_free (src->state);
  g_free (src->peer_name);
  g_free (src->wire_caps);
  g_clear_object (&src->cancellable);
  g_mutex_clear (&src->plock);
  g_cond_clear (&src->pcond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_framed_tcp_src_class_init (GstFramedTcpSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_framed_tcp_src_set_property;
  gobject_class->get_property = gst_framed_tcp_src_get_property;
  gobject_class->finalize = gst_framed_tcp_src_finalize;

  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "Whether to connect to a sender that listens (client) or listen "
          "for senders (server).", QS_TYPE_CONN_MODE, DEFAULT_MODE, rw));
  g_object_class_install_property (gobject_class, PROP_HOST,
      g_param_spec_string ("host", "Host",
          "In client mode the sender to connect to; in server mode the "
          "address to listen on (0.0.0.0 for every interface).",
          DEFAULT_HOST, rw));
  g_object_class_install_property (gobject_class, PROP_PORT,
      g_param_spec_int ("port", "Port",
          "The TCP port to connect to or listen on (0 in server mode lets "
          "the system pick one; read it back from current-port).",
          0, G_MAXUINT16, DEFAULT_PORT, rw));
  g_object_class_install_property (gobject_class, PROP_CURRENT_PORT,
      g_param_spec_int ("current-port", "Current port",
          "The port the server actually listens on, or 0 when not listening.",
          0, G_MAXUINT16, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_KEY,
      g_param_spec_string ("key", "Key",
          "A pre-shared key, the same on both ends: the peer must prove it "
          "knows it, and every frame is then encrypted and authenticated. "
          "Empty means none: the stream comes in clear.",
          DEFAULT_KEY, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_FRAME_SIZE,
      g_param_spec_uint ("max-frame-size", "Maximum frame size",
          "The largest frame, in bytes, accepted from the sender; a larger "
          "one is refused before anything is allocated.",
          QS_PROTO_MIN_MAX_FRAME_SIZE, QS_PROTO_MAX_MAX_FRAME_SIZE,
          DEFAULT_MAX_FRAME_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout",
          "Seconds of silence from the sender (no media and no heartbeat) "
          "after which it is considered gone (heartbeats come every second, so "
          "at least 2).", 2, 3600, DEFAULT_TIMEOUT, rw));
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint64 ("latency", "Latency",
          "The delay, in nanoseconds, the receiver adds to absorb network "
          "jitter; reported in LATENCY queries.", 0, 10 * GST_SECOND,
          DEFAULT_LATENCY, rw));
  g_object_class_install_property (gobject_class, PROP_RECONNECT,
      g_param_spec_boolean ("reconnect", "Reconnect",
          "In client mode, keep retrying (with backoff) when the sender is "
          "not there or the link breaks, instead of failing.",
          DEFAULT_RECONNECT, rw));
  g_object_class_install_property (gobject_class, PROP_EOS_ENDS,
      g_param_spec_boolean ("eos-ends", "EOS ends",
          "When the sender ends its stream (EOS), end this one too, as for "
          "a file sent over the link. Off: the receiver outlives its sender "
          "and waits for the next one (server mode) or for its server to "
          "come back (client mode).", DEFAULT_EOS_ENDS, rw));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters: bytes and buffers received, buffers lost in sequence "
          "gaps, reconnects, state, peer and the caps on the wire.",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Framed TCP source", "Source/Network",
      "Receives a stream sent by framedtcpsink, with its caps, timestamps "
      "and flags", "qsound authors");

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_framed_tcp_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_framed_tcp_src_stop);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_framed_tcp_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_framed_tcp_src_unlock_stop);
  basesrc_class->query = GST_DEBUG_FUNCPTR (gst_framed_tcp_src_query);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_framed_tcp_src_create);

  gst_type_mark_as_plugin_api (QS_TYPE_CONN_MODE, 0);
}

static void
gst_framed_tcp_src_init (GstFramedTcpSrc * src)
{
  src->mode = DEFAULT_MODE;
  src->host = g_strdup (DEFAULT_HOST);
  src->port = DEFAULT_PORT;
  src->key = g_strdup (DEFAULT_KEY);
  src->max_frame_size = DEFAULT_MAX_FRAME_SIZE;
  src->timeout = DEFAULT_TIMEOUT;
  src->latency = DEFAULT_LATENCY;
  src->reconnect = DEFAULT_RECONNECT;
  src->eos_ends = DEFAULT_EOS_ENDS;
  src->cancellable = g_cancellable_new ();
  src->state = g_strdup ("idle");
  g_mutex_init (&src->plock);
  g_cond_init (&src->pcond);
  g_queue_init (&src->ready);

  gst_base_src_set_live (GST_BASE_SRC (src), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (src), GST_FORMAT_TIME);
}
