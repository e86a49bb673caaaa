/* qsound — a drifting sender and a receiver with audiojitterbuffer, over real
 * sockets on 127.0.0.1; shared by tests/jitter and bench/drift-bench.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The sender is an appsrc fed from a thread on the monotonic clock with
 * rate * factor samples per real second, all labelled rate: a sound card that
 * runs (factor - 1) fast.  The timestamps count samples, so the drift is real.
 * The signal is a 440 Hz sine, so a click (a dropped or repeated chunk, a
 * jump) at the receiver shows as a large second difference.
 */
#ifndef __QSOUND_JITTER_RIG_H__
#define __QSOUND_JITTER_RIG_H__

#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <math.h>
#include <string.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <stdio.h>
#include <unistd.h>

#define RIG_RATE        48000
#define RIG_CHUNK       480     /* 10 ms */
#define RIG_FREQ        440.0
#define RIG_AMPLITUDE   0.5
/* a sine this slow changes its slope by far less than this between samples */
#define RIG_CLICK       0.05f

typedef struct
{
  GstElement *sender;
  GstElement *receiver;
  GstElement *appsrc;
  GstElement *tcpsink;
  GstElement *tcpsrc;
  GstElement *jb;
  GThread *feeder;
  gint stop;
  gdouble factor;
  const gchar *encoder;         /* e.g. "opusenc"; NULL sends raw F32LE */
  guint64 fed;
  GstClockTime target;

  /* click detection at the receiver's sink, under lock */
  GMutex lock;
  guint64 frames;
  guint64 check_from;
  gfloat prev1, prev2;
  guint clicks;
  guint64 last_click_frame;

  /* the delaying proxy, if any */
  GPid proxy_pid;
  gint proxy_out;
  gint proxy_port;
  GIOChannel *proxy_io;
} Rig;

G_GNUC_UNUSED static gpointer
rig_feed (gpointer data)
{
  Rig *rig = data;
  gint64 t0 = g_get_monotonic_time ();
  gdouble phase_step = 2.0 * G_PI * RIG_FREQ / RIG_RATE;
  guint64 k;

  for (k = 0; !g_atomic_int_get (&rig->stop); k++) {
    /* chunk k is "captured" when the drifting card has made its samples */
    gint64 due = t0 + (gint64) ((k + 1) * RIG_CHUNK * 1e6 /
        (RIG_RATE * rig->factor));
    GstBuffer *buf;
    GstMapInfo map;
    gfloat *s;
    guint i;

    while (g_get_monotonic_time () < due && !g_atomic_int_get (&rig->stop))
      g_usleep (MIN (due - g_get_monotonic_time (), 5000));
    buf = gst_buffer_new_allocate (NULL, RIG_CHUNK * sizeof (gfloat), NULL);
    gst_buffer_map (buf, &map, GST_MAP_WRITE);
    s = (gfloat *) map.data;
    for (i = 0; i < RIG_CHUNK; i++)
      s[i] = RIG_AMPLITUDE * sin (phase_step * (gdouble) (k * RIG_CHUNK + i));
    gst_buffer_unmap (buf, &map);
    GST_BUFFER_PTS (buf) = gst_util_uint64_scale (k * RIG_CHUNK, GST_SECOND,
        RIG_RATE);
    GST_BUFFER_DURATION (buf) = gst_util_uint64_scale ((k + 1) * RIG_CHUNK,
        GST_SECOND, RIG_RATE) - GST_BUFFER_PTS (buf);
    if (gst_app_src_push_buffer (GST_APP_SRC (rig->appsrc), buf) !=
        GST_FLOW_OK)
      break;
    rig->fed = k + 1;
  }
  return NULL;
}

G_GNUC_UNUSED static GstPadProbeReturn
rig_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Rig *rig = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo map;
  const gfloat *s;
  gsize n, i;

  gst_buffer_map (buf, &map, GST_MAP_READ);
  s = (const gfloat *) map.data;
  n = map.size / sizeof (gfloat);
  g_mutex_lock (&rig->lock);
  for (i = 0; i < n; i++) {
    gfloat d2 = s[i] - 2.0f * rig->prev1 + rig->prev2;

    if (rig->frames >= rig->check_from && fabsf (d2) > RIG_CLICK) {
      /* one jump shows in two neighbouring second differences */
      if (rig->frames > rig->last_click_frame + 2)
        rig->clicks++;
      rig->last_click_frame = rig->frames;
    }
    rig->prev2 = rig->prev1;
    rig->prev1 = s[i];
    rig->frames++;
  }
  g_mutex_unlock (&rig->lock);
  gst_buffer_unmap (buf, &map);
  return GST_PAD_PROBE_OK;
}

G_GNUC_UNUSED static guint
rig_clicks (Rig * rig)
{
  guint c;

  g_mutex_lock (&rig->lock);
  c = rig->clicks;
  g_mutex_unlock (&rig->lock);
  return c;
}

/* Counts clicks from now on (the start of a stream is one). */
G_GNUC_UNUSED static void
rig_check_clicks_from_now (Rig * rig)
{
  g_mutex_lock (&rig->lock);
  rig->check_from = rig->frames + 2;
  rig->clicks = 0;
  g_mutex_unlock (&rig->lock);
}

G_GNUC_UNUSED static GstElement *
rig_launch (const gchar * desc)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);

  if (!p)
    g_error ("could not build '%s': %s", desc, err ? err->message : "?");
  return p;
}

/* The sender: a drifting appsrc into framedtcpsink, listening on port 0. */
G_GNUC_UNUSED static gint
rig_start_sender (Rig * rig, gdouble factor)
{
  gint port = 0;
  gchar *desc;

  rig->factor = factor;
  desc = g_strdup_printf ("appsrc name=in format=time is-live=true "
      "caps=audio/x-raw,format=F32LE,rate=48000,channels=1,layout=interleaved "
      "! %s%s%s framedtcpsink name=net host=127.0.0.1 port=0",
      rig->encoder ? "audioconvert ! " : "",
      rig->encoder ? rig->encoder : "", rig->encoder ? " !" : "");

  rig->sender = rig_launch (desc);
  g_free (desc);
  rig->appsrc = gst_bin_get_by_name (GST_BIN (rig->sender), "in");
  rig->tcpsink = gst_bin_get_by_name (GST_BIN (rig->sender), "net");
  if (gst_element_set_state (rig->sender, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    g_error ("the sender would not start");
  g_object_get (rig->tcpsink, "current-port", &port, NULL);
  g_atomic_int_set (&rig->stop, 0);
  rig->feeder = g_thread_new ("feeder", rig_feed, rig);
  return port;
}

G_GNUC_UNUSED static void
rig_stop_sender (Rig * rig)
{
  if (!rig->sender)
    return;
  g_atomic_int_set (&rig->stop, 1);
  g_thread_join (rig->feeder);
  rig->feeder = NULL;
  gst_element_set_state (rig->sender, GST_STATE_NULL);
  gst_clear_object (&rig->appsrc);
  gst_clear_object (&rig->tcpsink);
  gst_clear_object (&rig->sender);
}

/* The delaying proxy in front of @port; returns the port to connect to. */
G_GNUC_UNUSED static gint
rig_start_proxy (Rig * rig, gint port, const gchar * extra)
{
  const gchar *root = g_getenv ("QSOUND_SOURCE_ROOT");
  gchar *script = g_build_filename (root ? root : ".", "tests", "jitter",
      "delayproxy.py", NULL);
  gchar *cmd = g_strdup_printf ("python3 %s --target-port %d %s", script,
      port, extra ? extra : "");
  gchar **argv = NULL, *line = NULL;
  GError *err = NULL;

  g_shell_parse_argv (cmd, NULL, &argv, NULL);
  if (!g_spawn_async_with_pipes (NULL, argv, NULL, G_SPAWN_SEARCH_PATH |
          G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &rig->proxy_pid, NULL,
          &rig->proxy_out, NULL, &err))
    g_error ("could not start the proxy: %s", err->message);
  rig->proxy_io = g_io_channel_unix_new (rig->proxy_out);
  if (g_io_channel_read_line (rig->proxy_io, &line, NULL, NULL, NULL) !=
      G_IO_STATUS_NORMAL || sscanf (line, "PORT %d", &rig->proxy_port) != 1)
    g_error ("the proxy did not say its port");
  g_free (line);
  g_strfreev (argv);
  g_free (cmd);
  g_free (script);
  return rig->proxy_port;
}

G_GNUC_UNUSED static void
rig_stop_proxy (Rig * rig)
{
  if (!rig->proxy_pid)
    return;
  kill (rig->proxy_pid, SIGTERM);
  waitpid (rig->proxy_pid, NULL, 0);
  g_spawn_close_pid (rig->proxy_pid);
  rig->proxy_pid = 0;
  g_io_channel_unref (rig->proxy_io);
  close (rig->proxy_out);
}

/* The receiver: framedtcpsrc (jitter room left to the jitter buffer) !
 * audiojitterbuffer ! a sink consuming at the clock's real rate. */
G_GNUC_UNUSED static void
rig_start_receiver (Rig * rig, const gchar * src_props, GstClockTime target,
    const gchar * jb_props)
{
  gchar *desc = g_strdup_printf ("framedtcpsrc name=net latency=0 %s ! %s"
      "audiojitterbuffer name=jb latency=%" G_GUINT64_FORMAT " %s ! "
      "audio/x-raw,format=F32LE,channels=1 ! fakesink name=sink sync=true",
      src_props, rig->encoder ? "decodebin ! audioconvert ! " : "", target,
      jb_props ? jb_props : "");
  GstElement *sink;
  GstPad *pad;

  rig->target = target;
  rig->receiver = rig_launch (desc);
  g_free (desc);
  rig->jb = gst_bin_get_by_name (GST_BIN (rig->receiver), "jb");
  rig->tcpsrc = gst_bin_get_by_name (GST_BIN (rig->receiver), "net");
  sink = gst_bin_get_by_name (GST_BIN (rig->receiver), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, rig_probe, rig, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  g_mutex_lock (&rig->lock);
  rig->frames = 0;
  rig->clicks = 0;
  rig->check_from = G_MAXUINT64;
  rig->last_click_frame = 0;
  g_mutex_unlock (&rig->lock);
  if (gst_element_set_state (rig->receiver, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    g_error ("the receiver would not start");
}

G_GNUC_UNUSED static void
rig_stop_receiver (Rig * rig)
{
  if (!rig->receiver)
    return;
  gst_element_set_state (rig->receiver, GST_STATE_NULL);
  gst_clear_object (&rig->jb);
  gst_clear_object (&rig->tcpsrc);
  gst_clear_object (&rig->receiver);
}

typedef struct
{
  gdouble latency_ms;           /* smoothed */
  gdouble window_ms;            /* last averaging window */
  gdouble ppm;                  /* the correction applied */
  gdouble clock_ppm, clock_span;        /* the clocks' difference measured */
  guint corrections, underruns, overruns, gaps;
  guint64 silence, dropped, samples_out;
} RigStats;

G_GNUC_UNUSED static RigStats
rig_stats (Rig * rig)
{
  GstStructure *s = NULL;
  RigStats r = { 0, };
  gint64 lat = 0, win = 0;

  g_object_get (rig->jb, "stats", &s, NULL);
  gst_structure_get (s, "latency", G_TYPE_INT64, &lat,
      "latency-window", G_TYPE_INT64, &win,
      "drift-ppm", G_TYPE_DOUBLE, &r.ppm,
      "clock-ppm", G_TYPE_DOUBLE, &r.clock_ppm,
      "clock-span", G_TYPE_DOUBLE, &r.clock_span,
      "corrections", G_TYPE_UINT, &r.corrections,
      "underruns", G_TYPE_UINT, &r.underruns,
      "overruns", G_TYPE_UINT, &r.overruns,
      "gaps", G_TYPE_UINT, &r.gaps,
      "silence-filled", G_TYPE_UINT64, &r.silence,
      "dropped", G_TYPE_UINT64, &r.dropped,
      "samples-out", G_TYPE_UINT64, &r.samples_out, NULL);
  gst_structure_free (s);
  r.latency_ms = lat / 1e6;
  r.window_ms = win / 1e6;
  return r;
}

/* Errors on either bus are fatal to a test or a benchmark. */
G_GNUC_UNUSED static void
rig_check_bus (GstElement * pipeline, const gchar * what)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR))) {
    GError *err = NULL;

    gst_message_parse_error (msg, &err, NULL);
    g_error ("%s: %s", what, err->message);
  }
  gst_object_unref (bus);
}

G_GNUC_UNUSED static void
rig_sleep (Rig * rig, gdouble seconds)
{
  gint64 until = g_get_monotonic_time () + (gint64) (seconds * 1e6);

  while (g_get_monotonic_time () < until) {
    g_usleep (MIN (until - g_get_monotonic_time (), 50000));
    if (rig->sender)
      rig_check_bus (rig->sender, "sender");
    if (rig->receiver)
      rig_check_bus (rig->receiver, "receiver");
  }
}

#endif /* __QSOUND_JITTER_RIG_H__ */
