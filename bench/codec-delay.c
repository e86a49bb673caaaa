/* qsound — how long an audio encoder holds each frame, and how far its
 * decoded output lags the input.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: codec-delay [CHUNK_MS] ["ENCODER"] ["DECODER"]
 *   defaults: 5, "lamemp3enc target=bitrate cbr=true bitrate=192",
 *   "mpegaudioparse ! mpg123audiodec"
 *
 * Pushes two seconds of 48 kHz stereo noise into ENCODER in CHUNK_MS pieces,
 * one at a time, and after each piece takes every frame the encoder has
 * finished.  For each frame it notes how much input had been pushed beyond
 * the frame's start (its PTS): the hold, the time a live stream waits for
 * that frame.  Then it decodes the frames with DECODER and finds the lag of
 * the decoded audio behind the input by cross-correlation.  A live chain
 * through the codec cannot be faster than (largest hold) + (decoded lag).
 * No sound server needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>

#define RATE 48000
#define SECONDS 2
#define MAX_LAG (RATE / 10)     /* search the decoded lag up to 100 ms */

static GstElement *
codec_delay_pipeline (const gchar * in_caps, const gchar * middle,
    const gchar * out_caps, GstElement ** src, GstElement ** sink)
{
  GError *err = NULL;
  gchar *desc = g_strdup_printf ("appsrc name=src format=time caps=%s ! %s "
      "! %s appsink name=sink sync=false", in_caps, middle, out_caps);
  GstElement *p = gst_parse_launch (desc, &err);

  if (p == NULL) {
    g_printerr ("codec-delay: cannot build \"%s\": %s\n", desc, err->message);
    exit (1);
  }
  g_free (desc);
  *src = gst_bin_get_by_name (GST_BIN (p), "src");
  *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  gst_element_set_state (p, GST_STATE_PLAYING);
  return p;
}

static void
codec_delay_push (GstElement * src, gconstpointer data, gsize size,
    guint64 first_frame, guint frames)
{
  GstBuffer *b = gst_buffer_new_memdup (data, size);

  GST_BUFFER_PTS (b) = gst_util_uint64_scale (first_frame, GST_SECOND, RATE);
  GST_BUFFER_DURATION (b) = gst_util_uint64_scale (frames, GST_SECOND, RATE);
  gst_app_src_push_buffer (GST_APP_SRC (src), b);
}

int
main (int argc, char **argv)
{
  gint chunk_ms = argc > 1 ? atoi (argv[1]) : 5;
  const gchar *enc = argc > 2 ? argv[2] :
      "lamemp3enc target=bitrate cbr=true bitrate=192";
  const gchar *dec = argc > 3 ? argv[3] : "mpegaudioparse ! mpg123audiodec";
  guint chunk = (guint) (RATE * chunk_ms / 1000);
  guint total = RATE * SECONDS, pushed = 0, i, nframes = 0;
  gint16 *pcm = g_new (gint16, (gsize) total * 2);
  GPtrArray *frames = g_ptr_array_new_with_free_func (
      (GDestroyNotify) gst_buffer_unref);
  gdouble hold_min = 1e9, hold_max = 0, best = -1;
  GstElement *p, *src, *sink;
  GArray *decoded = g_array_new (FALSE, FALSE, sizeof (gint16));
  GstSample *s;
  gint lag = 0, k;
  gchar *enc_chain;

  gst_init (&argc, &argv);
  enc_chain = g_strdup_printf ("audioconvert ! %s", enc);
  if (chunk_ms < 1 || chunk_ms > 100) {
    g_printerr ("codec-delay: CHUNK_MS must be 1..100\n");
    return 1;
  }
  g_random_set_seed (1);
  for (i = 0; i < total; i++)
    pcm[2 * i] = pcm[2 * i + 1] = (gint16) g_random_int_range (-8000, 8000);

  /* encode: take what the encoder finished after each chunk */
  p = codec_delay_pipeline ("audio/x-raw,format=S16LE,rate=48000,channels=2,"
      "layout=interleaved", enc_chain, "", &src, &sink);
  while (pushed < total) {
    guint n = MIN (chunk, total - pushed);

    codec_delay_push (src, pcm + 2 * pushed, (gsize) n * 4, pushed, n);
    pushed += n;
    while ((s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
                30 * GST_MSECOND))) {
      GstBuffer *b = gst_sample_get_buffer (s);
      gdouble hold = pushed * 1000.0 / RATE - GST_BUFFER_PTS (b) / 1e6;

      /* the first frames carry the encoder's start-up; skip them */
      if (GST_BUFFER_PTS_IS_VALID (b) && nframes >= 3) {
        hold_min = MIN (hold_min, hold);
        hold_max = MAX (hold_max, hold);
      }
      g_ptr_array_add (frames, gst_buffer_ref (b));
      nframes++;
      gst_sample_unref (s);
    }
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (p);
  if (frames->len < 10) {
    g_printerr ("codec-delay: the encoder gave %u frames for %d s of audio\n",
        frames->len, SECONDS);
    return 1;
  }

  /* decode all frames, mono S16 out */
  {
    GstCaps *caps = NULL;
    gchar *caps_s;

    /* the frames' caps: what the encoder says on a short run */
    p = codec_delay_pipeline ("audio/x-raw,format=S16LE,rate=48000,"
        "channels=2,layout=interleaved", enc_chain, "", &src, &sink);
    codec_delay_push (src, pcm, (gsize) RATE / 10 * 4, 0, RATE / 10);
    gst_app_src_end_of_stream (GST_APP_SRC (src));
    s = gst_app_sink_pull_sample (GST_APP_SINK (sink));
    if (s)
      caps = gst_caps_ref (gst_sample_get_caps (s));
    if (s)
      gst_sample_unref (s);
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (src);
    gst_object_unref (sink);
    gst_object_unref (p);
    if (caps == NULL) {
      g_printerr ("codec-delay: the encoder gave no caps\n");
      return 1;
    }
    caps_s = gst_caps_to_string (caps);
    gst_caps_unref (caps);
    {
      gchar *quoted = g_strdup_printf ("\"%s\"", caps_s);
      gchar *mid = g_strdup_printf ("%s ! audioconvert", dec);

      p = codec_delay_pipeline (quoted, mid,
          "audio/x-raw,format=S16LE,channels=1 !", &src, &sink);
      g_free (quoted);
      g_free (mid);
    }
    g_free (caps_s);
  }
  for (i = 0; i < frames->len; i++)
    gst_app_src_push_buffer (GST_APP_SRC (src),
        gst_buffer_ref (g_ptr_array_index (frames, i)));
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  while ((s = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    GstMapInfo map;
    GstBuffer *b = gst_sample_get_buffer (s);

    gst_buffer_map (b, &map, GST_MAP_READ);
    g_array_append_vals (decoded, map.data, map.size / 2);
    gst_buffer_unmap (b, &map);
    gst_sample_unref (s);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (p);

  /* lag of the decoded audio: correlate 0.5 s of input from 0.5 s on */
  for (k = 0; k <= MAX_LAG; k++) {
    gdouble acc = 0;
    guint j, from = RATE / 2, len = RATE / 2;

    if (from + k + len > decoded->len)
      break;
    for (j = 0; j < len; j++)
      acc += (gdouble) pcm[2 * (from + j)] *
          g_array_index (decoded, gint16, from + k + j);
    if (acc > best) {
      best = acc;
      lag = k;
    }
  }

  printf ("%s, %d ms input chunks:\n", enc, chunk_ms);
  printf ("  a frame leaves %.1f..%.1f ms after its start (%u frames)\n",
      hold_min, hold_max, frames->len);
  printf ("  decoded audio (%s) lags the input by %d samples (%.1f ms)\n",
      dec, lag, lag * 1000.0 / RATE);
  printf ("  => the codec alone: at least %.1f ms\n",
      hold_max + lag * 1000.0 / RATE);
  g_ptr_array_unref (frames);
  g_array_unref (decoded);
  g_free (pcm);
  g_free (enc_chain);
  return 0;
}
