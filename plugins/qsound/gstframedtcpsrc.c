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
 * most 5 s; more are closed at once), so an idle stranger never delays a
 * real sender.  What it refuses (closed at once, or failed in the
 * handshake) is counted in #GstFramedTcpSrc:stats as refused and reported
 * together: the first at once, then one warning at most every 10 s with
 * how many (its details: refused-count, and refused as in stats).  A sender that
 * sends nothing (not even a heartbeat) for #GstFramedTcpSrc:timeout seconds is
 * considered gone.  The first buffer after any loss or reconnect is marked
 * DISCONT; missing frames are counted in #GstFramedTcpSrc:stats.
 *
 * From a sender of protocol 2.1 or later it learns the sender's clock: it
 * asks the time in timed heartbeats (20 a second for 2 s after connecting,
 * then 10), trusts the exchanges with the shortest round trips, and fits
 * the sender's clock against its own (docs/PROTOCOL.md, "Timed
 * heartbeats").  #GstFramedTcpSrc:stats shows the estimate: clock-synced,
 * clock-offset (the sender's running time minus ours, ns), clock-ppm (how
 * much faster the sender's clock runs), clock-ppm-error (its standard
 * error), clock-rate-known, clock-rtt (the shortest round trip) and
 * clock-exchanges.  It tells the elements downstream too, in a sticky
 * custom event "qsound-sender-clock" (the estimate as a GstClock
 * calibration and what it added to the sender's timestamps; a new sender
 * first un-tells the last one's), before a buffer, at once and then at
 * most four times a second: audiojitterbuffer's end-to-end-latency plays
 * each sample at its capture time on that clock plus a fixed delay (and
 * takes the event: it goes no further).
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
#include "qsoundendpoint.h"
#include "qsoundelements.h"
#include "qsclocksync.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (framed_tcp_src_debug);
#define GST_CAT_DEFAULT framed_tcp_src_debug

#define DEFAULT_LATENCY         (50 * GST_MSECOND)
#define DEFAULT_EOS_ENDS        FALSE

/* How often a receiver asks a 2.1 sender for its time: often while it locks
 * in after connecting, then ten times a second (a timed heartbeat is 32
 * bytes, 56 sealed). */
#define ASK_INTERVAL_LOCKING    (50 * G_TIME_SPAN_MILLISECOND)
#define ASK_INTERVAL            (100 * G_TIME_SPAN_MILLISECOND)
/* questions kept for their answers: 1.6 s of them while locking */
#define ASKED_KEEP              32
#define LOCKING_TIME            (2 * G_TIME_SPAN_SECOND)

enum
{
  /* mode, host, port, current-port, key, max-frame-size, timeout and
   * reconnect come from qsoundendpoint.h */
  PROP_LATENCY = QS_ENDPOINT_PROP_LAST,
  PROP_EOS_ENDS,
  PROP_STATS,
};

struct _GstFramedTcpSrc
{
  GstPushSrc parent;

  QsEndpoint ep;                 /* the shared settings, state and counters */

  /* settings, under the object lock */
  GstClockTime latency;
  gboolean eos_ends;

  GCancellable *cancellable;    /* replaced under the object lock */
  GSocket *listener;
  GSocket *socket;
  QsProtoSeal *seal;            /* NULL without a key */
  QsProtoParser *parser;
  gint64 last_recv;
  gint64 last_send;
  gint64 backoff;
  gboolean discont;
  gboolean new_sender;          /* a connection after the first: its caps start a new stream */
  gboolean have_base;
  GstClockTimeDiff ts_offset;   /* added to the sender's timestamps */
  GstCaps *caps;

  /* the sender's clock, from timed heartbeats (protocol 2.1) */
  gboolean timed;               /* the sender answers them */
  QsClockSync *clock_sync;
  /* our running time in the latest questions (a ring): a link whose round
   * trip is longer than the asking interval has several out at once */
  GstClockTime asked[ASKED_KEEP];
  guint asked_i;
  gint64 next_ask;
  gint64 connected_at;
  gboolean clock_fresh;         /* estimated since it was last told */
  gboolean told_synced;         /* downstream was last told a clock */
  gint64 told_at;               /* ... then (monotonic) */

  /* server mode: accepting and handshaking happen off the streaming thread */
  GThread *accept_thread;
  GCancellable *accept_cancellable;     /* cancelled by stop() only */
  GMutex plock;
  GCond pcond;
  guint pending;                /* handshake threads running, under plock */
  GQueue ready;                 /* QsReady *, handshaken senders, under plock */
  QsConnRefusals refusals;      /* connections refused; its own lock */

  /* statistics, under the object lock */
  guint64 bytes;
  guint64 buffers;
  guint64 lost;
  gchar *wire_caps;
  const gchar *cipher;          /* of the latest sender; static */
  gboolean have_clock;          /* clock_est and clock_offset are set */
  QsClockEstimate clock_est;
  GstClockTimeDiff clock_offset;        /* the sender's clock minus ours */
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

#define gst_framed_tcp_src_set_state(src, state, peer) \
  qs_endpoint_set_state (&(src)->ep, (state), (peer))

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
  gst_framed_tcp_src_set_state (src, src->ep.run.mode == QS_CONN_MODE_SERVER ?
      "listening" : "connecting", "");
}

/* Takes a sender that passed its handshake: the next new connection. */
static void
gst_framed_tcp_src_take (GstFramedTcpSrc * src, GSocket * socket,
    QsProtoParser * parser, QsProtoSeal * seal, const gchar * peer)
{
  guint i;

  GST_INFO_OBJECT (src, "sender %s connected", peer);
  if (parser != src->parser) {
    qs_proto_parser_free (src->parser);
    src->parser = parser;
  }
  src->socket = socket;
  src->seal = seal;
  GST_OBJECT_LOCK (src);
  src->cipher = seal ? qs_proto_cipher_name (qs_proto_seal_get_cipher (seal))
      : "none";
  GST_OBJECT_UNLOCK (src);
  src->last_recv = src->last_send = g_get_monotonic_time ();
  src->discont = TRUE;
  src->have_base = FALSE;
  src->timed = qs_proto_parser_get_peer_minor (src->parser) >=
      QS_PROTO_MINOR_TIMED_HEARTBEAT;
  qs_clock_sync_reset (src->clock_sync);
  for (i = 0; i < ASKED_KEEP; i++)
    src->asked[i] = GST_CLOCK_TIME_NONE;
  src->clock_fresh = FALSE;
  src->connected_at = src->next_ask = src->last_recv;
  GST_OBJECT_LOCK (src);
  src->have_clock = FALSE;
  GST_OBJECT_UNLOCK (src);
  if (qs_endpoint_connected (&src->ep, peer))
    src->new_sender = TRUE;
}

/* Gets a connected, authenticated sender, or a flow return to give up with. */
static GstFlowReturn
gst_framed_tcp_src_ensure_connection (GstFramedTcpSrc * src,
    GCancellable * cancellable)
{
  GError *error = NULL;
  QsProtoSeal *seal = NULL;
  GSocket *socket;
  gchar *peer;

  if (src->socket)
    return GST_FLOW_OK;

  if (src->ep.run.mode == QS_CONN_MODE_SERVER) {
    QsReady *r;

    gst_framed_tcp_src_set_state (src, "listening", NULL);
    g_mutex_lock (&src->plock);
    while (!(r = g_queue_pop_head (&src->ready))) {
      if (g_cancellable_is_cancelled (cancellable)) {
        g_mutex_unlock (&src->plock);
        return GST_FLOW_FLUSHING;
      }
      /* unlock() cancels without signalling: look again every 50 ms */
      g_cond_wait_until (&src->pcond, &src->plock, g_get_monotonic_time () +
          50 * G_TIME_SPAN_MILLISECOND);
    }
    g_mutex_unlock (&src->plock);
    gst_framed_tcp_src_take (src, r->socket, r->parser, r->seal, r->peer);
    r->parser = NULL;
    r->socket = NULL;
    r->seal = NULL;
    qs_ready_free (r);
    return GST_FLOW_OK;
  }

  socket = qs_endpoint_connect (&src->ep, QS_ROLE_RECEIVER, src->parser, &seal,
      &src->backoff, cancellable, &error);
  if (!socket) {
    if (g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED)) {
      g_clear_error (&error);
      return GST_FLOW_FLUSHING;
    }
    GST_ELEMENT_ERROR (src, RESOURCE, OPEN_READ, ("%s", error->message),
        (NULL));
    g_clear_error (&error);
    return GST_FLOW_ERROR;
  }
  peer = qs_conn_peer_name (socket);
  gst_framed_tcp_src_take (src, socket, src->parser, seal, peer);
  g_free (peer);
  return GST_FLOW_OK;
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
    GstClockTime now = qs_endpoint_running_time (&src->ep);

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
  /* the peer's text, for messages and stats: a log or a terminal shows it */
  gchar *shown = qs_proto_text_escape (text);

  if (!caps || !gst_caps_is_fixed (caps)) {
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_BAD_CAPS,
        "The sender described its stream with caps that are not valid "
        "fixed GStreamer caps ('%.200s'); fix the sending pipeline.", shown);
    g_free (shown);
    if (caps)
      gst_caps_unref (caps);
    return FALSE;
  }
  GST_OBJECT_LOCK (src);
  g_free (src->wire_caps);
  src->wire_caps = shown;
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
        "sender-%" G_GINT64_FORMAT, g_get_monotonic_time ());
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
    GST_OBJECT_LOCK (src);
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_BAD_CAPS,
        "Nothing after framedtcpsrc accepts the stream the sender sends "
        "(%.200s); add a decoder or converter that handles it.",
        src->wire_caps);
    GST_OBJECT_UNLOCK (src);
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

/* Asks a 2.1 sender for its time when a question is due (a timed
 * heartbeat carrying our running time); drops the link when that fails. */
static void
gst_framed_tcp_src_ask (GstFramedTcpSrc * src, gint64 now, gint64 timeout_us,
    GCancellable * cancellable)
{
  GError *error = NULL;
  GstClockTime t1;

  if (!src->socket || !src->timed || now < src->next_ask)
    return;
  src->next_ask = now + (now - src->connected_at < LOCKING_TIME ?
      ASK_INTERVAL_LOCKING : ASK_INTERVAL);
  t1 = qs_endpoint_running_time (&src->ep);
  if (!GST_CLOCK_TIME_IS_VALID (t1))
    return;
  if (!qs_conn_write_frame (src->socket, src->seal,
          qs_proto_build_timed_heartbeat (t1, QS_PROTO_TIME_NONE,
              QS_PROTO_TIME_NONE), now + timeout_us, cancellable, &error)) {
    GST_INFO_OBJECT (src, "asking the time failed: %s", error->message);
    g_clear_error (&error);
    gst_framed_tcp_src_drop_connection (src, NULL);
    return;
  }
  src->asked[src->asked_i] = t1;
  src->asked_i = (src->asked_i + 1) % ASKED_KEEP;
  src->last_send = now;
}

/* A sender's answer to our last question, arrived at our running time t4:
 * one more exchange for the estimate of its clock. */
static void
gst_framed_tcp_src_answered (GstFramedTcpSrc * src, const QsMessage * msg,
    GstClockTime t4)
{
  QsClockEstimate est;

  guint i;

  if (msg->payload_len != 24 || !GST_CLOCK_TIME_IS_VALID (msg->hb_origin))
    return;
  /* an answer to one of our questions, once */
  for (i = 0; i < ASKED_KEEP && src->asked[i] != msg->hb_origin; i++);
  if (i == ASKED_KEEP)
    return;
  src->asked[i] = GST_CLOCK_TIME_NONE;
  if (!qs_clock_sync_add (src->clock_sync, msg->hb_origin, msg->hb_received,
          msg->pts, t4) || !qs_clock_sync_estimate (src->clock_sync, &est))
    return;
  GST_LOG_OBJECT (src, "sender clock: offset %" GST_STIME_FORMAT ", %+.1f "
      "ppm (se %.1f), rtt %" GST_TIME_FORMAT ", %u exchanges",
      GST_STIME_ARGS (qs_clock_estimate_offset (&est, t4)), est.ppm,
      est.rate_se, GST_TIME_ARGS (est.rtt), est.exchanges);
  GST_OBJECT_LOCK (src);
  src->clock_est = est;
  src->clock_offset = qs_clock_estimate_offset (&est, t4);
  src->have_clock = TRUE;
  GST_OBJECT_UNLOCK (src);
  src->clock_fresh = TRUE;
}

/* Tells downstream (audiojitterbuffer's end-to-end latency) the sender's
 * clock and how this connection's timestamps were re-based onto ours, in a
 * sticky event (qsclocksync.h), before the buffer about to be pushed: at
 * once when it is first known or the connection changed, then at most
 * every TELL_INTERVAL as the estimate improves.  A new sender first
 * un-tells the last one's. */
#define TELL_INTERVAL (250 * G_TIME_SPAN_MILLISECOND)

static void
gst_framed_tcp_src_tell_clock (GstFramedTcpSrc * src)
{
  GstPad *pad = GST_BASE_SRC_PAD (src);
  GstEvent *segment;
  QsClockEstimate est;
  gint64 now = g_get_monotonic_time ();
  gboolean untell = src->told_synced && src->told_at < src->connected_at;
  gboolean tell = src->clock_fresh && src->have_base && (!src->told_synced
      || now - src->told_at >= TELL_INTERVAL);

  /* most buffers have nothing to tell */
  if (!untell && !tell)
    return;
  /* before the first segment the event would precede it; wait a buffer */
  segment = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  if (!segment)
    return;
  gst_event_unref (segment);
  if (untell) {
    gst_pad_push_event (pad, qs_clock_event_new (NULL, 0));
    src->told_synced = FALSE;
  }
  if (!tell)
    return;
  GST_OBJECT_LOCK (src);
  est = src->clock_est;
  GST_OBJECT_UNLOCK (src);
  src->clock_fresh = FALSE;
  src->told_synced = TRUE;
  src->told_at = now;
  gst_pad_push_event (pad, qs_clock_event_new (&est, src->ts_offset));
}

static GstFlowReturn
gst_framed_tcp_src_create (GstPushSrc * psrc, GstBuffer ** outbuf)
{
  GstFramedTcpSrc *src = GST_FRAMED_TCP_SRC (psrc);
  GCancellable *cancellable = gst_framed_tcp_src_get_cancellable (src);
  GstFlowReturn ret = GST_FLOW_OK;
  gint64 timeout_us;

  timeout_us = src->ep.run.timeout * G_TIME_SPAN_SECOND;

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
    if (src->timed)
      deadline = MIN (deadline, src->next_ask);
    if (!qs_conn_read_message (src->socket, src->parser, &msg,
            MAX (deadline, 1), &timed_out, cancellable, &error)) {
      if (timed_out) {
        now = g_get_monotonic_time ();
        if (now - src->last_recv >= timeout_us) {
          GST_ELEMENT_WARNING (src, RESOURCE, READ,
              ("The sender sent nothing, not even a heartbeat, for %u s; "
                  "dropping the link and %s.", (guint) (timeout_us /
                      G_TIME_SPAN_SECOND), src->ep.run.mode == QS_CONN_MODE_SERVER ?
                  "waiting for the next sender" : "reconnecting"), (NULL));
          gst_framed_tcp_src_drop_connection (src, NULL);
        } else {
          gst_framed_tcp_src_ask (src, now, timeout_us, cancellable);
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
        if (src->ep.run.mode == QS_CONN_MODE_CLIENT && !src->ep.run.reconnect) {
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
    if (msg.type == QS_MSG_HEARTBEAT && src->timed)
      gst_framed_tcp_src_answered (src, &msg,
          qs_endpoint_running_time (&src->ep));
    /* media flowing steadily never lets the read time out: the sender must
     * still hear from us within its timeout, and be asked its time */
    gst_framed_tcp_src_ask (src, src->last_recv, timeout_us, cancellable);
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
        gst_framed_tcp_src_tell_clock (src);
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
            src->ep.run.mode == QS_CONN_MODE_SERVER ?
            "waiting for the next sender"
            : "reconnecting");
        gst_framed_tcp_src_drop_connection (src, NULL);
        if (src->ep.run.mode == QS_CONN_MODE_CLIENT) {
          /* its server is probably going away: do not hammer it */
          gst_framed_tcp_src_set_state (src, "waiting", NULL);
          src->backoff = qs_conn_backoff_next (src->backoff);
          if (!qs_endpoint_sleep (cancellable, src->backoff)) {
            ret = GST_FLOW_FLUSHING;
            goto out;
          }
        }
        break;
      }
      case QS_MSG_HEARTBEAT:
        break;
      case QS_MSG_ERROR:{
        gchar *text = qs_proto_text_escape (msg.text);

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
    if (src->ep.run.mode == QS_CONN_MODE_SERVER) {
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

  r->parser = qs_proto_parser_new (src->ep.run.max_frame_size);
  if (qs_conn_handshake (r->socket, r->parser, QS_ROLE_RECEIVER, TRUE,
          src->ep.skey, &r->seal, src->accept_cancellable, &error)) {
    g_mutex_lock (&src->plock);
    g_queue_push_tail (&src->ready, r);
    r = NULL;
    g_cond_broadcast (&src->pcond);
    g_mutex_unlock (&src->plock);
  } else if (!g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED)) {
    /* a bad peer is counted and reported (at most every 10 s: a flood of
     * strangers that time out is one warning); the server waits for the
     * next one */
    qs_endpoint_refused (&src->ep, &src->refusals, r->peer, error);
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
    gboolean timed_out;
    gint64 deadline;

    /* refusals not reported yet are reported once 10 s have passed, even
     * when no new connection comes */
    deadline = qs_endpoint_refusals_flush (&src->ep, &src->refusals);
    socket = qs_conn_accept (src->listener, deadline, &timed_out,
        src->accept_cancellable, &error);
    if (!socket) {
      if (timed_out)
        continue;
      if (g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED)) {
        g_clear_error (&error);
        break;
      }
      /* out of descriptors, say: wait and retry */
      backoff = qs_endpoint_accept_failed (&src->ep, &src->refusals, error,
          backoff);
      g_clear_error (&error);
      g_mutex_lock (&src->plock);
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
      g_mutex_unlock (&src->plock);
      qs_endpoint_refuse (&src->ep, &src->refusals, socket,
          "too many senders were still "
          "in the handshake or waiting (an idle stranger, or a flood)");
      continue;
    }
    r = g_new0 (QsReady, 1);
    r->src = src;
    r->socket = socket;
    r->peer = qs_conn_peer_name (socket);
    thread = g_thread_try_new ("framedtcpsrc-handshake",
        gst_framed_tcp_src_handshake_thread, r, &error);
    if (!thread) {
      g_mutex_unlock (&src->plock);
      r->socket = NULL;
      qs_ready_free (r);
      qs_endpoint_refuse (&src->ep, &src->refusals, socket, error->message);
      g_clear_error (&error);
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
  GCancellable *cancellable = gst_framed_tcp_src_get_cancellable (src);
  gboolean ok;

  GST_OBJECT_LOCK (src);
  src->bytes = src->buffers = src->lost = 0;
  src->cipher = "";
  GST_OBJECT_UNLOCK (src);
  src->backoff = 0;
  src->discont = TRUE;
  src->new_sender = FALSE;
  src->have_base = FALSE;
  qs_conn_refusals_reset (&src->refusals);

  ok = qs_endpoint_start (&src->ep, cancellable, &src->listener);
  g_object_unref (cancellable);
  if (!ok)
    return FALSE;
  src->parser = qs_proto_parser_new (src->ep.run.max_frame_size);
  if (src->listener) {
    src->accept_cancellable = g_cancellable_new ();
    src->accept_thread = g_thread_new ("framedtcpsrc-accept",
        gst_framed_tcp_src_accept_thread, src);
  }
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
  src->told_synced = src->clock_fresh = FALSE;
  qs_endpoint_stop (&src->ep);
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
      "caps", G_TYPE_STRING, src->wire_caps ? src->wire_caps : "",
      "cipher", G_TYPE_STRING, src->cipher,
      "clock-synced", G_TYPE_BOOLEAN, src->have_clock, NULL);
  if (src->have_clock)
    gst_structure_set (s,
        "clock-offset", G_TYPE_INT64, src->clock_offset,
        "clock-ppm", G_TYPE_DOUBLE, src->clock_est.ppm,
        "clock-ppm-error", G_TYPE_DOUBLE, MIN (src->clock_est.rate_se, 1e6),
        "clock-rate-known", G_TYPE_BOOLEAN, src->clock_est.rate_known,
        "clock-rtt", G_TYPE_UINT64, src->clock_est.rtt,
        "clock-exchanges", G_TYPE_UINT, src->clock_est.exchanges, NULL);
  GST_OBJECT_UNLOCK (src);
  gst_structure_set (s, "refused", G_TYPE_UINT64,
      qs_conn_refusals_total (&src->refusals), NULL);
  qs_endpoint_add_stats (&src->ep, s);
  return s;
}

static void
gst_framed_tcp_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstFramedTcpSrc *src = GST_FRAMED_TCP_SRC (object);

  if (qs_endpoint_set_property (&src->ep, prop_id, value))
    return;
  GST_OBJECT_LOCK (src);
  switch (prop_id) {
    case PROP_LATENCY:
      src->latency = g_value_get_uint64 (value);
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
  if (qs_endpoint_get_property (&src->ep, prop_id, value))
    return;
  GST_OBJECT_LOCK (src);
  switch (prop_id) {
    case PROP_LATENCY:
      g_value_set_uint64 (value, src->latency);
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

  qs_endpoint_clear (&src->ep);
  qs_conn_refusals_clear (&src->refusals);
  qs_clock_sync_free (src->clock_sync);
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

  qs_endpoint_install_properties (gobject_class, QS_ENDPOINT_SRC);
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint64 ("latency", "Latency",
          "The delay, in nanoseconds, the receiver adds to absorb network "
          "jitter; reported in LATENCY queries.", 0, 10 * GST_SECOND,
          DEFAULT_LATENCY, rw));
  g_object_class_install_property (gobject_class, PROP_EOS_ENDS,
      g_param_spec_boolean ("eos-ends", "EOS ends",
          "When the sender ends its stream (EOS), end this one too, as for "
          "a file sent over the link. Off: the receiver outlives its sender "
          "and waits for the next one (server mode) or for its server to "
          "come back (client mode).", DEFAULT_EOS_ENDS, rw));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters: bytes and buffers received, buffers lost in sequence "
          "gaps, reconnects, connections refused (server mode: closed at once "
          "beyond the limits, or failed in the handshake), state, peer, the "
          "caps on the wire (control characters escaped), the cipher that "
          "sealed the latest sender's frames (aes-256-gcm, chacha20-poly1305; "
          "none in clear; empty before the first), and key-stretches: how "
          "many keys this process has stretched (once per key, never per "
          "connection); with a 2.1 sender, its clock: clock-synced, "
          "clock-offset (ns, its running time minus ours), clock-ppm, "
          "clock-ppm-error, clock-rate-known, clock-rtt, clock-exchanges.",
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
  qs_endpoint_init (&src->ep, GST_ELEMENT (src), QS_ENDPOINT_SRC);
  src->latency = DEFAULT_LATENCY;
  src->eos_ends = DEFAULT_EOS_ENDS;
  src->cancellable = g_cancellable_new ();
  src->cipher = "";
  g_mutex_init (&src->plock);
  g_cond_init (&src->pcond);
  g_queue_init (&src->ready);
  qs_conn_refusals_init (&src->refusals, NULL, NULL);
  src->clock_sync = qs_clock_sync_new ();

  gst_base_src_set_live (GST_BASE_SRC (src), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (src), GST_FORMAT_TIME);
}
