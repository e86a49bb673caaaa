/* qsound — framedtcpsink: sends any GStreamer stream over TCP as frames.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-framedtcpsink
 * @title: framedtcpsink
 * @see_also: framedtcpsrc, loopbacksrc
 *
 * Sends any GStreamer stream over TCP as self-describing frames: caps travel
 * in-band when a receiver connects and whenever they change, and every buffer
 * keeps its timestamps, duration and flags.  The other end is framedtcpsrc.
 *
 * In server mode (the default) the sink listens on #GstFramedTcpSink:host and
 * #GstFramedTcpSink:port and serves up to #GstFramedTcpSink:max-clients
 * receivers at once; a receiver that joins late first gets the caps and
 * stream headers.  At most 4 peers are in the handshake at once, each for at
 * most 5 s; connections beyond either limit are closed at once.  Those and
 * the peers whose handshake fails are counted in #GstFramedTcpSink:stats as
 * refused and reported together: the first at once, then one warning at
 * most every 10 s with how many (its details: refused-count, and refused as
 * in stats).  Running out of descriptors or threads only delays the next
 * accept, so a stranger can neither stall the sink nor kill it.  In client
 * mode it connects to a framedtcpsrc that listens, and reconnects with backoff
 * when the link breaks.
 *
 * The streaming thread never waits for the network when upstream is live:
 * each receiver has its own bounded queue, and a receiver that cannot keep up
 * loses its oldest frames (counted in #GstFramedTcpSink:stats as dropped, and
 * seen by the receiver as a sequence gap) or is disconnected after
 * #GstFramedTcpSink:timeout.  With a non-live upstream (a file, say) the sink
 * applies back-pressure instead and nothing is dropped.
 *
 * What a receiver sends is read on a thread of its own as it arrives.  A
 * receiver of protocol 2.1 asks the sender's time in timed heartbeats; the
 * sink answers each at once, ahead of the queued media, with its running
 * time on the pipeline clock (the timeline of the buffers' timestamps), so
 * that receivers can estimate that clock (docs/PROTOCOL.md, "Timed
 * heartbeats").
 *
 * With #GstFramedTcpSink:key set on both ends, the link is sealed: the end
 * that connects proves it knows the key, the end that listens checks the
 * proof before it answers with its own, and every frame after that (caps,
 * media, EOS, heartbeats) is encrypted and authenticated with keys made for
 * that connection (libsodium; docs/PROTOCOL.md, version 2).  A frame altered
 * on the way ends the connection; when it is a receiver's frame that the
 * sink finds altered, it posts a warning ("the stream was altered in
 * transit", at most one every 10 s with how many receivers; its details:
 * altered-count) and serves the other receivers on.  Without a key the
 * stream is in clear; a server that listens on an address other than
 * loopback then warns once that anyone who can reach it can listen.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 loopbacksrc ! audioconvert ! lamemp3enc target=bitrate cbr=true ! \
 *     framedtcpsink host=0.0.0.0 port=5000
 * gst-launch-1.0 framedtcpsrc host=sender.local port=5000 ! decodebin ! \
 *     audioconvert ! autoaudiosink
 * ]| The machine that plays serves its sound on port 5000; the one that
 * listens connects to it.
 * |[
 * gst-launch-1.0 framedtcpsrc mode=server port=5000 ! decodebin ! autoaudiosink
 * gst-launch-1.0 audiotestsrc is-live=true ! opusenc ! \
 *     framedtcpsink mode=client host=listener.local port=5000
 * ]| The roles reversed: the receiver listens and the sender connects.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstframedtcpsink.h"
#include "qsoundendpoint.h"
#include "qsoundelements.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (framed_tcp_sink_debug);
#define GST_CAT_DEFAULT framed_tcp_sink_debug

#define DEFAULT_MAX_QUEUE_TIME  (1 * GST_SECOND)
#define DEFAULT_MAX_QUEUE_BYTES (4 * 1024 * 1024)
#define DEFAULT_MAX_CLIENTS     16

enum
{
  /* mode, host, port, current-port, key, max-frame-size, timeout and
   * reconnect come from qsoundendpoint.h */
  PROP_MAX_QUEUE_TIME = QS_ENDPOINT_PROP_LAST,
  PROP_MAX_QUEUE_BYTES,
  PROP_MAX_CLIENTS,
  PROP_STATS,
};

/* One frame, shared by the queues of all receivers. */
typedef struct
{
  guint8 header[QS_PROTO_FRAME_HEADER_SIZE + QS_PROTO_BUFFER_HEADER_SIZE];
  gsize header_len;
  GstBuffer *buffer;            /* media payload, or NULL */
  GBytes *bytes;                /* a whole control frame, or NULL */
  GstClockTime duration;
  gsize size;                   /* bytes on the wire */
} QsFrame;

typedef struct
{
  GstFramedTcpSink *sink;
  GSocket *socket;
  gchar *name;
  GThread *thread;
  GCancellable *cancellable;
  QsProtoSeal *seal;            /* NULL without a key */
  GCond cond;
  GQueue queue;                 /* QsFrame *, under sink->lock */
  gsize queued_bytes;
  GstClockTime queued_time;
  gboolean writing;             /* a batch is being written */
  gboolean waiting;             /* its thread waits on cond for frames */
  gboolean active;              /* handshake done, takes frames */
  gboolean finished;            /* thread done, can be joined */

  /* what the receiver sends is read on a thread of its own, as it comes */
  GThread *reader;
  GCancellable *read_cancel;
  QsProtoParser *parser;
  GError *read_error;           /* why reading ended, under sink->lock */
  /* a timed heartbeat to answer (protocol 2.1), under sink->lock: the
   * receiver's transmit time and our running time when it arrived */
  gboolean ask_pending;
  guint64 ask_time;
  GstClockTime asked_at;
} QsPeer;

struct _GstFramedTcpSink
{
  GstBaseSink parent;

  QsEndpoint ep;                 /* the shared settings, state and counters */

  /* settings, under the object lock */
  GstClockTime max_queue_time;
  guint max_queue_bytes;
  guint max_clients;

  /* state, under lock */
  GMutex lock;
  GCond cond;                   /* queues drained, room made */
  guint cond_waiters;           /* threads waiting on cond: the receivers'
                                 * threads tell it only then (GLib's
                                 * g_cond_broadcast is a system call even
                                 * with no one waiting) */
  gboolean running;
  gboolean unlocked;
  GList *peers;                 /* QsPeer * */
  QsFrame *caps_frame;
  GList *header_frames;         /* QsFrame *, stream headers for late joiners */
  gboolean headers_done;
  gboolean upstream_live;
  gboolean live_known;
  guint64 seq;
  GstClockTime run_max_queue_time;      /* the settings, copied at start() */
  guint run_max_queue_bytes;

  /* statistics, under lock */
  guint64 bytes_sent;
  guint64 buffers;
  guint64 dropped;
  QsConnRefusals refusals;      /* connections refused; its own lock */
  QsConnRefusals altered;       /* receivers whose stream was altered */

  GSocket *listener;
  GThread *thread;              /* accept thread (server) or connect thread (client) */
  GCancellable *cancellable;    /* for the accept/connect thread */
  GError *fatal;                /* posted; makes render fail */
};

#define gst_framed_tcp_sink_parent_class parent_class
G_DEFINE_TYPE (GstFramedTcpSink, gst_framed_tcp_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (framedtcpsink, "framedtcpsink",
    GST_RANK_NONE, GST_TYPE_FRAMED_TCP_SINK,
    GST_DEBUG_CATEGORY_INIT (framed_tcp_sink_debug, "framedtcpsink", 0,
        "qsound framed TCP sink"));

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

/* ---- frames ---- */

static void
qs_frame_clear (QsFrame * frame)
{
  gst_clear_buffer (&frame->buffer);
  g_clear_pointer (&frame->bytes, g_bytes_unref);
}

static QsFrame *
qs_frame_ref (QsFrame * frame)
{
  return g_atomic_rc_box_acquire (frame);
}

static void
qs_frame_unref (QsFrame * frame)
{
  g_atomic_rc_box_release_full (frame, (GDestroyNotify) qs_frame_clear);
}

static QsFrame *
qs_frame_new_control (GBytes * bytes)
{
  QsFrame *frame = g_atomic_rc_box_new0 (QsFrame);

  frame->bytes = bytes;
  frame->size = g_bytes_get_size (bytes);
  frame->duration = GST_CLOCK_TIME_NONE;
  return frame;
}

static guint32
qs_frame_wire_flags (GstBuffer * buf)
{
  guint32 flags = 0;

  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT))
    flags |= QS_BUF_FLAG_DISCONT;
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    flags |= QS_BUF_FLAG_DELTA_UNIT;
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_HEADER))
    flags |= QS_BUF_FLAG_HEADER;
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_GAP))
    flags |= QS_BUF_FLAG_GAP;
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_RESYNC))
    flags |= QS_BUF_FLAG_RESYNC;
  return flags;
}

static QsFrame *
qs_frame_new_buffer (GstBuffer * buf, guint64 seq)
{
  QsFrame *frame = g_atomic_rc_box_new0 (QsFrame);
  gsize size = gst_buffer_get_size (buf);

  qs_proto_write_frame_header (frame->header, QS_MSG_BUFFER,
      QS_PROTO_BUFFER_HEADER_SIZE + size);
  qs_proto_write_buffer_header (frame->header + QS_PROTO_FRAME_HEADER_SIZE, seq,
      GST_BUFFER_PTS (buf), GST_BUFFER_DTS (buf), GST_BUFFER_DURATION (buf),
      qs_frame_wire_flags (buf));
  frame->header_len = sizeof (frame->header);
  frame->buffer = gst_buffer_ref (buf);
  frame->duration = GST_BUFFER_DURATION (buf);
  frame->size = frame->header_len + size;
  return frame;
}

static gboolean
qs_frame_write (QsFrame * frame, GSocket * socket, QsProtoSeal * seal,
    gint64 deadline, GCancellable * cancellable, GError ** error)
{
  GstMapInfo map;
  gboolean ok;

  if (frame->bytes) {
    gsize len;
    const guint8 *data = g_bytes_get_data (frame->bytes, &len);

    return qs_conn_write_parts (socket, seal, data, len, NULL, 0, deadline,
        cancellable, error);
  }

  if (!gst_buffer_map (frame->buffer, &map, GST_MAP_READ)) {
    g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_NETWORK,
        "Could not read a buffer's memory.");
    return FALSE;
  }
  ok = qs_conn_write_parts (socket, seal, frame->header, frame->header_len,
      map.data, map.size, deadline, cancellable, error);
  gst_buffer_unmap (frame->buffer, &map);
  return ok;
}

/* ---- receivers ---- */

#define gst_framed_tcp_sink_set_state(sink, state, peer) \
  qs_endpoint_set_state (&(sink)->ep, (state), (peer))

/* Under lock: drops a receiver's oldest media frame, keeping control frames. */
static gboolean
gst_framed_tcp_sink_drop_oldest (GstFramedTcpSink * sink, QsPeer * peer)
{
  GList *l;

  for (l = peer->queue.head; l; l = l->next) {
    QsFrame *frame = l->data;

    if (frame->buffer) {
      peer->queued_bytes -= frame->size;
      if (GST_CLOCK_TIME_IS_VALID (frame->duration))
        peer->queued_time -= frame->duration;
      g_queue_delete_link (&peer->queue, l);
      qs_frame_unref (frame);
      sink->dropped++;
      return TRUE;
    }
  }
  return FALSE;
}

/* Under lock */
static void
gst_framed_tcp_sink_peer_push (GstFramedTcpSink * sink, QsPeer * peer,
    QsFrame * frame)
{
  g_queue_push_tail (&peer->queue, qs_frame_ref (frame));
  peer->queued_bytes += frame->size;
  if (GST_CLOCK_TIME_IS_VALID (frame->duration))
    peer->queued_time += frame->duration;
  if (peer->waiting)
    g_cond_signal (&peer->cond);
}

/* Under lock: wakes the threads waiting for the queues to drain or make
 * room, if any. */
static void
gst_framed_tcp_sink_tell_drained (GstFramedTcpSink * sink)
{
  if (sink->cond_waiters > 0)
    g_cond_broadcast (&sink->cond);
}

/* Under lock: waits on cond until @until (monotonic; -1 for ever). */
static gboolean
gst_framed_tcp_sink_wait_drained (GstFramedTcpSink * sink, gint64 until)
{
  gboolean ret = TRUE;

  sink->cond_waiters++;
  if (until < 0)
    g_cond_wait (&sink->cond, &sink->lock);
  else
    ret = g_cond_wait_until (&sink->cond, &sink->lock, until);
  sink->cond_waiters--;
  return ret;
}

static gboolean
gst_framed_tcp_sink_peer_full (GstFramedTcpSink * sink, QsPeer * peer)
{
  return peer->queued_bytes > sink->run_max_queue_bytes
      || peer->queued_time > sink->run_max_queue_time;
}

/* Under lock: would this frame overfill a receiver's queue?  (An empty queue
 * always takes one frame, however large.) */
static gboolean
gst_framed_tcp_sink_peer_no_room (GstFramedTcpSink * sink, QsPeer * peer,
    QsFrame * frame)
{
  GstClockTime dur = GST_CLOCK_TIME_IS_VALID (frame->duration) ?
      frame->duration : 0;

  return peer->queue.length > 0 &&
      (peer->queued_bytes + frame->size > sink->run_max_queue_bytes
      || peer->queued_time + dur > sink->run_max_queue_time);
}

static void
gst_framed_tcp_sink_peer_free (QsPeer * peer)
{
  g_queue_clear_full (&peer->queue, (GDestroyNotify) qs_frame_unref);
  g_clear_object (&peer->socket);
  g_clear_object (&peer->cancellable);
  g_clear_pointer (&peer->seal, qs_proto_seal_free);
  g_cond_clear (&peer->cond);
  g_free (peer->name);
  g_free (peer);
}

/* Under lock: joins and frees receivers whose threads have ended. */
static void
gst_framed_tcp_sink_reap (GstFramedTcpSink * sink)
{
  GList *l = sink->peers;

  while (l) {
    GList *next = l->next;
    QsPeer *peer = l->data;

    if (peer->finished) {
      sink->peers = g_list_delete_link (sink->peers, l);
      if (peer->thread)
        g_thread_join (peer->thread);
      gst_framed_tcp_sink_peer_free (peer);
    }
    l = next;
  }
}

static guint
gst_framed_tcp_sink_count_active (GstFramedTcpSink * sink)
{
  GList *l;
  guint n = 0;

  for (l = sink->peers; l; l = l->next)
    if (((QsPeer *) l->data)->active)
      n++;
  return n;
}

/* A receiver's reading thread: what it sends (a heartbeat a second, timed
 * heartbeats asking for our time, or an ERROR saying why it leaves) is read
 * as it arrives, so that a question's arrival time is true to well under a
 * millisecond, and its sending thread is woken to answer at once. */
static gpointer
gst_framed_tcp_sink_peer_reader (gpointer data)
{
  QsPeer *peer = data;
  GstFramedTcpSink *sink = peer->sink;
  gint64 timeout_us = sink->ep.run.timeout * G_TIME_SPAN_SECOND;
  gint64 last_recv = g_get_monotonic_time ();
  GError *error = NULL;

  for (;;) {
    QsMessage msg;
    gboolean timed_out;
    GstClockTime arrived;

    if (!qs_conn_read_message (peer->socket, peer->parser, &msg,
            last_recv + timeout_us, &timed_out, peer->read_cancel, &error)) {
      if (timed_out)
        g_set_error (&error, QS_CONN_ERROR, QS_CONN_ERROR_TIMEOUT,
            "it sent nothing, not even a heartbeat, for %u s.",
            (guint) (timeout_us / G_TIME_SPAN_SECOND));
      break;
    }
    arrived = qs_endpoint_running_time (&sink->ep);
    last_recv = g_get_monotonic_time ();
    if (msg.type == QS_MSG_ERROR) {
      gchar *text = qs_proto_text_escape (msg.text);

      g_set_error (&error, QS_CONN_ERROR, QS_CONN_ERROR_PEER,
          "The receiver closed the link: %s", text);
      g_free (text);
      break;
    }
    if (msg.type == QS_MSG_HEARTBEAT && msg.payload_len == 24
        && msg.pts != QS_PROTO_TIME_NONE && GST_CLOCK_TIME_IS_VALID (arrived)) {
      g_mutex_lock (&sink->lock);
      peer->ask_pending = TRUE;
      peer->ask_time = msg.pts;
      peer->asked_at = arrived;
      if (peer->waiting)
        g_cond_signal (&peer->cond);
      g_mutex_unlock (&sink->lock);
    }
  }

  g_mutex_lock (&sink->lock);
  peer->read_error = error;
  if (peer->waiting)
    g_cond_signal (&peer->cond);
  g_mutex_unlock (&sink->lock);
  return NULL;
}

/* Posts a report of receivers dropped for an altered stream (and frees
 * it); nothing when report is NULL. */
static void
gst_framed_tcp_sink_report_altered (GstFramedTcpSink * sink, gchar * report,
    guint count)
{
  if (!report)
    return;
  GST_ELEMENT_WARNING_WITH_DETAILS (sink, STREAM, DECODE, ("%s", report),
      (NULL), ("altered-count", G_TYPE_UINT, count, NULL));
  g_free (report);
}

/* Answers a timed heartbeat: our running time now, with the receiver's
 * transmit time and when it arrived here (protocol 2.1). */
static gboolean
gst_framed_tcp_sink_answer (GstFramedTcpSink * sink, QsPeer * peer,
    guint64 ask_time, GstClockTime asked_at, gint64 deadline,
    GError ** error)
{
  GstClockTime now = qs_endpoint_running_time (&sink->ep);

  if (!GST_CLOCK_TIME_IS_VALID (now))
    return TRUE;
  return qs_conn_write_frame (peer->socket, peer->seal,
      qs_proto_build_timed_heartbeat (now, ask_time, asked_at), deadline,
      peer->cancellable, error);
}

/* Sends the queue to one receiver until it leaves or the sink stops. */
static void
gst_framed_tcp_sink_peer_loop (GstFramedTcpSink * sink, QsPeer * peer,
    QsProtoParser * parser)
{
  gint64 last_send = g_get_monotonic_time ();
  gint64 timeout_us;
  GError *error = NULL;
  guint count;

  timeout_us = sink->ep.run.timeout * G_TIME_SPAN_SECOND;
  peer->parser = parser;
  peer->read_cancel = g_cancellable_new ();
  peer->reader = g_thread_new ("framedtcpsink-rx",
      gst_framed_tcp_sink_peer_reader, peer);

  for (;;) {
    GQueue batch = G_QUEUE_INIT;
    QsFrame *frame;
    gsize sent = 0;
    gboolean ask;
    guint64 ask_time;
    GstClockTime asked_at;
    gint64 now;

    g_mutex_lock (&sink->lock);
    if (peer->queue.length == 0 && sink->running && !peer->ask_pending
        && !peer->read_error) {
      peer->waiting = TRUE;
      g_cond_wait_until (&peer->cond, &sink->lock,
          g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND);
      peer->waiting = FALSE;
    }
    if (!sink->running) {
      g_mutex_unlock (&sink->lock);
      break;
    }
    if (peer->read_error) {
      error = g_steal_pointer (&peer->read_error);
      g_mutex_unlock (&sink->lock);
      break;
    }
    ask = peer->ask_pending;
    ask_time = peer->ask_time;
    asked_at = peer->asked_at;
    peer->ask_pending = FALSE;
    batch = peer->queue;
    g_queue_init (&peer->queue);
    peer->queued_bytes = 0;
    peer->queued_time = 0;
    peer->writing = batch.length > 0;
    gst_framed_tcp_sink_tell_drained (sink);
    g_mutex_unlock (&sink->lock);

    /* the answer goes ahead of the media: the time it carries is taken as
     * it is written */
    if (ask && gst_framed_tcp_sink_answer (sink, peer, ask_time, asked_at,
            g_get_monotonic_time () + timeout_us, &error))
      last_send = g_get_monotonic_time ();
    while ((frame = g_queue_pop_head (&batch))) {
      gboolean ok = error == NULL && qs_frame_write (frame, peer->socket,
          peer->seal, g_get_monotonic_time () + timeout_us, peer->cancellable,
          &error);

      if (ok) {
        sent += frame->size;
        last_send = g_get_monotonic_time ();
      }
      qs_frame_unref (frame);
    }
    g_mutex_lock (&sink->lock);
    sink->bytes_sent += sent;
    peer->writing = FALSE;
    gst_framed_tcp_sink_tell_drained (sink);
    g_mutex_unlock (&sink->lock);
    if (error)
      break;

    now = g_get_monotonic_time ();
    if (now - last_send >= QS_CONN_HEARTBEAT_INTERVAL) {
      if (!qs_conn_send_heartbeat (peer->socket, peer->seal, now + timeout_us,
              peer->cancellable, &error))
        break;
      last_send = now;
    }
  }

  /* the reading thread ends with the link; why it ended, if it saw why
   * (the receiver's ERROR, its silence, an altered frame), says more than
   * a write that failed because the link was gone */
  GST_DEBUG_OBJECT (sink, "receiver %s: sending ended, ending the reading",
      peer->name);
  g_cancellable_cancel (peer->read_cancel);
  g_thread_join (peer->reader);
  GST_DEBUG_OBJECT (sink, "receiver %s: reading ended", peer->name);
  peer->reader = NULL;
  g_clear_object (&peer->read_cancel);
  g_mutex_lock (&sink->lock);
  if (peer->read_error && !g_error_matches (peer->read_error, QS_CONN_ERROR,
          QS_CONN_ERROR_CANCELLED)) {
    g_clear_error (&error);
    error = g_steal_pointer (&peer->read_error);
  }
  g_clear_error (&peer->read_error);
  g_mutex_unlock (&sink->lock);
  peer->parser = NULL;

  if (g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_TIMEOUT)
      || g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_PEER)) {
    /* the user should hear about a receiver that was cut off */
    GST_ELEMENT_WARNING (sink, RESOURCE, WRITE,
        ("Disconnected the receiver %s: %s", peer->name, error->message),
        (NULL));
  } else if (g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_ALTERED)) {
    /* something between the two machines changed what the receiver sent
     * (or it is not the receiver that proved the key): the user hears of
     * it, in one warning at most every 10 s, and the other receivers are
     * served on */
    gchar *sentence = g_strdup_printf ("Disconnected the receiver %s: %c%s",
        peer->name, g_ascii_tolower (error->message[0]), error->message + 1);

    gst_framed_tcp_sink_report_altered (sink,
        qs_conn_refusals_add (&sink->altered, sentence, &count), count);
    g_free (sentence);
  } else if (error && !g_error_matches (error, QS_CONN_ERROR,
          QS_CONN_ERROR_CANCELLED)) {
    GST_INFO_OBJECT (sink, "receiver %s left: %s", peer->name, error->message);
  }
  g_clear_error (&error);
}

static void
gst_framed_tcp_sink_peer_activate (GstFramedTcpSink * sink, QsPeer * peer)
{
  GList *l;

  g_mutex_lock (&sink->lock);
  /* a late joiner first gets the caps and the stream headers */
  if (sink->caps_frame)
    gst_framed_tcp_sink_peer_push (sink, peer, sink->caps_frame);
  for (l = sink->header_frames; l; l = l->next)
    gst_framed_tcp_sink_peer_push (sink, peer, l->data);
  peer->active = TRUE;
  g_mutex_unlock (&sink->lock);
}

static void
gst_framed_tcp_sink_peer_deactivate (GstFramedTcpSink * sink, QsPeer * peer)
{
  g_mutex_lock (&sink->lock);
  peer->active = FALSE;
  g_queue_clear_full (&peer->queue, (GDestroyNotify) qs_frame_unref);
  peer->queued_bytes = 0;
  peer->queued_time = 0;
  g_cond_broadcast (&sink->cond);
  g_mutex_unlock (&sink->lock);
}

/* Server mode: one thread per receiver. */
static gpointer
gst_framed_tcp_sink_peer_thread (gpointer data)
{
  QsPeer *peer = data;
  GstFramedTcpSink *sink = peer->sink;
  QsProtoParser *parser;
  GError *error = NULL;
  gboolean idle;

  parser = qs_proto_parser_new (sink->ep.run.max_frame_size);
  if (qs_conn_handshake (peer->socket, parser, QS_ROLE_SENDER, TRUE,
          sink->ep.skey, &peer->seal, peer->cancellable, &error)) {
    GST_INFO_OBJECT (sink, "receiver %s connected", peer->name);
    gst_framed_tcp_sink_peer_activate (sink, peer);
    qs_endpoint_connected (&sink->ep, peer->name);
    gst_framed_tcp_sink_peer_loop (sink, peer, parser);
    gst_framed_tcp_sink_peer_deactivate (sink, peer);
    GST_INFO_OBJECT (sink, "receiver %s disconnected", peer->name);
  } else if (!g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED)) {
    /* a bad peer is counted and reported (at most every 10 s: a flood of
     * strangers that time out is one warning); the server goes on serving
     * the next one */
    qs_endpoint_refused (&sink->ep, &sink->refusals, peer->name, error);
  }
  g_clear_error (&error);
  qs_proto_parser_free (parser);

  g_socket_close (peer->socket, NULL);
  g_mutex_lock (&sink->lock);
  peer->finished = TRUE;
  idle = sink->running && gst_framed_tcp_sink_count_active (sink) == 0;
  g_mutex_unlock (&sink->lock);
  if (idle)
    gst_framed_tcp_sink_set_state (sink, "listening", NULL);
  return NULL;
}

static QsPeer *
gst_framed_tcp_sink_peer_new (GstFramedTcpSink * sink, GSocket * socket)
{
  QsPeer *peer = g_new0 (QsPeer, 1);

  peer->sink = sink;
  peer->socket = socket;
  peer->name = qs_conn_peer_name (socket);
  peer->cancellable = g_cancellable_new ();
  g_cond_init (&peer->cond);
  g_queue_init (&peer->queue);
  return peer;
}

static gpointer
gst_framed_tcp_sink_accept_thread (gpointer data)
{
  GstFramedTcpSink *sink = data;
  gint64 backoff = 0;

  for (;;) {
    GError *error = NULL;
    GSocket *socket;
    QsPeer *peer;
    GList *l;
    guint active = 0, pending = 0, max_clients;
    gchar *why = NULL;
    gboolean timed_out;
    gint64 deadline;

    /* refusals not reported yet are reported once 10 s have passed, even
     * when no new connection comes */
    deadline = qs_endpoint_refusals_flush (&sink->ep, &sink->refusals);
    {
      guint count;
      gchar *report = qs_conn_refusals_flush (&sink->altered, &count);

      gst_framed_tcp_sink_report_altered (sink, report, count);
    }
    socket = qs_conn_accept (sink->listener, deadline, &timed_out,
        sink->cancellable, &error);
    if (!socket) {
      if (timed_out)
        continue;
      if (g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED)) {
        g_clear_error (&error);
        break;
      }
      /* out of descriptors, say: keep serving who is connected, retry */
      backoff = qs_endpoint_accept_failed (&sink->ep, &sink->refusals, error,
          backoff);
      g_clear_error (&error);
      if (!qs_endpoint_sleep (sink->cancellable, backoff))
        break;
      continue;
    }
    backoff = 0;

    GST_OBJECT_LOCK (sink);
    max_clients = sink->max_clients;
    GST_OBJECT_UNLOCK (sink);

    g_mutex_lock (&sink->lock);
    gst_framed_tcp_sink_reap (sink);
    if (!sink->running) {
      g_mutex_unlock (&sink->lock);
      g_object_unref (socket);
      break;
    }
    for (l = sink->peers; l; l = l->next) {
      QsPeer *p = l->data;

      if (p->active)
        active++;
      else if (!p->finished)
        pending++;
    }
    if (pending >= QS_CONN_MAX_PENDING) {
      why = g_strdup ("too many peers were still in the handshake (an idle "
          "stranger, or a flood)");
    } else if (active + pending >= max_clients) {
      why = g_strdup_printf ("max-clients (%u) receivers are already "
          "connected; raise max-clients if they are all real", max_clients);
    } else {
      peer = gst_framed_tcp_sink_peer_new (sink, socket);
      peer->thread = g_thread_try_new ("framedtcpsink-peer",
          gst_framed_tcp_sink_peer_thread, peer, &error);
      if (peer->thread) {
        sink->peers = g_list_prepend (sink->peers, peer);
      } else {
        /* out of threads: the peer goes, the sink stays */
        peer->socket = NULL;
        gst_framed_tcp_sink_peer_free (peer);
        why = g_strdup (error->message);
        g_clear_error (&error);
      }
    }
    g_mutex_unlock (&sink->lock);
    if (why) {
      qs_endpoint_refuse (&sink->ep, &sink->refusals, socket, why);
      g_free (why);
    }
  }
  return NULL;
}

static void
gst_framed_tcp_sink_post_fatal (GstFramedTcpSink * sink, GError * error)
{
  GST_ELEMENT_ERROR (sink, RESOURCE, OPEN_WRITE, ("%s", error->message),
      (NULL));
  g_mutex_lock (&sink->lock);
  if (!sink->fatal)
    sink->fatal = g_error_copy (error);
  g_mutex_unlock (&sink->lock);
}

/* Client mode: connect, serve, reconnect with backoff. */
static gpointer
gst_framed_tcp_sink_connect_thread (gpointer data)
{
  GstFramedTcpSink *sink = data;
  QsProtoParser *parser = qs_proto_parser_new (sink->ep.run.max_frame_size);
  gint64 backoff = 0;

  for (;;) {
    GError *error = NULL;
    QsProtoSeal *seal = NULL;
    GSocket *socket;
    QsPeer *peer;

    socket = qs_endpoint_connect (&sink->ep, QS_ROLE_SENDER, parser, &seal,
        &backoff, sink->cancellable, &error);
    if (!socket) {
      if (!g_error_matches (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED))
        gst_framed_tcp_sink_post_fatal (sink, error);
      g_clear_error (&error);
      break;
    }

    /* the peer's cancellable is the sink's, set before stop() can see the
     * peer: stop() cancels both */
    peer = gst_framed_tcp_sink_peer_new (sink, socket);
    peer->seal = seal;
    g_object_unref (peer->cancellable);
    peer->cancellable = g_object_ref (sink->cancellable);
    g_mutex_lock (&sink->lock);
    sink->peers = g_list_prepend (sink->peers, peer);
    g_mutex_unlock (&sink->lock);
    gst_framed_tcp_sink_peer_activate (sink, peer);
    qs_endpoint_connected (&sink->ep, peer->name);
    GST_INFO_OBJECT (sink, "connected to %s", peer->name);

    gst_framed_tcp_sink_peer_loop (sink, peer, parser);
    gst_framed_tcp_sink_peer_deactivate (sink, peer);

    g_mutex_lock (&sink->lock);
    sink->peers = g_list_remove (sink->peers, peer);
    g_mutex_unlock (&sink->lock);
    g_socket_close (peer->socket, NULL);
    gst_framed_tcp_sink_peer_free (peer);

    if (g_cancellable_is_cancelled (sink->cancellable))
      break;
    if (!sink->ep.run.reconnect) {
      GError *gone = g_error_new_literal (QS_CONN_ERROR, QS_CONN_ERROR_CLOSED,
          "The receiver closed the connection and reconnect is off.");
      gst_framed_tcp_sink_post_fatal (sink, gone);
      g_error_free (gone);
      break;
    }
    backoff = qs_conn_backoff_next (0);
    gst_framed_tcp_sink_set_state (sink, "waiting", NULL);
    if (!qs_endpoint_sleep (sink->cancellable, backoff))
      break;
  }
  qs_proto_parser_free (parser);
  return NULL;
}

/* ---- GstBaseSink ---- */

static gboolean
gst_framed_tcp_sink_start (GstBaseSink * bsink)
{
  GstFramedTcpSink *sink = GST_FRAMED_TCP_SINK (bsink);
  GstClockTime max_queue_time;
  guint max_queue_bytes;

  GST_OBJECT_LOCK (sink);
  max_queue_time = sink->max_queue_time;
  max_queue_bytes = sink->max_queue_bytes;
  GST_OBJECT_UNLOCK (sink);

  sink->cancellable = g_cancellable_new ();
  g_mutex_lock (&sink->lock);
  sink->running = TRUE;
  sink->unlocked = FALSE;
  sink->seq = 0;
  sink->live_known = FALSE;
  sink->headers_done = FALSE;
  sink->bytes_sent = sink->buffers = sink->dropped = 0;
  qs_conn_refusals_reset (&sink->refusals);
  qs_conn_refusals_reset (&sink->altered);
  sink->run_max_queue_time = max_queue_time;
  sink->run_max_queue_bytes = max_queue_bytes;
  g_clear_error (&sink->fatal);
  g_mutex_unlock (&sink->lock);

  if (!qs_endpoint_start (&sink->ep, sink->cancellable, &sink->listener)) {
    g_clear_object (&sink->cancellable);
    return FALSE;
  }
  if (sink->listener)
    sink->thread = g_thread_new ("framedtcpsink-accept",
        gst_framed_tcp_sink_accept_thread, sink);
  else
    sink->thread = g_thread_new ("framedtcpsink-connect",
        gst_framed_tcp_sink_connect_thread, sink);
  return TRUE;
}

static gboolean
gst_framed_tcp_sink_stop (GstBaseSink * bsink)
{
  GstFramedTcpSink *sink = GST_FRAMED_TCP_SINK (bsink);
  GList *l;

  GST_DEBUG_OBJECT (sink, "stopping");
  g_mutex_lock (&sink->lock);
  sink->running = FALSE;
  for (l = sink->peers; l; l = l->next) {
    QsPeer *peer = l->data;

    g_cancellable_cancel (peer->cancellable);
    g_cond_broadcast (&peer->cond);
  }
  g_cond_broadcast (&sink->cond);
  g_mutex_unlock (&sink->lock);
  if (sink->cancellable)
    g_cancellable_cancel (sink->cancellable);

  if (sink->thread) {
    g_thread_join (sink->thread);
    sink->thread = NULL;
  }
  /* server receivers: all threads end now that running is FALSE */
  g_mutex_lock (&sink->lock);
  for (l = sink->peers; l; l = l->next) {
    QsPeer *peer = l->data;

    g_mutex_unlock (&sink->lock);
    if (peer->thread)
      g_thread_join (peer->thread);
    peer->thread = NULL;
    peer->finished = TRUE;
    g_mutex_lock (&sink->lock);
  }
  gst_framed_tcp_sink_reap (sink);
  g_clear_pointer (&sink->caps_frame, qs_frame_unref);
  g_list_free_full (sink->header_frames, (GDestroyNotify) qs_frame_unref);
  sink->header_frames = NULL;
  g_mutex_unlock (&sink->lock);
  qs_endpoint_stop (&sink->ep);

  if (sink->listener) {
    g_socket_close (sink->listener, NULL);
    g_clear_object (&sink->listener);
  }
  g_clear_object (&sink->cancellable);
  GST_DEBUG_OBJECT (sink, "stopped");
  return TRUE;
}

static gboolean
gst_framed_tcp_sink_unlock (GstBaseSink * bsink)
{
  GstFramedTcpSink *sink = GST_FRAMED_TCP_SINK (bsink);

  g_mutex_lock (&sink->lock);
  sink->unlocked = TRUE;
  g_cond_broadcast (&sink->cond);
  g_mutex_unlock (&sink->lock);
  return TRUE;
}

static gboolean
gst_framed_tcp_sink_unlock_stop (GstBaseSink * bsink)
{
  GstFramedTcpSink *sink = GST_FRAMED_TCP_SINK (bsink);

  g_mutex_lock (&sink->lock);
  sink->unlocked = FALSE;
  g_mutex_unlock (&sink->lock);
  return TRUE;
}

/* Under lock: queues a frame for every receiver that has completed its handshake. */
static void
gst_framed_tcp_sink_broadcast (GstFramedTcpSink * sink, QsFrame * frame)
{
  GList *l;

  for (l = sink->peers; l; l = l->next) {
    QsPeer *peer = l->data;

    if (peer->active)
      gst_framed_tcp_sink_peer_push (sink, peer, frame);
  }
}

static gboolean
gst_framed_tcp_sink_set_caps (GstBaseSink * bsink, GstCaps * caps)
{
  GstFramedTcpSink *sink = GST_FRAMED_TCP_SINK (bsink);
  gchar *str = gst_caps_to_string (caps);
  QsFrame *frame;

  if (strlen (str) > QS_PROTO_MAX_CAPS_SIZE) {
    GST_ELEMENT_ERROR (sink, STREAM, FORMAT,
        ("The stream's caps take %" G_GSIZE_FORMAT " bytes, more than the "
            "%d the protocol allows; strip large fields (such as big stream "
            "headers) before framedtcpsink.", strlen (str),
            QS_PROTO_MAX_CAPS_SIZE), (NULL));
    g_free (str);
    return FALSE;
  }
  GST_DEBUG_OBJECT (sink, "caps %s", str);
  frame = qs_frame_new_control (qs_proto_build_caps (str));
  g_free (str);

  g_mutex_lock (&sink->lock);
  g_clear_pointer (&sink->caps_frame, qs_frame_unref);
  sink->caps_frame = qs_frame_ref (frame);
  /* new caps, new stream headers */
  g_list_free_full (sink->header_frames, (GDestroyNotify) qs_frame_unref);
  sink->header_frames = NULL;
  sink->headers_done = FALSE;
  gst_framed_tcp_sink_broadcast (sink, frame);
  g_mutex_unlock (&sink->lock);
  qs_frame_unref (frame);
  return TRUE;
}

static gboolean
gst_framed_tcp_sink_is_upstream_live (GstFramedTcpSink * sink)
{
  GstQuery *query = gst_query_new_latency ();
  gboolean live = FALSE;

  if (gst_pad_peer_query (GST_BASE_SINK_PAD (sink), query))
    gst_query_parse_latency (query, &live, NULL, NULL);
  gst_query_unref (query);
  return live;
}

/* Under lock: anything still queued or being written? */
static gboolean
gst_framed_tcp_sink_pending (GstFramedTcpSink * sink)
{
  GList *l;

  for (l = sink->peers; l; l = l->next) {
    QsPeer *peer = l->data;

    if (peer->active && (peer->queue.length > 0 || peer->writing))
      return TRUE;
  }
  return FALSE;
}

static GstFlowReturn
gst_framed_tcp_sink_render (GstBaseSink * bsink, GstBuffer * buf)
{
  GstFramedTcpSink *sink = GST_FRAMED_TCP_SINK (bsink);
  guint max_frame = sink->ep.run.max_frame_size;
  QsFrame *frame;
  GList *l;

  if (gst_buffer_get_size (buf) + QS_PROTO_BUFFER_HEADER_SIZE > max_frame) {
    GST_ELEMENT_ERROR (sink, STREAM, TOO_LAZY,
        ("A buffer of %" G_GSIZE_FORMAT " bytes does not fit in max-frame-size "
            "(%u bytes); raise max-frame-size on both ends or send smaller "
            "buffers.", gst_buffer_get_size (buf), max_frame), (NULL));
    return GST_FLOW_ERROR;
  }

  if (!sink->live_known) {
    sink->upstream_live = gst_framed_tcp_sink_is_upstream_live (sink);
    sink->live_known = TRUE;
    GST_DEBUG_OBJECT (sink, "upstream is %slive: %s", sink->upstream_live ?
        "" : "not ", sink->upstream_live ? "dropping the oldest frames of "
        "slow receivers" : "applying back-pressure");
  }

  g_mutex_lock (&sink->lock);
  if (sink->fatal) {
    g_mutex_unlock (&sink->lock);
    return GST_FLOW_ERROR;
  }
  GST_LOG_OBJECT (sink, "frame %" G_GUINT64_FORMAT ": pts %" GST_TIME_FORMAT
      ", %" G_GSIZE_FORMAT " bytes, monotonic %" G_GINT64_FORMAT " us",
      (guint64) sink->seq, GST_TIME_ARGS (GST_BUFFER_PTS (buf)),
      gst_buffer_get_size (buf), g_get_monotonic_time ());
  frame = qs_frame_new_buffer (buf, sink->seq++);
  sink->buffers++;

  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_HEADER)) {
    if (sink->headers_done) {
      g_list_free_full (sink->header_frames, (GDestroyNotify) qs_frame_unref);
      sink->header_frames = NULL;
      sink->headers_done = FALSE;
    }
    sink->header_frames = g_list_append (sink->header_frames,
        qs_frame_ref (frame));
  } else {
    sink->headers_done = TRUE;
  }

  if (!sink->upstream_live) {
    /* a file or another non-live source can wait: back-pressure */
    for (;;) {
      gboolean full = FALSE;

      for (l = sink->peers; l; l = l->next) {
        QsPeer *peer = l->data;

        if (peer->active && gst_framed_tcp_sink_peer_no_room (sink, peer,
                frame))
          full = TRUE;
      }
      if (!full || !sink->running)
        break;
      if (sink->unlocked) {
        GstFlowReturn ret;

        g_mutex_unlock (&sink->lock);
        ret = gst_base_sink_wait_preroll (bsink);
        if (ret != GST_FLOW_OK) {
          qs_frame_unref (frame);
          return ret;
        }
        g_mutex_lock (&sink->lock);
        continue;
      }
      gst_framed_tcp_sink_wait_drained (sink, -1);
    }
  }

  gst_framed_tcp_sink_broadcast (sink, frame);
  /* live: a receiver that cannot keep up loses its oldest audio */
  for (l = sink->peers; l && sink->upstream_live; l = l->next) {
    QsPeer *peer = l->data;

    while (peer->active && gst_framed_tcp_sink_peer_full (sink, peer))
      if (!gst_framed_tcp_sink_drop_oldest (sink, peer))
        break;
  }
  g_mutex_unlock (&sink->lock);
  qs_frame_unref (frame);
  return GST_FLOW_OK;
}

static gboolean
gst_framed_tcp_sink_event (GstBaseSink * bsink, GstEvent * event)
{
  GstFramedTcpSink *sink = GST_FRAMED_TCP_SINK (bsink);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    QsFrame *frame = qs_frame_new_control (qs_proto_build_eos ());
    gint64 until = g_get_monotonic_time () + 2 * G_TIME_SPAN_SECOND;

    /* tell the receivers, and give them a moment to get everything */
    g_mutex_lock (&sink->lock);
    gst_framed_tcp_sink_broadcast (sink, frame);
    while (sink->running && !sink->unlocked
        && gst_framed_tcp_sink_pending (sink))
      if (!gst_framed_tcp_sink_wait_drained (sink, until))
        break;
    g_mutex_unlock (&sink->lock);
    qs_frame_unref (frame);
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (bsink, event);
}

/* ---- GObject ---- */

static GstStructure *
gst_framed_tcp_sink_get_stats (GstFramedTcpSink * sink)
{
  GstStructure *s;

  g_mutex_lock (&sink->lock);
  s = gst_structure_new ("framedtcpsink-stats",
      "bytes", G_TYPE_UINT64, sink->bytes_sent,
      "buffers", G_TYPE_UINT64, sink->buffers,
      "dropped", G_TYPE_UINT64, sink->dropped,
      "clients", G_TYPE_UINT, gst_framed_tcp_sink_count_active (sink),
      "refused", G_TYPE_UINT64, qs_conn_refusals_total (&sink->refusals),
      NULL);
  g_mutex_unlock (&sink->lock);
  qs_endpoint_add_stats (&sink->ep, s);
  return s;
}

static void
gst_framed_tcp_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstFramedTcpSink *sink = GST_FRAMED_TCP_SINK (object);

  if (qs_endpoint_set_property (&sink->ep, prop_id, value))
    return;
  GST_OBJECT_LOCK (sink);
  switch (prop_id) {
    case PROP_MAX_QUEUE_TIME:
      sink->max_queue_time = g_value_get_uint64 (value);
      break;
    case PROP_MAX_QUEUE_BYTES:
      sink->max_queue_bytes = g_value_get_uint (value);
      break;
    case PROP_MAX_CLIENTS:
      sink->max_clients = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (sink);
}

static void
gst_framed_tcp_sink_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstFramedTcpSink *sink = GST_FRAMED_TCP_SINK (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, gst_framed_tcp_sink_get_stats (sink));
    return;
  }
  if (qs_endpoint_get_property (&sink->ep, prop_id, value))
    return;
  GST_OBJECT_LOCK (sink);
  switch (prop_id) {
    case PROP_MAX_QUEUE_TIME:
      g_value_set_uint64 (value, sink->max_queue_time);
      break;
    case PROP_MAX_QUEUE_BYTES:
      g_value_set_uint (value, sink->max_queue_bytes);
      break;
    case PROP_MAX_CLIENTS:
      g_value_set_uint (value, sink->max_clients);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (sink);
}

static void
gst_framed_tcp_sink_finalize (GObject * object)
{
  GstFramedTcpSink *sink = GST_FRAMED_TCP_SINK (object);

  qs_endpoint_clear (&sink->ep);
  qs_conn_refusals_clear (&sink->refusals);
  qs_conn_refusals_clear (&sink->altered);
  g_clear_error (&sink->fatal);
  g_mutex_clear (&sink->lock);
  g_cond_clear (&sink->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_framed_tcp_sink_class_init (GstFramedTcpSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_framed_tcp_sink_set_property;
  gobject_class->get_property = gst_framed_tcp_sink_get_property;
  gobject_class->finalize = gst_framed_tcp_sink_finalize;

  qs_endpoint_install_properties (gobject_class, QS_ENDPOINT_SINK);
  g_object_class_install_property (gobject_class, PROP_MAX_QUEUE_TIME,
      g_param_spec_uint64 ("max-queue-time", "Maximum queue time",
          "The most media, in nanoseconds, queued for one receiver; with a "
          "live upstream the oldest is dropped beyond it.",
          0, G_MAXUINT64, DEFAULT_MAX_QUEUE_TIME, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_QUEUE_BYTES,
      g_param_spec_uint ("max-queue-bytes", "Maximum queue bytes",
          "The most bytes queued for one receiver; with a live upstream the "
          "oldest frames are dropped beyond it.",
          1024, G_MAXUINT, DEFAULT_MAX_QUEUE_BYTES, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_CLIENTS,
      g_param_spec_uint ("max-clients", "Maximum clients",
          "In server mode, the most receivers served at once; a connection "
          "beyond it (or beyond 4 still in the handshake) is closed at once "
          "and counted in stats as refused.", 1, 4096, DEFAULT_MAX_CLIENTS,
          rw));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters: bytes and buffers sent, frames dropped for slow "
          "receivers, connected receivers, reconnects, connections refused "
          "(closed at once beyond the limits, or failed in the handshake), "
          "state, peer, and key-stretches: how many keys this process has "
          "stretched (once per key, never per connection).",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Framed TCP sink", "Sink/Network",
      "Sends a stream over TCP as frames that carry caps, timestamps and flags",
      "qsound authors");

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_framed_tcp_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_framed_tcp_sink_stop);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_framed_tcp_sink_unlock);
  basesink_class->unlock_stop =
      GST_DEBUG_FUNCPTR (gst_framed_tcp_sink_unlock_stop);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_framed_tcp_sink_set_caps);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_framed_tcp_sink_render);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_framed_tcp_sink_event);

  gst_type_mark_as_plugin_api (QS_TYPE_CONN_MODE, 0);
}

static void
gst_framed_tcp_sink_init (GstFramedTcpSink * sink)
{
  qs_endpoint_init (&sink->ep, GST_ELEMENT (sink), QS_ENDPOINT_SINK);
  sink->max_queue_time = DEFAULT_MAX_QUEUE_TIME;
  sink->max_queue_bytes = DEFAULT_MAX_QUEUE_BYTES;
  sink->max_clients = DEFAULT_MAX_CLIENTS;
  g_mutex_init (&sink->lock);
  g_cond_init (&sink->cond);
  qs_conn_refusals_init (&sink->refusals, NULL, NULL);
  qs_conn_refusals_init (&sink->altered, "Disconnected", "receivers");

  /* send as soon as data arrives; the receiver does the timing */
  gst_base_sink_set_sync (GST_BASE_SINK (sink), FALSE);
}
