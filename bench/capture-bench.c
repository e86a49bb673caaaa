/* qsound — one capture run for bench/capture-bench.sh.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: capture-bench SECONDS "SOURCE" "TAIL" [STALL_MS]
 *   runs "SOURCE name=src ! TAIL" for SECONDS and prints one line:
 *   frames=<pushed by the source> span=<offset span> disconts=<n>
 *   silence=<frames filled> lost=<frames lost> cpu_ms=<process CPU time>
 *   wall_ms=<wall time> rate=<negotiated rate>
 *   (all counted from the source's first buffer on).  With STALL_MS the
 *   streaming thread stops for that long every 2 s (a consumer held up by a
 *   busy encoder or a blocked network).
 * frames/span is the share of the played audio the source delivered: a
 * source that drops audio skips offsets (GstAudioBaseSrc and loopbacksrc
 * both count their offsets in samples of the capture clock).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <gst/gst.h>

typedef struct
{
  GMutex lock;
  gboolean started;
  guint64 first_offset, last_offset_end, frames;
  guint disconts;
  gint64 t0;
  gdouble cpu0;
  gint rate;
  guint stall_ms;
  gint64 last_stall;
} Count;

static gdouble
cpu_ms (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3
      + ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

static GstPadProbeReturn
probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Count *c = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  guint64 n = GST_BUFFER_OFFSET_END (buf) - GST_BUFFER_OFFSET (buf);

  g_mutex_lock (&c->lock);
  if (!c->started) {
    c->started = TRUE;
    c->first_offset = GST_BUFFER_OFFSET (buf);
    c->t0 = g_get_monotonic_time ();
    c->cpu0 = cpu_ms ();
  } else if (GST_BUFFER_IS_DISCONT (buf)) {
    c->disconts++;
  }
  c->frames += n;
  c->last_offset_end = GST_BUFFER_OFFSET_END (buf);
  if (c->rate == 0) {
    GstCaps *caps = gst_pad_get_current_caps (pad);

    if (caps) {
      gst_structure_get_int (gst_caps_get_structure (caps, 0), "rate",
          &c->rate);
      gst_caps_unref (caps);
    }
  }
  g_mutex_unlock (&c->lock);
  if (c->stall_ms) {
    gint64 now = g_get_monotonic_time ();

    if (c->last_stall == 0)
      c->last_stall = now;
    if (now - c->last_stall >= 2 * G_USEC_PER_SEC) {
      g_usleep (c->stall_ms * 1000);
      c->last_stall = g_get_monotonic_time ();
    }
  }
  return GST_PAD_PROBE_OK;
}

int
main (int argc, char **argv)
{
  Count c;
  GstElement *pipeline, *src;
  GstPad *pad;
  GstBus *bus;
  GstMessage *msg;
  gchar *desc;
  gdouble seconds;
  gint64 end;
  guint64 silence = 0, lost = 0;

  gst_init (&argc, &argv);
  if (argc != 4 && argc != 5) {
    fprintf (stderr, "usage: %s SECONDS SOURCE TAIL [STALL_MS]\n", argv[0]);
    return 2;
  }
  seconds = g_ascii_strtod (argv[1], NULL);
  desc = g_strdup_printf ("%s name=src ! %s", argv[2], argv[3]);
  pipeline = gst_parse_launch (desc, NULL);
  if (!pipeline) {
    fprintf (stderr, "cannot build %s\n", desc);
    return 2;
  }
  memset (&c, 0, sizeof (c));
  if (argc == 5)
    c.stall_ms = (guint) atoi (argv[4]);
  g_mutex_init (&c.lock);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  pad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, probe, &c, NULL);
  gst_object_unref (pad);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  /* run SECONDS from the first buffer on */
  end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;) {
    gint64 now = g_get_monotonic_time ();

    g_mutex_lock (&c.lock);
    if (c.started && end > c.t0 + (gint64) (seconds * G_USEC_PER_SEC))
      end = c.t0 + (gint64) (seconds * G_USEC_PER_SEC);
    g_mutex_unlock (&c.lock);
    if (now >= end)
      break;
    msg = gst_bus_timed_pop_filtered (bus, 50 * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    if (msg) {
      GError *err = NULL;

      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
        gst_message_parse_error (msg, &err, NULL);
        fprintf (stderr, "error: %s\n", err->message);
        return 1;
      }
      break;
    }
  }
  g_mutex_lock (&c.lock);
  if (!c.started) {
    fprintf (stderr, "no audio within 10 s\n");
    return 1;
  }
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (src), "stats")
      && !g_strcmp0 (G_OBJECT_TYPE_NAME (src), "GstLoopbackSrc")) {
    GstStructure *s = NULL;

    g_object_get (src, "stats", &s, NULL);
    gst_structure_get_uint64 (s, "frames-silence", &silence);
    gst_structure_get_uint64 (s, "frames-lost", &lost);
    gst_structure_free (s);
  }
  printf ("frames=%" G_GUINT64_FORMAT " span=%" G_GUINT64_FORMAT
      " disconts=%u silence=%" G_GUINT64_FORMAT " lost=%" G_GUINT64_FORMAT
      " cpu_ms=%.0f wall_ms=%" G_GINT64_FORMAT " rate=%d\n", c.frames,
      c.last_offset_end - c.first_offset, c.disconts, silence, lost,
      cpu_ms () - c.cpu0, (g_get_monotonic_time () - c.t0) / 1000, c.rate);
  g_mutex_unlock (&c.lock);
  fflush (stdout);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (pipeline);
  gst_object_unref (bus);
  return 0;
}
