/* qsound — framedtcpsink / framedtcpsrc over real sockets on 127.0.0.1.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every test binds port 0 and reads the real port back from current-port.
 * Bad peers are played by plain GSockets writing bytes by hand.
 */
#include <gst/check/gstcheck.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <gio/gio.h>
#include <string.h>
#include <gio/gnetworking.h>

#include "qsoundproto.h"

#undef WAIT_TIMEOUT                   /* winerror.h has one */
#define WAIT_TIMEOUT (10 * GST_SECOND)

/* ---- helpers ---- */

typedef struct
{
  GstElement *pipeline;
  GstElement *appsrc;           /* sender side */
  GstElement *appsink;          /* receiver side */
  GstElement *net;              /* the framedtcp element */
} Pipe;

static Pipe *
pipe_new (const gchar * desc)
{
  GError *err = NULL;
  Pipe *p = g_new0 (Pipe, 1);

  p->pipeline = gst_parse_launch (desc, &err);
  fail_unless (p->pipeline != NULL, "could not build '%s': %s", desc,
      err ? err->message : "?");
  p->appsrc = gst_bin_get_by_name (GST_BIN (p->pipeline), "in");
  p->appsink = gst_bin_get_by_name (GST_BIN (p->pipeline), "out");
  p->net = gst_bin_get_by_name (GST_BIN (p->pipeline), "net");
  fail_unless (p->net != NULL);
  return p;
}

static void
pipe_free (Pipe * p)
{
  gst_element_set_state (p->pipeline, GST_STATE_NULL);
  gst_clear_object (&p->appsrc);
  gst_clear_object (&p->appsink);
  gst_clear_object (&p->net);
  gst_object_unref (p->pipeline);
  g_free (p);
}

static gint
pipe_port (Pipe * p)
{
  gint port = 0;

  g_object_get (p->net, "current-port", &port, NULL);
  fail_unless (port > 0);
  return port;
}

/* A sender: appsrc ! framedtcpsink */
static Pipe *
sender_new (const gchar * props, gboolean live)
{
  gchar *desc = g_strdup_printf ("appsrc name=in format=time is-live=%s "
      "! framedtcpsink name=net %s", live ? "true" : "false", props);
  Pipe *p = pipe_new (desc);

  g_free (desc);
  return p;
}

/* A receiver: framedtcpsrc ! appsink */
static Pipe *
receiver_new (const gchar * props)
{
  gchar *desc = g_strdup_printf ("framedtcpsrc name=net %s ! appsink name=out "
      "sync=false async=false max-buffers=1000", props);
  Pipe *p = pipe_new (desc);

  g_free (desc);
  return p;
}

static void
pipe_play (Pipe * p)
{
  fail_if (gst_element_set_state (p->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
}

static GstStructure *
get_stats (Pipe * p)
{
  GstStructure *s = NULL;

  g_object_get (p->net, "stats", &s, NULL);
  fail_unless (s != NULL);
  return s;
}

static guint
stats_uint (Pipe * p, const gchar * field)
{
  GstStructure *s = get_stats (p);
  guint v = 0;

  fail_unless (gst_structure_get_uint (s, field, &v), "no field %s", field);
  gst_structure_free (s);
  return v;
}

static guint64
stats_uint64 (Pipe * p, const gchar * field)
{
  GstStructure *s = get_stats (p);
  guint64 v = 0;

  fail_unless (gst_structure_get_uint64 (s, field, &v), "no field %s", field);
  gst_structure_free (s);
  return v;
}

/* Waits until the sink reports this many connected receivers. */
static void
wait_clients (Pipe * sender, guint n)
{
  gint64 until = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  while (stats_uint (sender, "clients") != n) {
    fail_unless (g_get_monotonic_time () < until,
        "timed out waiting for %u receivers (have %u)", n,
        stats_uint (sender, "clients"));
    g_usleep (10 * 1000);
  }
}

static GstBuffer *
make_buffer (guint i, gsize size)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);
  GstMapInfo map;
  gsize k;

  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (k = 0; k < size; k++)
    map.data[k] = (guint8) (k * 7 + i * 13);
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = i * 10 * GST_MSECOND;
  GST_BUFFER_DTS (buf) = i % 3 == 0 ? GST_CLOCK_TIME_NONE : i * 10 * GST_MSECOND;
  GST_BUFFER_DURATION (buf) = 10 * GST_MSECOND;
  if (i % 4 == 1)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  if (i % 5 == 2)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_GAP);
  if (i == 0)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_HEADER);
  return buf;
}

static void
push (Pipe * sender, GstBuffer * buf)
{
  fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC
          (sender->appsrc), buf), GST_FLOW_OK);
}

static GstSample *
pull (Pipe * receiver)
{
  GstSample *s = gst_app_sink_try_pull_sample (GST_APP_SINK (receiver->appsink),
      WAIT_TIMEOUT);

  fail_unless (s != NULL, "no buffer arrived within 10 s");
  return s;
}

static void
check_same_data (GstBuffer * got, guint i, gsize size)
{
  GstBuffer *want = make_buffer (i, size);

  GstMapInfo a, b;

  fail_unless_equals_int (gst_buffer_get_size (got), size);
  gst_buffer_map (got, &a, GST_MAP_READ);
  gst_buffer_map (want, &b, GST_MAP_READ);
  fail_unless (memcmp (a.data, b.data, size) == 0, "buffer %u differs (got %02x %02x %02x, want %02x %02x %02x)", i, a.data[0], a.data[1], a.data[2], b.data[0], b.data[1], b.data[2]);
  gst_buffer_unmap (got, &a);
  gst_buffer_unmap (want, &b);
  gst_buffer_unref (want);
}

/* Pops bus messages until one of type (ERROR or WARNING) whose text has
 * substr; fails after the timeout. */
static void
expect_message (Pipe * p, GstMessageType type, const gchar * substr)
{
  GstBus *bus = gst_element_get_bus (p->pipeline);
  gint64 until = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  gboolean found = FALSE;

  while (!found && g_get_monotonic_time () < until) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND, type);
    GError *err = NULL;

    if (!msg)
      continue;
    if (type == GST_MESSAGE_ERROR)
      gst_message_parse_error (msg, &err, NULL);
    else
      gst_message_parse_warning (msg, &err, NULL);
    GST_INFO ("message: %s", err->message);
    found = strstr (err->message, substr) != NULL;
    g_error_free (err);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  fail_unless (found, "no %s containing '%s'",
      type == GST_MESSAGE_ERROR ? "error" : "warning", substr);
}

static GstCaps *
test_caps (gint rate)
{
  return gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING, "S16LE",
      "layout", G_TYPE_STRING, "interleaved", "rate", G_TYPE_INT, rate,
      "channels", G_TYPE_INT, 2, NULL);
}

/* Sends n buffers and checks they arrive bit-exact, with timestamps shifted
 * by one constant offset, durations and flags intact. */
static void
round_trip (Pipe * sender, Pipe * receiver, guint start, guint n, gsize size)
{
  GstClockTimeDiff offset = 0;
  guint i;

  for (i = start; i < start + n; i++)
    push (sender, make_buffer (i, size));

  for (i = start; i < start + n; i++) {
    GstSample *sample = pull (receiver);
    GstBuffer *got = gst_sample_get_buffer (sample);
    GstBuffer *want = make_buffer (i, size);

    check_same_data (got, i, size);
    if (i == start)
      offset = GST_CLOCK_DIFF (GST_BUFFER_PTS (want), GST_BUFFER_PTS (got));
    fail_unless_equals_int64 (GST_CLOCK_DIFF (GST_BUFFER_PTS (want),
            GST_BUFFER_PTS (got)), offset);
    if (GST_BUFFER_DTS_IS_VALID (want)) {
      fail_unless_equals_int64 (GST_CLOCK_DIFF (GST_BUFFER_DTS (want),
              GST_BUFFER_DTS (got)), offset);
    } else {
      fail_if (GST_BUFFER_DTS_IS_VALID (got));
    }
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (got),
        GST_BUFFER_DURATION (want));
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (got,
            GST_BUFFER_FLAG_DELTA_UNIT), GST_BUFFER_FLAG_IS_SET (want,
            GST_BUFFER_FLAG_DELTA_UNIT));
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (got, GST_BUFFER_FLAG_GAP),
        GST_BUFFER_FLAG_IS_SET (want, GST_BUFFER_FLAG_GAP));
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (got,
            GST_BUFFER_FLAG_HEADER), GST_BUFFER_FLAG_IS_SET (want,
            GST_BUFFER_FLAG_HEADER));
    /* the start buffer of a connection is a discontinuity */
    fail_unless_equals_int (! !GST_BUFFER_FLAG_IS_SET (got,
            GST_BUFFER_FLAG_DISCONT), (gint) (i == start));
    gst_buffer_unref (want);
    gst_sample_unref (sample);
  }
}

/* server sink + client src, connected and caps set */
static void
connect_pair (const gchar * sink_props, const gchar * src_props,
    Pipe ** out_sender, Pipe ** out_receiver)
{
  Pipe *sender = sender_new (sink_props, TRUE);
  Pipe *receiver;
  gchar *props;
  GstCaps *caps = test_caps (48000);

  g_object_set (sender->appsrc, "caps", caps, NULL);
  gst_caps_unref (caps);
  pipe_play (sender);
  props = g_strdup_printf ("port=%d %s", pipe_port (sender), src_props);
  receiver = receiver_new (props);
  g_free (props);
  pipe_play (receiver);
  wait_clients (sender, 1);
  *out_sender = sender;
  *out_receiver = receiver;
}

/* ---- tests ---- */

GST_START_TEST (test_round_trip_server_sink)
{
  Pipe *sender, *receiver;

  connect_pair ("port=0", "", &sender, &receiver);
  round_trip (sender, receiver, 0, 50, 4096);
  fail_unless_equals_uint64 (stats_uint64 (receiver, "buffers"), 50);
  fail_unless_equals_uint64 (stats_uint64 (receiver, "lost"), 0);
  fail_unless_equals_uint64 (stats_uint64 (sender, "dropped"), 0);
  pipe_free (receiver);
  pipe_free (sender);
}

GST_END_TEST;

GST_START_TEST (test_round_trip_server_src)
{
  Pipe *receiver = receiver_new ("mode=server port=0");
  Pipe *sender;
  gchar *props;
  GstCaps *caps = test_caps (44100);

  pipe_play (receiver);
  props = g_strdup_printf ("mode=client port=%d", pipe_port (receiver));
  sender = sender_new (props, TRUE);
  g_free (props);
  g_object_set (sender->appsrc, "caps", caps, NULL);
  pipe_play (sender);
  wait_clients (sender, 1);
  round_trip (sender, receiver, 0, 50, 1000);

  {
    GstSample *s;
    GstCaps *got;

    /* caps travelled in-band */
    push (sender, make_buffer (50, 10));
    s = pull (receiver);
    got = gst_sample_get_caps (s);
    fail_unless (gst_caps_is_equal (got, caps));
    gst_sample_unref (s);
  }
  gst_caps_unref (caps);
  pipe_free (sender);
  pipe_free (receiver);
}

GST_END_TEST;

GST_START_TEST (test_caps_change)
{
  Pipe *sender, *receiver;
  GstCaps *caps1 = test_caps (48000), *caps2 = test_caps (22050);
  GstSample *s;

  connect_pair ("port=0", "", &sender, &receiver);
  push (sender, make_buffer (0, 100));
  s = pull (receiver);
  fail_unless (gst_caps_is_equal (gst_sample_get_caps (s), caps1));
  gst_sample_unref (s);
  gst_caps_unref (caps1);

  g_object_set (sender->appsrc, "caps", caps2, NULL);
  push (sender, make_buffer (1, 100));
  s = pull (receiver);
  fail_unless (gst_caps_is_equal (gst_sample_get_caps (s), caps2),
      "caps did not change on the receiver");
  check_same_data (gst_sample_get_buffer (s), 1, 100);
  gst_sample_unref (s);
  gst_caps_unref (caps2);
  pipe_free (receiver);
  pipe_free (sender);
}

GST_END_TEST;

GST_START_TEST (test_three_receivers)
{
  Pipe *sender = sender_new ("port=0", TRUE);
  Pipe *receivers[3];
  GstCaps *caps = test_caps (48000);
  guint r, i;

  g_object_set (sender->appsrc, "caps", caps, NULL);
  gst_caps_unref (caps);
  pipe_play (sender);
  for (r = 0; r < 3; r++) {
    gchar *props = g_strdup_printf ("port=%d", pipe_port (sender));

    receivers[r] = receiver_new (props);
    g_free (props);
    pipe_play (receivers[r]);
  }
  wait_clients (sender, 3);
  for (i = 0; i < 20; i++)
    push (sender, make_buffer (i, 2048));
  for (r = 0; r < 3; r++)
    for (i = 0; i < 20; i++) {
      GstSample *s = pull (receivers[r]);

      check_same_data (gst_sample_get_buffer (s), i, 2048);
      gst_sample_unref (s);
    }
  for (r = 0; r < 3; r++)
    pipe_free (receivers[r]);
  pipe_free (sender);
}

GST_END_TEST;

/* A receiver that joins late first gets the caps and the stream headers. */
GST_START_TEST (test_late_joiner_gets_headers)
{
  Pipe *sender = sender_new ("port=0", TRUE);
  Pipe *receiver;
  GstCaps *caps = test_caps (48000);
  GstSample *s;
  gchar *props;

  g_object_set (sender->appsrc, "caps", caps, NULL);
  pipe_play (sender);
  push (sender, make_buffer (0, 64));   /* HEADER */
  push (sender, make_buffer (1, 64));
  push (sender, make_buffer (2, 64));
  /* all three rendered before the receiver joins */
  {
    gint64 until = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

    while (stats_uint64 (sender, "buffers") < 3) {
      fail_unless (g_get_monotonic_time () < until);
      g_usleep (5 * 1000);
    }
  }

  props = g_strdup_printf ("port=%d", pipe_port (sender));
  receiver = receiver_new (props);
  g_free (props);
  pipe_play (receiver);
  wait_clients (sender, 1);
  push (sender, make_buffer (3, 64));

  s = pull (receiver);
  fail_unless (gst_caps_is_equal (gst_sample_get_caps (s), caps));
  fail_unless (GST_BUFFER_FLAG_IS_SET (gst_sample_get_buffer (s),
          GST_BUFFER_FLAG_HEADER));
  check_same_data (gst_sample_get_buffer (s), 0, 64);
  gst_sample_unref (s);
  s = pull (receiver);
  check_same_data (gst_sample_get_buffer (s), 3, 64);
  gst_sample_unref (s);
  gst_caps_unref (caps);
  pipe_free (receiver);
  pipe_free (sender);
}

GST_END_TEST;

GST_START_TEST (test_receiver_restart)
{
  Pipe *sender, *receiver;
  gchar *props;

  connect_pair ("port=0", "", &sender, &receiver);
  round_trip (sender, receiver, 0, 10, 512);
  pipe_free (receiver);
  wait_clients (sender, 0);

  props = g_strdup_printf ("port=%d", pipe_port (sender));
  receiver = receiver_new (props);
  g_free (props);
  pipe_play (receiver);
  wait_clients (sender, 1);
  /* the new receiver first gets the stream header (buffer 0) */
  {
    GstSample *s;
    guint i;

    push (sender, make_buffer (10, 512));
    s = pull (receiver);
    fail_unless (GST_BUFFER_FLAG_IS_SET (gst_sample_get_buffer (s),
            GST_BUFFER_FLAG_HEADER));
    check_same_data (gst_sample_get_buffer (s), 0, 512);
    gst_sample_unref (s);
    for (i = 10; i < 20; i++) {
      if (i > 10)
        push (sender, make_buffer (i, 512));
      s = pull (receiver);
      check_same_data (gst_sample_get_buffer (s), i, 512);
      gst_sample_unref (s);
    }
  }
  pipe_free (receiver);
  pipe_free (sender);
}

GST_END_TEST;

/* The sender goes away and comes back on the same port; the client src
 * reconnects by itself and the stream resumes, marked DISCONT. */
GST_START_TEST (test_sender_restart)
{
  Pipe *sender, *receiver;
  gchar *props;
  gint port;

  connect_pair ("port=0", "", &sender, &receiver);
  port = pipe_port (sender);
  round_trip (sender, receiver, 0, 10, 512);
  pipe_free (sender);

  props = g_strdup_printf ("port=%d", port);
  sender = sender_new (props, TRUE);
  g_free (props);
  {
    GstCaps *caps = test_caps (48000);

    g_object_set (sender->appsrc, "caps", caps, NULL);
    gst_caps_unref (caps);
  }
  pipe_play (sender);
  wait_clients (sender, 1);
  round_trip (sender, receiver, 10, 10, 512);
  fail_unless (stats_uint (receiver, "reconnects") >= 1);
  pipe_free (receiver);
  pipe_free (sender);
}

GST_END_TEST;

/* A steady stream for longer than the sink's timeout: the receiver's
 * heartbeats keep it connected even though it never waits for data. */
GST_START_TEST (test_steady_stream_keeps_link)
{
  Pipe *sender, *receiver;
  gint64 until;
  guint i;

  connect_pair ("port=0 timeout=2", "", &sender, &receiver);
  /* keep data waiting in the socket all the time, so the receiver's reads
   * never have to wait: a small appsink queue holds the receiver back */
  g_object_set (receiver->appsink, "max-buffers", 2, NULL);
  for (i = 0; i < 50; i++)
    push (sender, make_buffer (i, 256));
  until = g_get_monotonic_time () + 3 * G_TIME_SPAN_SECOND;
  for (i = 0; g_get_monotonic_time () < until; i++) {
    GstSample *s;

    push (sender, make_buffer (i + 50, 256));
    s = pull (receiver);
    check_same_data (gst_sample_get_buffer (s), i, 256);
    gst_sample_unref (s);
    g_usleep (10 * 1000);
  }
  fail_unless_equals_int (stats_uint (sender, "clients"), 1);
  fail_unless_equals_int (stats_uint (receiver, "reconnects"), 0);
  fail_unless_equals_uint64 (stats_uint64 (receiver, "lost"), 0);
  pipe_free (receiver);
  pipe_free (sender);
}

GST_END_TEST;

/* ---- bad peers against a server src ---- */

static GSocket *
raw_connect (gint port)
{
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, port);
  GError *err = NULL;

  fail_unless (g_socket_connect (socket, addr, NULL, &err), "connect: %s",
      err ? err->message : "?");
  g_object_unref (addr);
  g_object_unref (lo);
  return socket;
}

static void
raw_send (GSocket * socket, const void *data, gsize len)
{
  GError *err = NULL;

  fail_unless (g_socket_send_with_blocking (socket, data, len, TRUE, NULL,
          &err) == (gssize) len, "send: %s", err ? err->message : "?");
}

/* Reads until the peer closes (or 5 s) and returns what it sent. */
static GByteArray *
raw_read_all (GSocket * socket)
{
  GByteArray *all = g_byte_array_new ();
  guint8 buf[4096];

  g_socket_set_timeout (socket, 5);
  for (;;) {
    gssize n = g_socket_receive_with_blocking (socket, (gchar *) buf,
        sizeof (buf), TRUE, NULL, NULL);

    if (n <= 0)
      break;
    g_byte_array_append (all, buf, n);
  }
  return all;
}

/* A good sender still gets through after the bad one. */
static void
check_server_still_serves (Pipe * receiver)
{
  gchar *props = g_strdup_printf ("mode=client port=%d", pipe_port (receiver));
  Pipe *sender = sender_new (props, TRUE);
  GstCaps *caps = test_caps (48000);

  g_free (props);
  g_object_set (sender->appsrc, "caps", caps, NULL);
  gst_caps_unref (caps);
  pipe_play (sender);
  wait_clients (sender, 1);
  round_trip (sender, receiver, 0, 5, 256);
  pipe_free (sender);
}

static void
bad_peer_case (const void *bytes, gsize len, gboolean close_after,
    const gchar * expected)
{
  Pipe *receiver = receiver_new ("mode=server port=0");
  GSocket *socket;

  pipe_play (receiver);
  socket = raw_connect (pipe_port (receiver));
  raw_send (socket, bytes, len);
  if (close_after)
    g_socket_close (socket, NULL);
  expect_message (receiver, GST_MESSAGE_WARNING, expected);
  g_socket_close (socket, NULL);
  g_object_unref (socket);
  check_server_still_serves (receiver);
  pipe_free (receiver);
}

GST_START_TEST (test_bad_peer_garbage)
{
  static const guint8 garbage[] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01 };

  bad_peer_case (garbage, sizeof (garbage), FALSE, "not a qsound");
}

GST_END_TEST;

GST_START_TEST (test_bad_peer_http)
{
  static const gchar http[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

  bad_peer_case (http, strlen (http), FALSE, "HTTP");
}

GST_END_TEST;

static GByteArray *
sender_hello (guint8 version)
{
  GByteArray *a = g_byte_array_new ();
  guint8 hello[QS_PROTO_HELLO_SIZE];
  guint8 nonce[QS_PROTO_NONCE_SIZE] = { 0 };

  qs_proto_write_hello (hello, QS_ROLE_SENDER, 0, nonce);
  hello[4] = version;
  g_byte_array_append (a, hello, sizeof (hello));
  return a;
}

GST_START_TEST (test_bad_peer_oversized)
{
  GByteArray *a = sender_hello (QS_PROTO_VERSION_MAJOR);
  guint8 header[QS_PROTO_FRAME_HEADER_SIZE];

  /* a 4 GiB BUFFER: refused from the header alone */
  qs_proto_write_frame_header (header, QS_MSG_BUFFER, G_MAXUINT32);
  g_byte_array_append (a, header, sizeof (header));
  bad_peer_case (a->data, a->len, FALSE, "max-frame-size");
  g_byte_array_unref (a);
}

GST_END_TEST;

GST_START_TEST (test_bad_peer_truncated)
{
  GByteArray *a = sender_hello (QS_PROTO_VERSION_MAJOR);

  /* half a HELLO, then the peer hangs up */
  bad_peer_case (a->data, 10, TRUE, "closed");
  g_byte_array_unref (a);
}

GST_END_TEST;

GST_START_TEST (test_version_mismatch)
{
  Pipe *receiver = receiver_new ("mode=server port=0");
  GByteArray *a = sender_hello (QS_PROTO_VERSION_MAJOR + 1);
  GByteArray *reply;
  GSocket *socket;
  gchar *want;

  pipe_play (receiver);
  socket = raw_connect (pipe_port (receiver));
  raw_send (socket, a->data, a->len);
  want = g_strdup_printf ("%d.", QS_PROTO_VERSION_MAJOR + 1);
  expect_message (receiver, GST_MESSAGE_WARNING, want);
  g_free (want);

  /* the other side got our HELLO and an ERROR naming the problem */
  reply = raw_read_all (socket);
  fail_unless (reply->len >= QS_PROTO_HELLO_SIZE);
  fail_unless (memcmp (reply->data, QS_PROTO_MAGIC, 4) == 0);
  g_byte_array_unref (reply);
  g_object_unref (socket);
  g_byte_array_unref (a);
  check_server_still_serves (receiver);
  pipe_free (receiver);
}

GST_END_TEST;

/* A client src pointed at a web server: it says so, and does not retry. */
static gpointer
http_server_thread (gpointer data)
{
  GSocket *listener = data;
  GSocket *peer = g_socket_accept (listener, NULL, NULL);
  static const gchar reply[] = "HTTP/1.1 400 Bad Request\r\n"
      "Content-Length: 0\r\n\r\n";
  gchar buf[256];

  fail_unless (peer != NULL);
  g_socket_receive (peer, buf, sizeof (buf), NULL, NULL);
  raw_send (peer, reply, strlen (reply));
  g_usleep (500 * 1000);
  g_object_unref (peer);
  return NULL;
}

GST_START_TEST (test_client_meets_http_server)
{
  GSocket *listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0), *bound;
  GThread *thread;
  Pipe *receiver;
  gchar *props;

  fail_unless (g_socket_bind (listener, addr, TRUE, NULL));
  fail_unless (g_socket_listen (listener, NULL));
  bound = g_socket_get_local_address (listener, NULL);
  thread = g_thread_new ("http", http_server_thread, listener);
  props = g_strdup_printf ("port=%d", g_inet_socket_address_get_port
      (G_INET_SOCKET_ADDRESS (bound)));
  receiver = receiver_new (props);
  g_free (props);
  pipe_play (receiver);
  expect_message (receiver, GST_MESSAGE_ERROR, "HTTP");
  pipe_free (receiver);
  g_thread_join (thread);
  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
  g_object_unref (listener);
}

GST_END_TEST;

/* ---- keys ---- */

static void
auth_case (const gchar * sink_key, const gchar * src_key, gboolean ok)
{
  gchar *sink_props = g_strdup_printf ("port=0 key=\"%s\"", sink_key);
  Pipe *sender = sender_new (sink_props, TRUE);
  Pipe *receiver;
  gchar *props;

  g_free (sink_props);
  pipe_play (sender);
  props = g_strdup_printf ("port=%d key=\"%s\"", pipe_port (sender), src_key);
  receiver = receiver_new (props);
  g_free (props);
  pipe_play (receiver);

  if (ok) {
    GstCaps *caps = test_caps (48000);

    g_object_set (sender->appsrc, "caps", caps, NULL);
    gst_caps_unref (caps);
    wait_clients (sender, 1);
    round_trip (sender, receiver, 0, 3, 100);
  } else {
    /* both sides say so, in the same plain words */
    expect_message (receiver, GST_MESSAGE_ERROR, "Authentication failed");
    expect_message (sender, GST_MESSAGE_WARNING, "Authentication failed");
    fail_unless_equals_int (stats_uint (sender, "clients"), 0);
  }
  pipe_free (receiver);
  pipe_free (sender);
}

GST_START_TEST (test_auth_same_key)
{
  auth_case ("s3cret", "s3cret", TRUE);
}

GST_END_TEST;

GST_START_TEST (test_auth_wrong_key)
{
  auth_case ("s3cret", "guess", FALSE);
}

GST_END_TEST;

GST_START_TEST (test_auth_key_on_sender_only)
{
  auth_case ("s3cret", "", FALSE);
}

GST_END_TEST;

GST_START_TEST (test_auth_key_on_receiver_only)
{
  auth_case ("", "s3cret", FALSE);
}

GST_END_TEST;

/* ---- plain errors ---- */

GST_START_TEST (test_address_in_use)
{
  Pipe *first = receiver_new ("mode=server port=0");
  Pipe *second;
  gchar *props;

  pipe_play (first);
  props = g_strdup_printf ("mode=server port=%d", pipe_port (first));
  second = receiver_new (props);
  g_free (props);
  fail_unless_equals_int (gst_element_set_state (second->pipeline,
          GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  expect_message (second, GST_MESSAGE_ERROR, "already in use");
  pipe_free (second);
  pipe_free (first);
}

GST_END_TEST;

static gint
free_port (void)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0);
  GSocketAddress *bound;
  gint port;

  fail_unless (g_socket_bind (s, addr, TRUE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
  g_object_unref (s);
  return port;
}

GST_START_TEST (test_refused_without_reconnect)
{
  gchar *props = g_strdup_printf ("port=%d reconnect=false", free_port ());
  Pipe *receiver = receiver_new (props);

  g_free (props);
  pipe_play (receiver);
  expect_message (receiver, GST_MESSAGE_ERROR, "connection refused");
  pipe_free (receiver);
}

GST_END_TEST;

/* Two senders: both ends are senders. */
GST_START_TEST (test_role_mismatch)
{
  Pipe *server = sender_new ("port=0", TRUE);
  Pipe *client;
  gchar *props;

  pipe_play (server);
  props = g_strdup_printf ("mode=client port=%d", pipe_port (server));
  client = sender_new (props, TRUE);
  g_free (props);
  pipe_play (client);
  expect_message (client, GST_MESSAGE_ERROR, "Both ends are senders");
  pipe_free (client);
  pipe_free (server);
}

GST_END_TEST;

/* ---- stopping ---- */

static void
check_stops_quickly (Pipe * p)
{
  gint64 start = g_get_monotonic_time ();

  fail_unless_equals_int (gst_element_set_state (p->pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless (g_get_monotonic_time () - start < G_TIME_SPAN_SECOND,
      "going to NULL took %" G_GINT64_FORMAT " ms",
      (g_get_monotonic_time () - start) / 1000);
}

GST_START_TEST (test_stop_during_connect)
{
  /* a server that accepts (the kernel does) but never answers the handshake */
  GSocket *listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0), *bound;
  Pipe *receiver, *sender;
  gchar *props;
  gint port;

  fail_unless (g_socket_bind (listener, addr, TRUE, NULL));
  fail_unless (g_socket_listen (listener, NULL));
  bound = g_socket_get_local_address (listener, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  props = g_strdup_printf ("port=%d", port);
  receiver = receiver_new (props);
  g_free (props);
  pipe_play (receiver);
  props = g_strdup_printf ("mode=client port=%d", port);
  sender = sender_new (props, TRUE);
  g_free (props);
  pipe_play (sender);
  g_usleep (300 * 1000);        /* both are now stuck in the handshake */
  check_stops_quickly (receiver);
  check_stops_quickly (sender);

  pipe_free (receiver);
  pipe_free (sender);
  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
  g_object_unref (listener);
}

GST_END_TEST;

GST_START_TEST (test_stop_during_read)
{
  Pipe *sender, *receiver;

  connect_pair ("port=0", "", &sender, &receiver);
  round_trip (sender, receiver, 0, 2, 64);
  /* the receiver now waits for data that does not come */
  g_usleep (200 * 1000);
  check_stops_quickly (receiver);
  check_stops_quickly (sender);
  pipe_free (receiver);
  pipe_free (sender);
}

GST_END_TEST;

/* ---- capture never waits ---- */

/* A receiver that completes the handshake and then never reads: a live
 * sender keeps going, drops that receiver's oldest frames (counted), and then
 * disconnects it after the timeout. */
GST_START_TEST (test_slow_receiver_drops_oldest)
{
  Pipe *sender = sender_new ("port=0 max-queue-bytes=65536 timeout=2", TRUE);
  guint8 hello[QS_PROTO_HELLO_SIZE], nonce[QS_PROTO_NONCE_SIZE] = { 1 };
  GstCaps *caps = test_caps (48000);
  GSocket *socket;
  gint64 start;
  guint i;

  g_object_set (sender->appsrc, "caps", caps, NULL);
  gst_caps_unref (caps);
  pipe_play (sender);
  socket = raw_connect (pipe_port (sender));
  /* a tiny receive buffer so the kernel does not absorb everything */
  g_socket_set_option (socket, SOL_SOCKET, SO_RCVBUF, 4096, NULL);
  qs_proto_write_hello (hello, QS_ROLE_RECEIVER, 0, nonce);
  raw_send (socket, hello, sizeof (hello));
  wait_clients (sender, 1);

  start = g_get_monotonic_time ();
  for (i = 0; i < 2000; i++)
    push (sender, make_buffer (i, 4096));       /* 8 MiB */
  /* render never waited on the stalled receiver */
  fail_unless (g_get_monotonic_time () - start < 5 * G_TIME_SPAN_SECOND);
  {
    gint64 until = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

    while (stats_uint64 (sender, "dropped") == 0
        && g_get_monotonic_time () < until)
      g_usleep (10 * 1000);
  }
  fail_unless (stats_uint64 (sender, "dropped") > 0);
  expect_message (sender, GST_MESSAGE_WARNING, "Disconnected the receiver");
  wait_clients (sender, 0);
  g_object_unref (socket);
  pipe_free (sender);
}

GST_END_TEST;

/* With a non-live upstream nothing is dropped: the sink waits instead. */
GST_START_TEST (test_non_live_back_pressure)
{
  Pipe *sender = sender_new ("port=0 max-queue-bytes=8192", FALSE);
  Pipe *receiver;
  GstCaps *caps = test_caps (48000);
  gchar *props;
  guint i;

  g_object_set (sender->appsrc, "caps", caps, "max-bytes", (guint64) 1 << 30,
      NULL);
  gst_caps_unref (caps);
  pipe_play (sender);
  props = g_strdup_printf ("port=%d", pipe_port (sender));
  receiver = receiver_new (props);
  g_free (props);
  pipe_play (receiver);
  wait_clients (sender, 1);
  for (i = 0; i < 300; i++)
    push (sender, make_buffer (i, 4096));
  for (i = 0; i < 300; i++) {
    GstSample *s = pull (receiver);

    check_same_data (gst_sample_get_buffer (s), i, 4096);
    gst_sample_unref (s);
  }
  fail_unless_equals_uint64 (stats_uint64 (sender, "dropped"), 0);
  fail_unless_equals_uint64 (stats_uint64 (receiver, "lost"), 0);
  pipe_free (receiver);
  pipe_free (sender);
}

GST_END_TEST;

GST_START_TEST (test_eos_travels)
{
  Pipe *sender, *receiver;
  GstBus *bus;
  GstMessage *msg;

  connect_pair ("port=0", "", &sender, &receiver);
  round_trip (sender, receiver, 0, 3, 64);
  gst_app_src_end_of_stream (GST_APP_SRC (sender->appsrc));
  bus = gst_element_get_bus (receiver->pipeline);
  msg = gst_bus_timed_pop_filtered (bus, WAIT_TIMEOUT, GST_MESSAGE_EOS);
  fail_unless (msg != NULL, "EOS did not reach the receiver");
  gst_message_unref (msg);
  gst_object_unref (bus);
  pipe_free (receiver);
  pipe_free (sender);
}

GST_END_TEST;

GST_START_TEST (test_latency_query)
{
  Pipe *sender, *receiver;
  GstQuery *q = gst_query_new_latency ();
  gboolean live;
  GstClockTime min;

  connect_pair ("port=0", "latency=30000000", &sender, &receiver);
  fail_unless (gst_element_query (receiver->net, q));
  gst_query_parse_latency (q, &live, &min, NULL);
  fail_unless (live);
  fail_unless_equals_uint64 (min, 30 * GST_MSECOND);
  gst_query_unref (q);
  pipe_free (receiver);
  pipe_free (sender);
}

GST_END_TEST;

static Suite *
framedtcp_suite (void)
{
  Suite *s = suite_create ("framedtcp");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_round_trip_server_sink);
  tcase_add_test (tc, test_round_trip_server_src);
  tcase_add_test (tc, test_caps_change);
  tcase_add_test (tc, test_three_receivers);
  tcase_add_test (tc, test_late_joiner_gets_headers);
  tcase_add_test (tc, test_receiver_restart);
  tcase_add_test (tc, test_sender_restart);
  tcase_add_test (tc, test_steady_stream_keeps_link);
  tcase_add_test (tc, test_bad_peer_garbage);
  tcase_add_test (tc, test_bad_peer_http);
  tcase_add_test (tc, test_bad_peer_oversized);
  tcase_add_test (tc, test_bad_peer_truncated);
  tcase_add_test (tc, test_version_mismatch);
  tcase_add_test (tc, test_client_meets_http_server);
  tcase_add_test (tc, test_auth_same_key);
  tcase_add_test (tc, test_auth_wrong_key);
  tcase_add_test (tc, test_auth_key_on_sender_only);
  tcase_add_test (tc, test_auth_key_on_receiver_only);
  tcase_add_test (tc, test_address_in_use);
  tcase_add_test (tc, test_refused_without_reconnect);
  tcase_add_test (tc, test_role_mismatch);
  tcase_add_test (tc, test_stop_during_connect);
  tcase_add_test (tc, test_stop_during_read);
  tcase_add_test (tc, test_slow_receiver_drops_oldest);
  tcase_add_test (tc, test_non_live_back_pressure);
  tcase_add_test (tc, test_eos_travels);
  tcase_add_test (tc, test_latency_query);
  return s;
}

GST_CHECK_MAIN (framedtcp);
