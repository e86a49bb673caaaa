/* qsound — loopbacksrc on a real PulseAudio server.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Runs under tests/run.sh, which starts a private PulseAudio with null sinks
 * `play` and `out` (48 kHz) and makes `play` the default.  The tests play a
 * known non-periodic signal (seeded noise bursts) into a sink and check that
 * loopbacksrc captured it: the capture kept pace with the wall clock, lost
 * nothing, and cross-correlating the capture with the signal finds every
 * burst.
 *
 * Usage: loopbacksrc [test_name,test_name...]  (the tests to run; default all)
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/audio/audio.h>

#include "stallwatch.h"

#define RATE 48000
#define PERIOD_MS 5                     /* one loopbacksrc buffer */
#define PERIOD_FRAMES (RATE * PERIOD_MS / 1000)
/* stalls of the host this long or more count (tests/stallwatch) */
#define STALL_MIN_US (15 * 1000)

/* ---- helpers ----------------------------------------------------------- */

/* FAILS (does not skip) when there is no server: these tests exist to run
 * on one. */
static void
require_pulse (void)
{
  gchar *out = NULL, *err = NULL;
  gint status = -1;
  gboolean ran = g_spawn_command_line_sync ("pactl info", &out, &err, &status,
      NULL);

  fail_unless (ran && g_spawn_check_wait_status (status, NULL),
      "`pactl info` failed, so there is no PulseAudio server to test "
      "against; run the suite with tests/run.sh, which starts one (%s)",
      err ? g_strstrip (err) : "");
  g_free (out);
  g_free (err);
}

static void
pactl (const gchar * args)
{
  gchar *cmd = g_strdup_printf ("pactl %s", args);
  gint status = -1;

  fail_unless (g_spawn_command_line_sync (cmd, NULL, NULL, &status, NULL)
      && g_spawn_check_wait_status (status, NULL), "`%s` failed", cmd);
  g_free (cmd);
}

static GstStructure *
get_stats (GstElement * src)
{
  GstStructure *s = NULL;

  g_object_get (src, "stats", &s, NULL);
  fail_unless (s != NULL);
  return s;
}

static guint64
stat_u64 (const GstStructure * s, const gchar * field)
{
  guint64 v = 0;

  fail_unless (gst_structure_get_uint64 (s, field, &v),
      "stats lack the guint64 field %s", field);
  return v;
}

/* The whole error message posted on the bus, or fails. */
static gchar *
wait_error (GstElement * pipeline, GstClockTime timeout)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, timeout,
      GST_MESSAGE_ERROR);
  GError *error = NULL;
  gchar *text;

  fail_unless (msg != NULL, "no error on the bus");
  gst_message_parse_error (msg, &error, NULL);
  text = g_strdup (error->message);
  g_error_free (error);
  gst_message_unref (msg);
  gst_object_unref (bus);
  return text;
}

static void
fail_on_bus_error (GstElement * pipeline, const gchar * what)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  if (msg) {
    GError *error = NULL;

    gst_message_parse_error (msg, &error, NULL);
    fail ("%s posted an error: %s", what, error->message);
  }
  gst_object_unref (bus);
}

/* ---- the signal -------------------------------------------------------- */

typedef struct
{
  gsize start, len;
} Burst;

typedef struct
{
  gfloat *x;
  gsize n;
  GArray *bursts;               /* Burst */
} Signal;

/* Noise bursts of 20-100 ms at random gaps of 40-250 ms: nothing repeats,
 * so the correlation peak is unambiguous. */
static Signal *
signal_new (guint32 seed, gdouble seconds)
{
  Signal *sig = g_new0 (Signal, 1);
  GRand *rand = g_rand_new_with_seed (seed);
  gsize pos = RATE / 20;

  sig->n = (gsize) (seconds * RATE);
  sig->x = g_new0 (gfloat, sig->n);
  sig->bursts = g_array_new (FALSE, FALSE, sizeof (Burst));
  for (;;) {
    Burst b;
    gsize i;

    b.start = pos + (gsize) g_rand_int_range (rand, RATE / 25, RATE / 4);
    b.len = (gsize) g_rand_int_range (rand, RATE / 50, RATE / 10);
    if (b.start + b.len + RATE / 20 > sig->n)
      break;
    for (i = 0; i < b.len; i++)
      sig->x[b.start + i] = (gfloat) g_rand_double_range (rand, -0.6, 0.6);
    g_array_append_val (sig->bursts, b);
    pos = b.start + b.len;
  }
  g_rand_free (rand);
  return sig;
}

static void
signal_free (Signal * sig)
{
  g_free (sig->x);
  g_array_unref (sig->bursts);
  g_free (sig);
}

/* Plays the signal into a sink (mono float, the server converts). */
static GstElement *
player_start (const Signal * sig, const gchar * sink)
{
  gchar *desc = g_strdup_printf ("appsrc name=a format=time "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,rate=%d,channels=1 "
      "! audioconvert ! pulsesink device=%s", RATE, sink);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *a;
  GstBuffer *buf;

  fail_unless (p != NULL);
  g_free (desc);
  a = gst_bin_get_by_name (GST_BIN (p), "a");
  buf = gst_buffer_new_memdup (sig->x, sig->n * sizeof (gfloat));
  GST_BUFFER_PTS (buf) = 0;
  GST_BUFFER_DURATION (buf) = gst_util_uint64_scale_int (sig->n, GST_SECOND,
      RATE);
  fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (a), buf),
      GST_FLOW_OK);
  gst_app_src_end_of_stream (GST_APP_SRC (a));
  gst_object_unref (a);
  fail_if (gst_element_set_state (p, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  return p;
}

/* ---- the recorder ------------------------------------------------------ */

typedef struct
{
  GstElement *pipeline;
  GstElement *src;
  GMutex lock;
  GArray *samples;              /* gfloat, mono */
  /* on loopbacksrc's own pad */
  guint64 pushed;               /* frames pushed */
  guint64 next_offset;
  guint offset_gaps;            /* buffers whose offset != previous offset_end */
  guint64 offset_skipped;       /* frames those offsets skipped */
  guint stall_at;               /* buffer number to stall at (0: none) */
  gchar *warning;               /* the last warning posted */
  guint n_buffers;
  guint disconts;
  GstClockTime last_end;
  guint pts_backwards;
  GstClockTimeDiff max_skew;    /* |running time at push - buffer end| */
  /* (time, frames captured + filled) samples of the stats */
  GArray *times;                /* gint64 us */
  GArray *frames;               /* guint64 */
  StallWatch *watch;            /* the host's stalls meanwhile */
} Recorder;

static GstFlowReturn
recorder_new_sample (GstAppSink * sink, gpointer user_data)
{
  Recorder *r = user_data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buf = gst_sample_get_buffer (sample);
  GstMapInfo map;

  gst_buffer_map (buf, &map, GST_MAP_READ);
  g_mutex_lock (&r->lock);
  g_array_append_vals (r->samples, map.data, map.size / sizeof (gfloat));
  g_mutex_unlock (&r->lock);
  gst_buffer_unmap (buf, &map);
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static GstBusSyncReply
recorder_bus_sync (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Recorder *r = user_data;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
    GError *err = NULL;

    gst_message_parse_warning (msg, &err, NULL);
    g_mutex_lock (&r->lock);
    g_free (r->warning);
    r->warning = g_strdup (err->message);
    g_mutex_unlock (&r->lock);
    g_error_free (err);
  }
  return GST_BUS_PASS;
}

static GstPadProbeReturn
recorder_src_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Recorder *r = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  g_mutex_lock (&r->lock);
  if (r->pushed > 0 && GST_BUFFER_OFFSET (buf) != r->next_offset) {
    r->offset_gaps++;
    r->offset_skipped += GST_BUFFER_OFFSET (buf) - r->next_offset;
  }
  if (GST_BUFFER_IS_DISCONT (buf))
    r->disconts++;
  if (GST_CLOCK_TIME_IS_VALID (r->last_end)
      && GST_BUFFER_PTS (buf) + GST_MSECOND < r->last_end)
    r->pts_backwards++;
  r->last_end = GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf);
  /* a live source stamps what it pushes with the running time it was
   * captured at (the first buffer after a (re)start holds older audio) */
  if (!GST_BUFFER_IS_DISCONT (buf)) {
    GstClock *clock = gst_element_get_clock (r->src);

    if (clock) {
      GstClockTimeDiff skew = GST_CLOCK_DIFF (r->last_end,
          gst_clock_get_time (clock) - gst_element_get_base_time (r->src));

      r->max_skew = MAX (r->max_skew, ABS (skew));
      gst_object_unref (clock);
    }
  }
  r->pushed += GST_BUFFER_OFFSET_END (buf) - GST_BUFFER_OFFSET (buf);
  r->next_offset = GST_BUFFER_OFFSET_END (buf);
  r->n_buffers++;
  if (r->stall_at && r->n_buffers == r->stall_at) {
    /* a consumer held up longer than the ring lasts */
    g_mutex_unlock (&r->lock);
    g_usleep (3 * G_USEC_PER_SEC);
    return GST_PAD_PROBE_OK;
  }
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

/* tail: what follows loopbacksrc; NULL = mono float into an appsink */
static Recorder *
recorder_new (const gchar * device, const gchar * tail)
{
  Recorder *r = g_new0 (Recorder, 1);
  gchar *desc;
  GstPad *pad;

  desc = g_strdup_printf ("loopbacksrc name=src %s%s ! %s",
      device ? "device=" : "", device ? device : "",
      tail ? tail : "audioconvert ! audio/x-raw,format=F32LE,channels=1 "
      "! appsink name=sink sync=false");
  r->pipeline = gst_parse_launch (desc, NULL);
  fail_unless (r->pipeline != NULL, "could not build %s", desc);
  g_free (desc);
  r->src = gst_bin_get_by_name (GST_BIN (r->pipeline), "src");
  g_mutex_init (&r->lock);
  r->samples = g_array_new (FALSE, FALSE, sizeof (gfloat));
  r->times = g_array_new (FALSE, FALSE, sizeof (gint64));
  r->frames = g_array_new (FALSE, FALSE, sizeof (guint64));
  r->last_end = GST_CLOCK_TIME_NONE;
  r->watch = stall_watch_start (STALL_MIN_US);
  if (!tail) {
    GstElement *sink = gst_bin_get_by_name (GST_BIN (r->pipeline), "sink");
    GstAppSinkCallbacks cb = { NULL, NULL, recorder_new_sample };

    gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, r, NULL);
    gst_object_unref (sink);
  }
  pad = gst_element_get_static_pad (r->src, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, recorder_src_probe, r,
      NULL);
  gst_object_unref (pad);
  {
    GstBus *bus = gst_element_get_bus (r->pipeline);

    gst_bus_set_sync_handler (bus, recorder_bus_sync, r, NULL);
    gst_object_unref (bus);
  }
  return r;
}

static void
recorder_free (Recorder * r)
{
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
  gst_object_unref (r->src);
  gst_object_unref (r->pipeline);
  g_array_unref (r->samples);
  g_array_unref (r->times);
  g_array_unref (r->frames);
  stall_watch_stop (r->watch);
  stall_watch_free (r->watch);
  g_free (r->warning);
  g_mutex_clear (&r->lock);
  g_free (r);
}

static void
recorder_sample_stats (Recorder * r)
{
  GstStructure *s = get_stats (r->src);
  gint64 now = g_get_monotonic_time ();
  guint64 f = stat_u64 (s, "frames-captured") + stat_u64 (s, "frames-silence");

  g_array_append_val (r->times, now);
  g_array_append_val (r->frames, f);
  gst_structure_free (s);
}

static guint64
recorder_pushed (Recorder * r)
{
  guint64 n;

  g_mutex_lock (&r->lock);
  n = r->pushed;
  g_mutex_unlock (&r->lock);
  return n;
}

static void
recorder_play (Recorder * r)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  fail_if (gst_element_set_state (r->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE, "loopbacksrc did not start");
  /* the first data from an idle null sink can take up to its 2 s block */
  while (recorder_pushed (r) < RATE / 5) {
    fail_unless (g_get_monotonic_time () < deadline,
        "loopbacksrc delivered no audio within 10 s");
    fail_on_bus_error (r->pipeline, "the capture pipeline");
    g_usleep (10000);
  }
}

/* Waits for EOS of player (or for seconds if player is NULL), sampling the
 * stats every 20 ms. */
static void
recorder_run (Recorder * r, GstElement * player, gdouble seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  GstBus *bus = player ? gst_element_get_bus (player) : NULL;

  for (;;) {
    recorder_sample_stats (r);
    fail_on_bus_error (r->pipeline, "the capture pipeline");
    if (bus) {
      GstMessage *m = gst_bus_timed_pop_filtered (bus, 20 * GST_MSECOND,
          GST_MESSAGE_EOS | GST_MESSAGE_ERROR);

      if (m) {
        fail_unless (GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS,
            "the player failed");
        gst_message_unref (m);
        break;
      }
      fail_unless (g_get_monotonic_time () < end, "the player did not finish");
    } else {
      if (g_get_monotonic_time () >= end)
        break;
      g_usleep (20000);
    }
  }
  if (bus)
    gst_object_unref (bus);
}

/* Data arrives late, never early: the best (largest) offset of frames
 * against the wall clock within a window is when a delivery had just
 * arrived.  Compares the first and last second of the run. */
static gint64
recorder_clock_drift (Recorder * r, guint from)
{
  gint64 t0 = g_array_index (r->times, gint64, from);
  guint64 f0 = g_array_index (r->frames, guint64, from);
  gint64 tn = g_array_index (r->times, gint64, r->times->len - 1);
  gint64 best_first = G_MININT64, best_last = G_MININT64;
  guint i;

  fail_unless (tn - t0 > 3 * G_USEC_PER_SEC, "run too short to compare");
  for (i = from; i < r->times->len; i++) {
    gint64 t = g_array_index (r->times, gint64, i);
    gint64 off = (gint64) (g_array_index (r->frames, guint64, i) - f0)
        - (t - t0) * RATE / G_USEC_PER_SEC;

    if (t - t0 <= G_USEC_PER_SEC)
      best_first = MAX (best_first, off);
    if (tn - t <= G_USEC_PER_SEC)
      best_last = MAX (best_last, off);
  }
  GST_INFO ("captured + filled against the wall clock over %.1f s: "
      "%" G_GINT64_FORMAT " frames", (tn - t0) / 1e6, best_last - best_first);
  return best_last - best_first;
}

/* Captured + filled frames kept pace with the wall clock: within @allowed
 * frames, or that plus the longest stall of the host during the run (a
 * stall of the whole machine shifts when the sound server's blocks and the
 * fill around a reconnect are counted by up to its length; a busy machine
 * is no stall: see stallwatch.h). */
static void
recorder_check_drift (Recorder * r, guint from, gint64 allowed)
{
  gint64 drift = recorder_clock_drift (r, from);
  StallEvent stall = { 0, 0, -1 };

  if (ABS (drift) <= allowed)
    return;
  if (stall_watch_realtime (r->watch))
    stall_watch_find (r->watch, g_array_index (r->times, gint64, from),
        g_array_index (r->times, gint64, r->times->len - 1), &stall);
  fail_unless (ABS (drift) <= allowed + stall.length_us * RATE /
      G_USEC_PER_SEC, "captured + filled frames strayed %" G_GINT64_FORMAT
      " frames from the wall clock (%" G_GINT64_FORMAT " allowed, and the "
      "host's longest stall meanwhile: %.1f ms%s)", drift, allowed,
      stall.length_us / 1000.0, stall_watch_realtime (r->watch) ? "" :
      ", not watched: no real-time");
  printf ("captured + filled strayed %" G_GINT64_FORMAT " frames from the "
      "wall clock, within the host's stall of %.1f ms\n", drift,
      stall.length_us / 1000.0);
}

/* ---- correlation ------------------------------------------------------- */

static void
fft (gdouble * re, gdouble * im, gsize n, gboolean inverse)
{
  gsize i, j, len;

  for (i = 1, j = 0; i < n; i++) {
    gsize bit = n >> 1;

    for (; j & bit; bit >>= 1)
      j ^= bit;
    j ^= bit;
    if (i < j) {
      gdouble t = re[i];
      re[i] = re[j];
      re[j] = t;
      t = im[i];
      im[i] = im[j];
      im[j] = t;
    }
  }
  for (len = 2; len <= n; len <<= 1) {
    gdouble ang = 2 * G_PI / len * (inverse ? 1 : -1);
    gdouble wr = cos (ang), wi = sin (ang);

    for (i = 0; i < n; i += len) {
      gdouble cr = 1, ci = 0;

      for (j = 0; j < len / 2; j++) {
        gsize a = i + j, b = i + j + len / 2;
        gdouble ur = re[a], ui = im[a];
        gdouble vr = re[b] * cr - im[b] * ci;
        gdouble vi = re[b] * ci + im[b] * cr;
        gdouble t;

        re[a] = ur + vr;
        im[a] = ui + vi;
        re[b] = ur - vr;
        im[b] = ui - vi;
        t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
}

typedef struct
{
  gsize lag;                    /* signal sample 0 is capture sample lag */
  gdouble peak;                 /* normalized correlation there */
  gdouble worst_burst;          /* lowest normalized correlation of a burst */
  guint bursts;
} Match;

/* Finds the signal in the capture y (from y_from on). */
static Match
correlate (const Signal * sig, const gfloat * y, gsize m)
{
  gsize n = 1, i, k;
  gdouble *xr, *xi, *yr, *yi, *ecum;
  gdouble ex = 0, best = -1;
  Match match = { 0, 0, 2, 0 };

  fail_unless (m > sig->n, "the capture (%" G_GSIZE_FORMAT " frames) is "
      "shorter than the signal", m);
  while (n < m + sig->n)
    n <<= 1;
  xr = g_new0 (gdouble, n);
  xi = g_new0 (gdouble, n);
  yr = g_new0 (gdouble, n);
  yi = g_new0 (gdouble, n);
  for (i = 0; i < sig->n; i++) {
    xr[i] = sig->x[i];
    ex += xr[i] * xr[i];
  }
  for (i = 0; i < m; i++)
    yr[i] = y[i];
  fft (xr, xi, n, FALSE);
  fft (yr, yi, n, FALSE);
  /* Y * conj(X) */
  for (i = 0; i < n; i++) {
    gdouble r = yr[i] * xr[i] + yi[i] * xi[i];
    gdouble im = yi[i] * xr[i] - yr[i] * xi[i];

    yr[i] = r;
    yi[i] = im;
  }
  fft (yr, yi, n, TRUE);
  ecum = g_new0 (gdouble, m + 1);
  for (i = 0; i < m; i++)
    ecum[i + 1] = ecum[i] + (gdouble) y[i] * y[i];
  for (k = 0; k + sig->n <= m; k++) {
    gdouble ey = ecum[k + sig->n] - ecum[k];
    gdouble c = yr[k] / n;
    gdouble norm = ey > 0 ? c / sqrt (ex * ey) : 0;

    if (norm > best) {
      best = norm;
      match.lag = k;
    }
  }
  match.peak = best;

  for (i = 0; i < sig->bursts->len; i++) {
    Burst *b = &g_array_index (sig->bursts, Burst, i);
    gdouble sxy = 0, sxx = 0, syy = 0, v;

    for (k = 0; k < b->len; k++) {
      gdouble a = sig->x[b->start + k], c = y[match.lag + b->start + k];

      sxy += a * c;
      sxx += a * a;
      syy += c * c;
    }
    v = syy > 0 ? sxy / sqrt (sxx * syy) : 0;
    match.worst_burst = MIN (match.worst_burst, v);
    match.bursts++;
  }
  g_free (xr);
  g_free (xi);
  g_free (yr);
  g_free (yi);
  g_free (ecum);
  GST_INFO ("signal found at lag %" G_GSIZE_FORMAT ": peak %.4f, worst of %u "
      "bursts %.4f", match.lag, match.peak, match.bursts, match.worst_burst);
  return match;
}

/* ---- tests ------------------------------------------------------------- */

GST_START_TEST (test_properties)
{
  GstElement *src = gst_element_factory_make ("loopbacksrc", NULL);
  GParamSpec *pspec;
  GEnumClass *eclass;
  gchar *device = NULL;
  gint backend = -1;

  fail_unless (src != NULL);
  g_object_get (src, "device", &device, "backend", &backend, NULL);
  fail_unless_equals_string (device, "");
  fail_unless_equals_int (backend, 0);
  g_free (device);

  g_object_set (src, "device", "out", NULL);
  gst_util_set_object_arg (G_OBJECT (src), "backend", "pulse");
  g_object_get (src, "device", &device, "backend", &backend, NULL);
  fail_unless_equals_string (device, "out");
  fail_unless_equals_int (backend, 1);
  g_free (device);

  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "backend");
  eclass = g_type_class_ref (pspec->value_type);
  fail_unless (g_enum_get_value_by_nick (eclass, "auto") != NULL);
  fail_unless (g_enum_get_value_by_nick (eclass, "pulse") != NULL);
  fail_unless (g_enum_get_value_by_nick (eclass, "wasapi") != NULL);
  g_type_class_unref (eclass);

  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "stats");
  fail_unless (pspec->flags & G_PARAM_READABLE);
  fail_if (pspec->flags & G_PARAM_WRITABLE);
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "device");
  fail_unless (pspec->flags & GST_PARAM_MUTABLE_READY);

  fail_unless (gst_base_src_is_live (GST_BASE_SRC (src)));
  gst_object_unref (src);
}

GST_END_TEST;

GST_START_TEST (test_stats_fields)
{
  static const gchar *fields[] = { "frames-captured", "frames-silence",
    "frames-lost", "discontinuities", "device-switches"
  };
  GstElement *src = gst_element_factory_make ("loopbacksrc", NULL);
  GstStructure *s = get_stats (src);
  guint i;

  fail_unless (gst_structure_has_name (s, "loopbacksrc-stats"));
  for (i = 0; i < G_N_ELEMENTS (fields); i++) {
    fail_unless (gst_structure_has_field_typed (s, fields[i], G_TYPE_UINT64),
        "no guint64 %s", fields[i]);
    fail_unless_equals_uint64 (stat_u64 (s, fields[i]), 0);
  }
  fail_unless_equals_string (gst_structure_get_string (s, "device"), "");
  fail_unless_equals_int (gst_structure_n_fields (s), 6);
  gst_structure_free (s);
  gst_object_unref (src);
}

GST_END_TEST;

/* Capture for a while; the stats, the latency and the buffers are what a
 * live audio source gives; going to NULL while the streaming thread waits
 * in a read takes well under a second; the stats stay after stopping. */
GST_START_TEST (test_capture_basics)
{
  Recorder *r;
  GstQuery *q;
  GstStructure *s;
  gboolean live = FALSE;
  GstClockTime min = 0, max = 0;
  gint64 t;
  guint64 captured;
  guint i;

  require_pulse ();
  for (i = 0; i < 3; i++) {
    r = recorder_new ("play", "fakesink sync=true");
    recorder_play (r);
    recorder_run (r, NULL, 0.5);

    q = gst_query_new_latency ();
    fail_unless (gst_element_query (r->src, q));
    gst_query_parse_latency (q, &live, &min, &max);
    gst_query_unref (q);
    fail_unless (live);
    fail_unless_equals_uint64 (min, PERIOD_MS * GST_MSECOND);
    fail_unless (max >= min);

    s = get_stats (r->src);
    fail_unless_equals_string (gst_structure_get_string (s, "device"), "play");
    captured = stat_u64 (s, "frames-captured");
    fail_unless (captured > RATE / 5);
    fail_unless_equals_uint64 (stat_u64 (s, "frames-lost"), 0);
    fail_unless_equals_uint64 (stat_u64 (s, "device-switches"), 0);
    gst_structure_free (s);

    g_mutex_lock (&r->lock);
    fail_unless_equals_int (r->offset_gaps, 0);
    fail_unless_equals_int (r->pts_backwards, 0);
    fail_unless_equals_int (r->disconts, 1);    /* the first buffer only */
    GST_INFO ("timestamps within %" GST_STIME_FORMAT " of the running time",
        GST_STIME_ARGS (r->max_skew));
    fail_unless (r->max_skew < 200 * GST_MSECOND, "timestamps stray %"
        GST_STIME_FORMAT " from the running time", GST_STIME_ARGS (r->max_skew));
    g_mutex_unlock (&r->lock);

    /* the streaming thread spends nearly all its time blocked in read */
    t = g_get_monotonic_time ();
    fail_unless (gst_element_set_state (r->pipeline, GST_STATE_NULL) ==
        GST_STATE_CHANGE_SUCCESS);
    t = g_get_monotonic_time () - t;
    fail_unless (t < G_USEC_PER_SEC, "going to NULL took %" G_GINT64_FORMAT
        " us", t);

    s = get_stats (r->src);
    fail_unless (stat_u64 (s, "frames-captured") >= captured);
    fail_unless_equals_string (gst_structure_get_string (s, "device"), "play");
    gst_structure_free (s);
    recorder_free (r);
  }
}

GST_END_TEST;

/* PAUSED and back: what was captured meanwhile is skipped (the offsets say
 * so), and the timestamps follow the running time again. */
GST_START_TEST (test_pause_resume)
{
  Recorder *r;
  GstStructure *s;
  guint64 before;

  require_pulse ();
  r = recorder_new ("play", "fakesink sync=true");
  recorder_play (r);
  recorder_run (r, NULL, 0.5);
  fail_unless (gst_element_set_state (r->pipeline, GST_STATE_PAUSED) !=
      GST_STATE_CHANGE_FAILURE);
  g_usleep (G_USEC_PER_SEC);
  before = recorder_pushed (r);
  fail_unless (gst_element_set_state (r->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  recorder_run (r, NULL, 1.0);
  fail_unless (recorder_pushed (r) > before + RATE / 2);

  s = get_stats (r->src);
  fail_unless_equals_uint64 (stat_u64 (s, "frames-lost"), 0);
  gst_structure_free (s);
  g_mutex_lock (&r->lock);
  fail_unless_equals_int (r->disconts, 2);
  fail_unless_equals_int (r->offset_gaps, 1);
  fail_unless_equals_int (r->pts_backwards, 0);
  GST_INFO ("timestamps within %" GST_STIME_FORMAT " of the running time",
      GST_STIME_ARGS (r->max_skew));
  fail_unless (r->max_skew < 200 * GST_MSECOND, "timestamps stray %"
      GST_STIME_FORMAT " from the running time", GST_STIME_ARGS (r->max_skew));
  g_mutex_unlock (&r->lock);
  recorder_free (r);
}

GST_END_TEST;

/* A consumer stuck for 3 s, longer than the 2 s ring: the oldest audio is
 * overwritten, counted as lost, warned about, and skipped in the offsets
 * (and so in the timestamps) exactly. */
GST_START_TEST (test_slow_consumer_loss)
{
  Recorder *r;
  GstStructure *s;
  guint64 lost;

  require_pulse ();
  r = recorder_new ("play", "fakesink sync=false");
  r->stall_at = 50;
  recorder_play (r);
  recorder_run (r, NULL, 5.0);

  g_mutex_lock (&r->lock);
  fail_unless (r->warning != NULL, "no warning about the lost audio");
  GST_INFO ("warning: %s", r->warning);
  fail_unless (strstr (r->warning, "fell behind") != NULL, "%s", r->warning);
  g_mutex_unlock (&r->lock);

  s = get_stats (r->src);
  GST_INFO ("stats: %" GST_PTR_FORMAT, s);
  lost = stat_u64 (s, "frames-lost");
  fail_unless (lost > RATE / 2 && lost < 3 * RATE / 2, "lost %"
      G_GUINT64_FORMAT " frames in a 3 s stall", lost);
  fail_unless (stat_u64 (s, "discontinuities") >= 1);
  gst_structure_free (s);
  g_mutex_lock (&r->lock);
  fail_unless_equals_int (r->offset_gaps, 1);
  fail_unless_equals_uint64 (r->offset_skipped, lost);
  fail_unless_equals_int (r->pts_backwards, 0);
  g_mutex_unlock (&r->lock);
  recorder_free (r);
}

GST_END_TEST;

/* Accepts a monitor name too. */
GST_START_TEST (test_monitor_name)
{
  Recorder *r;
  GstStructure *s;

  require_pulse ();
  r = recorder_new ("out.monitor", "fakesink sync=false");
  recorder_play (r);
  s = get_stats (r->src);
  fail_unless_equals_string (gst_structure_get_string (s, "device"), "out");
  gst_structure_free (s);
  recorder_free (r);
}

GST_END_TEST;

GST_START_TEST (test_no_server)
{
  gchar *dir = g_dir_make_tmp ("qsound-noserver-XXXXXX", NULL);
  gchar *sock = g_build_filename (dir, "no-such-socket", NULL);
  gchar *server = g_strdup_printf ("unix:%s", sock);
  GstElement *p;
  gchar *msg;

  fail_unless (dir != NULL);
  /* this test runs in its own process (check forks) */
  g_setenv ("PULSE_SERVER", server, TRUE);
  g_setenv ("XDG_RUNTIME_DIR", dir, TRUE);
  g_unsetenv ("PULSE_RUNTIME_PATH");
  p = gst_parse_launch ("loopbacksrc ! fakesink", NULL);
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  msg = wait_error (p, 5 * GST_SECOND);
  GST_INFO ("error: %s", msg);
  fail_unless (g_str_has_prefix (msg,
          "no PulseAudio or PipeWire server is running (tried "), "%s", msg);
  fail_unless (strstr (msg, sock) != NULL, "%s does not name %s", msg, sock);
  fail_unless (strstr (msg, "PULSE_SERVER") != NULL, "%s", msg);
  g_free (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);

  /* without PULSE_SERVER: the per-user socket in the (empty) runtime dir */
  g_unsetenv ("PULSE_SERVER");
  p = gst_parse_launch ("loopbacksrc ! fakesink", NULL);
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  msg = wait_error (p, 5 * GST_SECOND);
  GST_INFO ("error: %s", msg);
  fail_unless (g_str_has_prefix (msg,
          "no PulseAudio or PipeWire server is running (tried "), "%s", msg);
  g_free (sock);
  sock = g_build_filename (dir, "pulse", "native", NULL);
  fail_unless (strstr (msg, sock) != NULL, "%s does not name %s", msg, sock);
  g_free (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);

  g_free (server);
  g_free (sock);
  g_rmdir (dir);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_unknown_device)
{
  GstElement *p;
  gchar *msg;

  require_pulse ();
  p = gst_parse_launch ("loopbacksrc device=speakers-that-are-not-there "
      "! fakesink", NULL);
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  msg = wait_error (p, 5 * GST_SECOND);
  GST_INFO ("error: %s", msg);
  fail_unless (g_str_has_prefix (msg, "there is no audio output or input "
          "named 'speakers-that-are-not-there'; set device to one of the "
          "outputs ("), "%s", msg);
  fail_unless (strstr (msg, "play") != NULL && strstr (msg, "out") != NULL,
      "%s", msg);
  g_free (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
}

GST_END_TEST;

GST_START_TEST (test_wasapi_elsewhere)
{
  GstElement *p;
  gchar *msg;

  p = gst_parse_launch ("loopbacksrc backend=wasapi ! fakesink", NULL);
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  msg = wait_error (p, 5 * GST_SECOND);
  fail_unless (strstr (msg, "WASAPI") != NULL, "%s", msg);
  g_free (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
}

GST_END_TEST;

/* Every sample of a known signal played into `play` is captured. */
GST_START_TEST (test_signal)
{
  Signal *sig = signal_new (20261125, 4.0);
  GstElement *player;
  Recorder *r;
  GstStructure *s;
  Match m;

  require_pulse ();
  r = recorder_new ("play", NULL);
  recorder_play (r);
  player = player_start (sig, "play");
  recorder_run (r, player, 20.0);
  recorder_run (r, NULL, 0.3);  /* the tail of the signal */
  gst_element_set_state (player, GST_STATE_NULL);
  gst_object_unref (player);

  s = get_stats (r->src);
  GST_INFO ("stats: %" GST_PTR_FORMAT, s);
  fail_unless_equals_uint64 (stat_u64 (s, "frames-lost"), 0);
  fail_unless_equals_uint64 (stat_u64 (s, "device-switches"), 0);
  gst_structure_free (s);

  /* captured + filled kept pace with the wall clock: within one period */
  recorder_check_drift (r, 0, PERIOD_FRAMES);

  g_mutex_lock (&r->lock);
  fail_unless_equals_int (r->offset_gaps, 0);
  fail_unless_equals_int (r->pts_backwards, 0);
  m = correlate (sig, (gfloat *) r->samples->data, r->samples->len);
  g_mutex_unlock (&r->lock);
  fail_unless (m.peak > 0.95, "correlation peak %.3f", m.peak);
  fail_unless (m.bursts >= 10);
  fail_unless (m.worst_burst > 0.9, "a burst is missing: correlation %.3f",
      m.worst_burst);

  /* the measure can fail: another signal is not in the capture */
  {
    Signal *other = signal_new (7, 4.0);

    g_mutex_lock (&r->lock);
    m = correlate (other, (gfloat *) r->samples->data, r->samples->len);
    g_mutex_unlock (&r->lock);
    fail_unless (m.peak < 0.5, "an unplayed signal correlates %.3f", m.peak);
    signal_free (other);
  }

  recorder_free (r);
  signal_free (sig);
}

GST_END_TEST;

/* device names an input (a source that is not a monitor): captured
 * directly.  The input is a remap source over play's monitor, so the
 * signal played into play must come out of it. */
GST_START_TEST (test_input_capture)
{
  Signal *sig = signal_new (20261203, 4.0);
  GstElement *player;
  Recorder *r;
  GstStructure *s;
  Match m;
  gchar *out = NULL, *module;
  gint status;

  require_pulse ();
  fail_unless (g_spawn_command_line_sync ("pactl load-module "
          "module-remap-source source_name=qsound_test_line "
          "master=play.monitor", &out, NULL, &status, NULL)
      && g_spawn_check_wait_status (status, NULL),
      "could not load module-remap-source");
  module = g_strstrip (out);
  r = recorder_new ("qsound_test_line", NULL);
  recorder_play (r);
  player = player_start (sig, "play");
  recorder_run (r, player, 10.0);
  recorder_run (r, NULL, 0.3);
  gst_element_set_state (player, GST_STATE_NULL);
  gst_object_unref (player);

  s = get_stats (r->src);
  GST_INFO ("stats: %" GST_PTR_FORMAT, s);
  fail_unless_equals_string (gst_structure_get_string (s, "device"),
      "qsound_test_line");
  fail_unless_equals_uint64 (stat_u64 (s, "frames-lost"), 0);
  gst_structure_free (s);

  g_mutex_lock (&r->lock);
  m = correlate (sig, (gfloat *) r->samples->data, r->samples->len);
  g_mutex_unlock (&r->lock);
  fail_unless (m.peak > 0.95, "correlation peak %.3f", m.peak);
  fail_unless (m.bursts >= 5);
  fail_unless (m.worst_burst > 0.9, "a burst is missing: correlation %.3f",
      m.worst_burst);

  recorder_free (r);
  signal_free (sig);
  {
    gchar *cmd = g_strdup_printf ("unload-module %s", module);
    pactl (cmd);
    g_free (cmd);
  }
  g_free (out);
}

GST_END_TEST;

/* A PulseAudio of our own (its own runtime dir) with one sink; this
 * process talks to it through PULSE_SERVER (each test runs in its own
 * process: check forks).  It exits by itself 3 s after its last client, so
 * a failed test leaves nothing running. */
typedef struct
{
  GPid pid;
  gchar *dir;
} PrivateServer;

static void
private_server_spawn (PrivateServer * ps, const gchar * sink_module)
{
  gchar *xdg, *rt, *server;
  gint i;

  xdg = g_strdup_printf ("XDG_RUNTIME_DIR=%s", ps->dir);
  rt = g_strdup_printf ("PULSE_RUNTIME_PATH=%s/pulse", ps->dir);
  server = g_strdup_printf ("unix:%s/pulse/native", ps->dir);
  {
    gchar *envp[] = { xdg, rt, (gchar *) "HOME=/tmp",
      (gchar *) "PATH=/usr/bin:/bin", NULL
    };
    gchar *argv[] = { (gchar *) "pulseaudio", (gchar *) "-n",
      (gchar *) "--daemonize=no", (gchar *) "--exit-idle-time=3",
      (gchar *) "--log-target=stderr",
      (gchar *) "-L", (gchar *) "module-native-protocol-unix",
      (gchar *) "-L", (gchar *) sink_module, NULL
    };

    fail_unless (g_spawn_async (NULL, argv, envp, G_SPAWN_SEARCH_PATH |
            G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
            G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &ps->pid, NULL));
  }
  g_setenv ("PULSE_SERVER", server, TRUE);
  for (i = 0; i < 100; i++) {
    gint status = -1;

    if (g_spawn_command_line_sync ("pactl info", NULL, NULL, &status, NULL)
        && g_spawn_check_wait_status (status, NULL))
      break;
    g_usleep (50000);
  }
  fail_unless (i < 100, "a private PulseAudio did not start");
  g_free (xdg);
  g_free (rt);
  g_free (server);
}

static PrivateServer *
private_server_start (const gchar * sink_module)
{
  PrivateServer *ps = g_new0 (PrivateServer, 1);

  ps->dir = g_dir_make_tmp ("qsound-private-XXXXXX", NULL);
  fail_unless (ps->dir != NULL);
  private_server_spawn (ps, sink_module);
  return ps;
}

static void
private_server_kill (PrivateServer * ps)
{
  if (ps->pid) {
    kill (ps->pid, SIGKILL);
    waitpid (ps->pid, NULL, 0);
    g_spawn_close_pid (ps->pid);
    ps->pid = 0;
  }
}

static void
private_server_stop (PrivateServer * ps)
{
  private_server_kill (ps);
  g_free (ps->dir);
  g_free (ps);
}

/* The server dies and comes back: capture goes on, the time it was away
 * is filled with silence. */
GST_START_TEST (test_server_restarts)
{
  const gchar *module = "module-null-sink sink_name=phoenix rate=48000";
  PrivateServer *ps;
  Recorder *r;
  GstStructure *s;
  guint64 before, silence;

  require_pulse ();
  ps = private_server_start (module);
  r = recorder_new ("phoenix", NULL);
  recorder_play (r);
  recorder_run (r, NULL, 1.0);
  private_server_kill (ps);
  recorder_run (r, NULL, 1.5);
  private_server_spawn (ps, module);
  before = recorder_pushed (r);
  /* within a reconnect period or two plus an idle null sink's first block */
  recorder_run (r, NULL, 5.0);
  fail_unless (recorder_pushed (r) > before + 2 * RATE);

  s = get_stats (r->src);
  GST_INFO ("stats: %" GST_PTR_FORMAT, s);
  silence = stat_u64 (s, "frames-silence");
  fail_unless (silence > RATE * 3 / 2, "only %" G_GUINT64_FORMAT " frames "
      "filled while the server was away", silence);
  fail_unless_equals_uint64 (stat_u64 (s, "frames-lost"), 0);
  fail_unless (stat_u64 (s, "discontinuities") >= 1);
  fail_unless_equals_uint64 (stat_u64 (s, "device-switches"), 0);
  fail_unless_equals_string (gst_structure_get_string (s, "device"), "phoenix");
  gst_structure_free (s);
  recorder_check_drift (r, 0, 2 * PERIOD_FRAMES);
  recorder_free (r);
  private_server_stop (ps);
}

GST_END_TEST;

/* The server dies for good: after trying for a while the element reports
 * the lost connection as a plain sentence and shuts down without hanging. */
GST_START_TEST (test_server_dies)
{
  PrivateServer *ps;
  Recorder *r;
  gchar *msg;
  gint64 t;

  require_pulse ();
  ps = private_server_start ("module-null-sink sink_name=doomed rate=48000");
  r = recorder_new ("doomed", "fakesink sync=false");
  recorder_play (r);
  private_server_kill (ps);

  msg = wait_error (r->pipeline, 20 * GST_SECOND);
  GST_INFO ("error: %s", msg);
  fail_unless (strstr (msg, "connection to the sound server was lost") != NULL,
      "%s", msg);
  g_free (msg);
  t = g_get_monotonic_time ();
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
  fail_unless (g_get_monotonic_time () - t < G_USEC_PER_SEC);
  recorder_free (r);
  private_server_stop (ps);
}

GST_END_TEST;

/* A 5.1 float output: the caps carry its native format and speaker layout,
 * and a signal played into the centre speaker only comes out of the centre
 * channel. */
GST_START_TEST (test_surround)
{
  PrivateServer *ps;
  GstElement *player, *a;
  GstCaps *caps;
  GstStructure *st;
  GstAudioInfo info;
  GstBuffer *buf;
  GstPad *pad;
  Recorder *r;
  gfloat *x;
  gdouble energy[6] = { 0 };
  guint64 mask = 0;
  gsize i, n = RATE * 2;
  gint c, fc = -1;
  const gchar *format;
  GRand *rand = g_rand_new_with_seed (51);

  require_pulse ();
  /* a map pulse itself orders differently from WAVEFORMATEXTENSIBLE */
  ps = private_server_start ("module-null-sink sink_name=surround rate=48000 "
      "format=float32le channels=6 "
      "channel_map=front-left,front-right,rear-left,rear-right,front-center,lfe");
  r = recorder_new ("surround", "appsink name=sink sync=false");
  {
    GstElement *sink = gst_bin_get_by_name (GST_BIN (r->pipeline), "sink");
    GstAppSinkCallbacks cb = { NULL, NULL, recorder_new_sample };

    gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, r, NULL);
    gst_object_unref (sink);
  }
  recorder_play (r);

  pad = gst_element_get_static_pad (r->src, "src");
  caps = gst_pad_get_current_caps (pad);
  gst_object_unref (pad);
  fail_unless (caps != NULL);
  GST_INFO ("caps: %" GST_PTR_FORMAT, caps);
  st = gst_caps_get_structure (caps, 0);
  format = gst_structure_get_string (st, "format");
  fail_unless_equals_string (format, "F32LE");
  fail_unless (gst_structure_get (st, "channel-mask", GST_TYPE_BITMASK, &mask,
          NULL));
  fail_unless (gst_audio_info_from_caps (&info, caps));
  gst_caps_unref (caps);
  fail_unless_equals_int (GST_AUDIO_INFO_CHANNELS (&info), 6);
  fail_unless_equals_uint64 (mask, 0x3f);
  for (c = 0; c < 6; c++)
    if (info.position[c] == GST_AUDIO_CHANNEL_POSITION_FRONT_CENTER)
      fc = c;
  fail_unless (fc >= 0);

  /* noise into the centre speaker only (GStreamer's order: FL FR FC LFE RL
   * RR; pulsesink maps it onto the sink's own order) */
  player = gst_parse_launch ("appsrc name=a format=time caps=audio/x-raw,"
      "format=F32LE,layout=interleaved,rate=48000,channels=6,"
      "channel-mask=(bitmask)0x3f ! pulsesink device=surround", NULL);
  fail_unless (player != NULL);
  a = gst_bin_get_by_name (GST_BIN (player), "a");
  x = g_new0 (gfloat, n * 6);
  for (i = 0; i < n; i++)
    x[i * 6 + 2] = (gfloat) g_rand_double_range (rand, -0.5, 0.5);
  buf = gst_buffer_new_wrapped (x, n * 6 * sizeof (gfloat));
  GST_BUFFER_PTS (buf) = 0;
  gst_app_src_push_buffer (GST_APP_SRC (a), buf);
  gst_app_src_end_of_stream (GST_APP_SRC (a));
  gst_object_unref (a);
  g_mutex_lock (&r->lock);
  g_array_set_size (r->samples, 0);
  g_mutex_unlock (&r->lock);
  fail_if (gst_element_set_state (player, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  recorder_run (r, player, 15.0);
  gst_element_set_state (player, GST_STATE_NULL);
  gst_object_unref (player);

  /* the appsink got 6-channel floats (recorder_new_sample appends floats) */
  g_mutex_lock (&r->lock);
  for (i = 0; i + 6 <= r->samples->len; i += 6)
    for (c = 0; c < 6; c++) {
      gfloat v = g_array_index (r->samples, gfloat, i + c);

      energy[c] += (gdouble) v * v;
    }
  g_mutex_unlock (&r->lock);
  GST_INFO ("energy per channel: %g %g %g %g %g %g (centre is %d)", energy[0],
      energy[1], energy[2], energy[3], energy[4], energy[5], fc);
  fail_unless (energy[fc] > 100, "no signal in the centre channel");
  for (c = 0; c < 6; c++)
    if (c != fc)
      fail_unless (energy[c] < energy[fc] * 1e-3,
          "channel %d has %g against the centre's %g", c, energy[c],
          energy[fc]);

  recorder_free (r);
  private_server_stop (ps);
  g_rand_free (rand);
}

GST_END_TEST;

/* Going to NULL right while a switch to a new default is under way. */
GST_START_TEST (test_stop_mid_switch)
{
  gint i;

  require_pulse ();
  for (i = 0; i < 5; i++) {
    Recorder *r;
    gint64 t;

    pactl ("set-default-sink play");
    r = recorder_new (NULL, "fakesink sync=false");
    recorder_play (r);
    pactl (i % 2 ? "set-default-sink out" : "set-default-sink play");
    pactl ("set-default-sink out");
    g_usleep (i * 2000);
    t = g_get_monotonic_time ();
    fail_unless (gst_element_set_state (r->pipeline, GST_STATE_NULL) ==
        GST_STATE_CHANGE_SUCCESS);
    t = g_get_monotonic_time () - t;
    fail_unless (t < G_USEC_PER_SEC, "stopping took %" G_GINT64_FORMAT " us",
        t);
    recorder_free (r);
  }
}

GST_END_TEST;

static void
restore_default_sink (void)
{
  /* unchecked teardown: runs even when the test failed */
  g_spawn_command_line_sync ("pactl set-default-sink play", NULL, NULL, NULL,
      NULL);
}

/* With device unset, a change of the default output is followed. */
GST_START_TEST (test_follow_default)
{
  Signal *sig = signal_new (4242, 3.0);
  GstElement *player;
  Recorder *r;
  GstStructure *s;
  gint64 t0, took = -1;
  gsize from;
  Match m;

  require_pulse ();
  pactl ("set-default-sink play");
  r = recorder_new (NULL, NULL);
  recorder_play (r);
  s = get_stats (r->src);
  fail_unless_equals_string (gst_structure_get_string (s, "device"), "play");
  gst_structure_free (s);
  recorder_run (r, NULL, 0.5);

  t0 = g_get_monotonic_time ();
  pactl ("set-default-sink out");
  while (g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC) {
    s = get_stats (r->src);
    if (!g_strcmp0 (gst_structure_get_string (s, "device"), "out"))
      took = g_get_monotonic_time () - t0;
    gst_structure_free (s);
    if (took >= 0)
      break;
    g_usleep (5000);
  }
  fail_unless (took >= 0, "loopbacksrc did not follow the default to 'out'");
  GST_INFO ("followed the new default after %" G_GINT64_FORMAT " us", took);
  fail_unless (took < G_USEC_PER_SEC, "following took %" G_GINT64_FORMAT
      " us", took);
  g_mutex_lock (&r->lock);
  from = r->samples->len;
  g_mutex_unlock (&r->lock);

  player = player_start (sig, "out");
  recorder_run (r, player, 20.0);
  recorder_run (r, NULL, 0.3);
  gst_element_set_state (player, GST_STATE_NULL);
  gst_object_unref (player);

  s = get_stats (r->src);
  GST_INFO ("stats: %" GST_PTR_FORMAT, s);
  fail_unless_equals_uint64 (stat_u64 (s, "device-switches"), 1);
  fail_unless_equals_string (gst_structure_get_string (s, "device"), "out");
  fail_unless_equals_uint64 (stat_u64 (s, "frames-lost"), 0);
  fail_unless (stat_u64 (s, "discontinuities") >= 1);
  gst_structure_free (s);

  g_mutex_lock (&r->lock);
  fail_unless (r->disconts >= 2);       /* the first buffer and the switch */
  fail_unless_equals_int (r->offset_gaps, 0);
  m = correlate (sig, (gfloat *) r->samples->data + from,
      r->samples->len - from);
  g_mutex_unlock (&r->lock);
  fail_unless (m.peak > 0.95, "correlation peak %.3f", m.peak);
  fail_unless (m.worst_burst > 0.9, "a burst is missing: correlation %.3f",
      m.worst_burst);

  /* and the switch left no hole in the timeline */
  recorder_check_drift (r, 0, 2 * PERIOD_FRAMES);

  recorder_free (r);
  signal_free (sig);
}

GST_END_TEST;

/* A suspended output delivers nothing; its time is filled with silence. */
GST_START_TEST (test_suspend_fills_silence)
{
  Recorder *r;
  GstStructure *s;
  guint64 silence, captured = 0;
  guint i;

  require_pulse ();
  r = recorder_new ("out", NULL);
  recorder_play (r);
  recorder_run (r, NULL, 1.0);
  /* an idle null sink can take a while to deliver its first data (more so on
   * a loaded machine): suspend only once the capture runs */
  for (i = 0; i < 100; i++) {
    s = get_stats (r->src);
    captured = stat_u64 (s, "frames-captured");
    gst_structure_free (s);
    if (captured > 0)
      break;
    recorder_run (r, NULL, 0.1);
  }
  fail_unless (captured > 0, "the capture of 'out' never started");
  pactl ("suspend-sink out 1");
  recorder_run (r, NULL, 1.5);
  pactl ("suspend-sink out 0");
  recorder_run (r, NULL, 1.5);

  s = get_stats (r->src);
  GST_INFO ("stats: %" GST_PTR_FORMAT, s);
  silence = stat_u64 (s, "frames-silence");
  fail_unless (silence > RATE, "only %" G_GUINT64_FORMAT " frames filled for "
      "1.5 s of suspension", silence);
  fail_unless (silence < 2 * RATE);
  fail_unless (stat_u64 (s, "discontinuities") >= 1);
  fail_unless_equals_uint64 (stat_u64 (s, "frames-lost"), 0);
  gst_structure_free (s);
  recorder_check_drift (r, 0, 2 * PERIOD_FRAMES);
  recorder_free (r);
}

GST_END_TEST;

/* Both cores busy for a minute while capturing into an mp3 encoder: the
 * capture thread only copies, so nothing is lost. */
GST_START_TEST (test_busy_cpu)
{
  GstElement *player;
  Recorder *r;
  GstStructure *s;
  GPid busy[8];
  guint n_busy = MAX (2, MIN (g_get_num_processors (), G_N_ELEMENTS (busy)));
  guint i;
  guint64 captured, silence;

  require_pulse ();
  player = gst_parse_launch ("audiotestsrc is-live=true wave=pink-noise "
      "volume=0.3 ! audio/x-raw,rate=48000,channels=2 ! pulsesink device=play",
      NULL);
  fail_if (gst_element_set_state (player, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  r = recorder_new ("play", "audioconvert ! lamemp3enc ! fakesink sync=false");
  recorder_play (r);

  for (i = 0; i < n_busy; i++) {
    gchar *argv[] = { (gchar *) "sh", (gchar *) "-c",
      (gchar *) "while :; do :; done", NULL
    };
    fail_unless (g_spawn_async (NULL, argv, NULL, G_SPAWN_SEARCH_PATH |
            G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &busy[i], NULL));
  }
  recorder_run (r, NULL, 60.0);
  for (i = 0; i < n_busy; i++) {
    kill (busy[i], SIGKILL);
    waitpid (busy[i], NULL, 0);
    g_spawn_close_pid (busy[i]);
  }

  s = get_stats (r->src);
  GST_INFO ("stats after 60 s on %u busy loops: %" GST_PTR_FORMAT, n_busy, s);
  fail_unless_equals_uint64 (stat_u64 (s, "frames-lost"), 0);
  captured = stat_u64 (s, "frames-captured");
  silence = stat_u64 (s, "frames-silence");
  fail_unless (captured > 59 * RATE);
  gst_structure_free (s);
  g_mutex_lock (&r->lock);
  fail_unless_equals_int (r->offset_gaps, 0);
  /* all but what is still in the ring went downstream */
  fail_unless (r->pushed + RATE >= captured + silence);
  g_mutex_unlock (&r->lock);
  recorder_check_drift (r, 0, 2 * PERIOD_FRAMES);

  recorder_free (r);
  gst_element_set_state (player, GST_STATE_NULL);
  gst_object_unref (player);
}

GST_END_TEST;

static Suite *
loopbacksrc_suite (void)
{
  Suite *s = suite_create ("loopbacksrc");
  TCase *tc = tcase_create ("general");
  TCase *tc_switch = tcase_create ("switch");
  TCase *tc_load = tcase_create ("load");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_stats_fields);
  tcase_add_test (tc, test_capture_basics);
  tcase_add_test (tc, test_pause_resume);
  tcase_add_test (tc, test_slow_consumer_loss);
  tcase_add_test (tc, test_monitor_name);
  tcase_add_test (tc, test_no_server);
  tcase_add_test (tc, test_unknown_device);
  tcase_add_test (tc, test_wasapi_elsewhere);
  tcase_add_test (tc, test_signal);
  tcase_add_test (tc, test_input_capture);
  tcase_add_test (tc, test_suspend_fills_silence);
  tcase_add_test (tc, test_server_dies);
  tcase_add_test (tc, test_server_restarts);
  tcase_add_test (tc, test_surround);

  suite_add_tcase (s, tc_switch);
  tcase_set_timeout (tc_switch, 60);
  tcase_add_unchecked_fixture (tc_switch, NULL, restore_default_sink);
  tcase_add_test (tc_switch, test_follow_default);
  tcase_add_test (tc_switch, test_stop_mid_switch);

  suite_add_tcase (s, tc_load);
  tcase_set_timeout (tc_load, 150);
  tcase_add_test (tc_load, test_busy_cpu);
  return s;
}

int
main (int argc, char **argv)
{
  Suite *s;

  /* the tests to run, as GST_CHECKS takes them */
  if (argc > 1 && argv[1][0] != '-')
    g_setenv ("GST_CHECKS", argv[1], TRUE);
  gst_check_init (&argc, &argv);
  s = loopbacksrc_suite ();
  return gst_check_run_suite (s, "loopbacksrc", __FILE__);
}
