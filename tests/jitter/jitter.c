/* qsound — audiojitterbuffer: clock drift, network jitter, stalls and
 * reconnects, over real sockets on 127.0.0.1.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each meson test runs one of these (GST_CHECKS=<name>).  The sender's
 * "sound card" runs 0.1 % fast or slow against the receiver's clock; the
 * receiver's sink consumes at its clock's real rate (fakesink sync=true).
 * Margins are generous: a loaded 2-core machine adds jitter, and these tests
 * assert correctness, not speed.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "jitterrig.h"
#include "stallwatch.h"

#define MS (1.0)

/* A live rig on this machine's real clock loses sound when the host stops
 * running it (a virtual machine's host taking its CPUs: 15-40 ms stalls
 * are common here).  Such a loss is the host's, not the element's: the
 * watched rig below notes each "trouble" (an underrun, overrun, re-lock,
 * silence, drop or click) with its time, and a stall watch
 * (tests/stallwatch) notes the host's stalls.  A trouble is explained when
 * the host stalled this long or more in the TROUBLE_BEFORE_US before it
 * was seen; every other one fails the test as before, and so do more than
 * MAX_EXPLAINED.  The latency is judged only where nothing was troubled in
 * the CALM_US before. */
#define STALL_US        (15 * 1000)
#define TROUBLE_BEFORE_US (1500 * 1000)
#define CALM_US         (5 * G_USEC_PER_SEC)
#define MAX_EXPLAINED   3

typedef struct
{
  gint64 t_us;
  gchar what[160];
} Trouble;

typedef struct
{
  Rig *rig;
  StallWatch *watch;
  RigStats base, prev;
  guint prev_clicks;
  GArray *trouble;
} Watched;

static void
watched_init (Watched * w, Rig * rig)
{
  memset (w, 0, sizeof (*w));
  w->rig = rig;
  w->watch = stall_watch_start (STALL_US);
  w->trouble = g_array_new (FALSE, FALSE, sizeof (Trouble));
}

/* From now on every trouble counts (the lock and its settling are over). */
static void
watched_begin (Watched * w)
{
  w->base = w->prev = rig_stats (w->rig);
  rig_check_clicks_from_now (w->rig);
  w->prev_clicks = 0;
  g_array_set_size (w->trouble, 0);
}

static void
watched_note (GString * what, guint64 was, guint64 is, const gchar * name)
{
  if (is != was)
    g_string_append_printf (what, "%s%s +%" G_GUINT64_FORMAT, what->len ?
        ", " : "", name, is - was);
}

/* Sleeps @seconds, looking at the element every 50 ms for trouble. */
static void
watched_sleep (Watched * w, gdouble seconds)
{
  gint64 until = g_get_monotonic_time () + (gint64) (seconds * 1e6);

  while (g_get_monotonic_time () < until) {
    RigStats st;
    guint clicks;
    GString *what = g_string_new (NULL);

    rig_sleep (w->rig, MIN (0.05, (until - g_get_monotonic_time ()) / 1e6));
    st = rig_stats (w->rig);
    clicks = rig_clicks (w->rig);
    watched_note (what, w->prev.underruns, st.underruns, "underruns");
    watched_note (what, w->prev.overruns, st.overruns, "overruns");
    watched_note (what, w->prev.corrections, st.corrections, "re-locks");
    watched_note (what, w->prev.silence, st.silence, "silence samples");
    watched_note (what, w->prev.dropped, st.dropped, "dropped samples");
    watched_note (what, w->prev_clicks, clicks, "clicks");
    if (what->len) {
      Trouble t;

      t.t_us = g_get_monotonic_time ();
      g_strlcpy (t.what, what->str, sizeof (t.what));
      g_array_append_val (w->trouble, t);
    }
    g_string_free (what, TRUE);
    w->prev = st;
    w->prev_clicks = clicks;
  }
}

/* TRUE when nothing was troubled in the CALM_US before now. */
static gboolean
watched_calm (Watched * w)
{
  gint64 now = g_get_monotonic_time ();

  return w->trouble->len == 0 || now - g_array_index (w->trouble, Trouble,
      w->trouble->len - 1).t_us > CALM_US;
}

/* Every trouble since watched_begin was the host's; fails the test
 * otherwise.  Prints what the host did. */
static void
watched_judge (Watched * w)
{
  GArray *stalls = stall_watch_events (w->watch);
  guint i, unexplained = 0, incidents = 0;
  gint64 longest = 0, last = 0;
  gdouble steal;
  gchar steal_text[16];

  for (i = 0; i < stalls->len; i++)
    longest = MAX (longest, g_array_index (stalls, StallEvent, i).length_us);
  steal = stall_watch_steal (w->watch);
  if (steal < 0.0)
    g_strlcpy (steal_text, "unknown", sizeof (steal_text));
  else
    g_snprintf (steal_text, sizeof (steal_text), "%.1f %%", steal * 100.0);
  g_print ("host stalls of %d ms or more: %u (longest %.0f ms), host steal "
      "%s%s\n", STALL_US / 1000, stalls->len, longest / 1e3, steal_text,
      stall_watch_realtime (w->watch) ? "" : " (the watch could not run "
      "real-time, so it explains nothing)");
  g_array_unref (stalls);
  for (i = 0; i < w->trouble->len; i++) {
    const Trouble *t = &g_array_index (w->trouble, Trouble, i);
    StallEvent e;

    if (stall_watch_realtime (w->watch) && stall_watch_find (w->watch,
            t->t_us - TROUBLE_BEFORE_US, t->t_us, &e)) {
      g_print ("  %s: the host stalled %.0f ms (cpu %d) %.2f s before\n",
          t->what, e.length_us / 1e3, e.cpu, (t->t_us - e.start_us) / 1e6);
      /* what one stall does is often seen over a few looks */
      if (i == 0 || t->t_us - last > G_USEC_PER_SEC)
        incidents++;
      last = t->t_us;
    } else {
      g_print ("  %s: with no host stall\n", t->what);
      unexplained++;
    }
  }
  fail_unless (unexplained == 0, "%u troubles the host did not explain",
      unexplained);
  fail_unless (incidents <= MAX_EXPLAINED, "the host stalled the rig %u "
      "times: too often to judge it", incidents);
}

static void
watched_clear (Watched * w)
{
  stall_watch_free (w->watch);
  g_array_unref (w->trouble);
}

static gchar *
client_props (gint port)
{
  return g_strdup_printf ("mode=client host=127.0.0.1 port=%d", port);
}

static void
rig_free (Rig * rig)
{
  rig_stop_receiver (rig);
  rig_stop_sender (rig);
  rig_stop_proxy (rig);
  g_mutex_clear (&rig->lock);
  g_free (rig);
}

static Rig *
rig_new (void)
{
  Rig *rig = g_new0 (Rig, 1);

  g_mutex_init (&rig->lock);
  return rig;
}

/* The sender drifts by (factor - 1); over @seconds the latency must hold. */
static void
check_drift (gdouble factor, gdouble seconds)
{
  Rig *rig = rig_new ();
  Watched w;
  GstClockTime target = 60 * GST_MSECOND;
  gint port = rig_start_sender (rig, factor);
  gchar *props = client_props (port);
  gdouble expect_ppm = (factor - 1.0) * 1e6, worst = 0.0, ppm_sum = 0.0;
  guint ppm_n = 0;
  RigStats st;
  guint t;

  watched_init (&w, rig);
  rig_start_receiver (rig, props, target, NULL);
  g_free (props);
  /* locked and settled (the first second after a lock) by then; count
   * from there */
  rig_sleep (rig, 3.0);
  watched_begin (&w);
  for (t = 3; t < seconds; t++) {
    watched_sleep (&w, 1.0);
    st = rig_stats (rig);
    GST_INFO ("t=%2u s latency %.2f ms (window %.2f) correction %.0f ppm", t
        + 1, st.latency_ms, st.window_ms, st.ppm);
    /* after convergence (a few time constants of the controller) */
    if (t + 1 >= 25 && watched_calm (&w)) {
      worst = MAX (worst, fabs (st.latency_ms - target / 1e6));
      ppm_sum += st.ppm;
      ppm_n++;
    }
  }
  st = rig_stats (rig);
  g_print ("drift %+.0f ppm over %.0f s: latency %.2f ms (target %.0f), worst "
      "deviation after 25 s %.2f ms, mean correction after 25 s %.0f ppm (now "
      "%.0f; %u calm seconds), clocks measured %+.1f ppm apart over %.0f s, "
      "underruns %u, overruns %u, re-locks %u, "
      "silence %" G_GUINT64_FORMAT ", dropped %" G_GUINT64_FORMAT
      ", clicks %u\n", expect_ppm, seconds, st.latency_ms, target / 1e6,
      worst, ppm_sum / MAX (ppm_n, 1), st.ppm, ppm_n, st.clock_ppm,
      st.clock_span, st.underruns,
      st.overruns, st.corrections, st.silence - w.base.silence,
      st.dropped - w.base.dropped, rig_clicks (rig));

  /* no underrun, overrun, re-lock, silence, drop or click but the host's */
  watched_judge (&w);
  fail_unless (ppm_n >= 10, "only %u calm seconds to judge", ppm_n);
  fail_unless (worst < 5.0 * MS, "latency strayed %.2f ms from the target",
      worst);
  /* the controller found the drift: on average within 25 % of the truth */
  fail_unless (fabs (ppm_sum / ppm_n - expect_ppm) < 0.25 * fabs (expect_ppm),
      "mean correction %.0f ppm, drift %.0f ppm", ppm_sum / ppm_n, expect_ppm);
  /* and measured it, apart from the correction: within 10 % */
  fail_unless (st.clock_span >= 15.0, "no clock measurement (%.1f s)",
      st.clock_span);
  fail_unless (fabs (st.clock_ppm - expect_ppm) < 0.1 * fabs (expect_ppm),
      "clocks measured %.0f ppm apart, drift %.0f ppm", st.clock_ppm,
      expect_ppm);
  watched_clear (&w);
  rig_free (rig);
}

GST_START_TEST (test_drift_fast)
{
  check_drift (1.001, 60.0);
}

GST_END_TEST;

GST_START_TEST (test_drift_slow)
{
  check_drift (0.999, 60.0);
}

GST_END_TEST;

/* The control: with correction off the same drift does move the latency,
 * so the measurement sees it (about 1 ms a second). */
GST_START_TEST (test_drift_uncorrected)
{
  Rig *rig = rig_new ();
  Watched w;
  gint port = rig_start_sender (rig, 1.001);
  gchar *props = client_props (port);
  RigStats a, b;
  guint attempt;

  watched_init (&w, rig);
  rig_start_receiver (rig, props, 60 * GST_MSECOND, "max-correction=0");
  g_free (props);
  rig_sleep (rig, 4.0);
  /* a re-lock puts the latency back on the target: a measurement the host
   * troubled so is void, and made again (up to three times) */
  for (attempt = 1;; attempt++) {
    watched_begin (&w);
    a = rig_stats (rig);
    watched_sleep (&w, 16.0);
    b = rig_stats (rig);
    g_print ("uncorrected +1000 ppm: latency %.2f ms, then %.2f ms 16 s "
        "later (window %.2f -> %.2f), correction %.0f ppm, clocks measured "
        "%+.1f ppm apart over %.0f s\n", a.latency_ms, b.latency_ms,
        a.window_ms, b.window_ms, b.ppm, b.clock_ppm, b.clock_span);
    watched_judge (&w);
    if (w.trouble->len == 0)
      break;
    fail_unless (attempt < 3, "the host troubled all three measurements");
  }
  fail_unless_equals_float (b.ppm, 0.0);
  /* nothing corrected, and yet the difference is measured */
  fail_unless (b.clock_span >= 15.0 && fabs (b.clock_ppm - 1000.0) < 100.0,
      "clocks measured %.0f ppm apart over %.0f s, drift 1000 ppm",
      b.clock_ppm, b.clock_span);
  /* 16 s at 1000 ppm is 16 ms */
  fail_unless (b.window_ms - a.window_ms > 10.0,
      "the latency moved %.2f ms", b.window_ms - a.window_ms);
  fail_unless (b.window_ms - a.window_ms < 25.0,
      "the latency moved %.2f ms", b.window_ms - a.window_ms);
  watched_clear (&w);
  rig_free (rig);
}

GST_END_TEST;

/* Each chunk held 20 +- 10 ms by the proxy: absorbed without a glitch. */
GST_START_TEST (test_network_jitter)
{
  Rig *rig = rig_new ();
  Watched w;
  GstClockTime target = 60 * GST_MSECOND;
  gint port = rig_start_sender (rig, 1.0);
  gint pport = rig_start_proxy (rig, port, "--delay-ms 20 --jitter-ms 10");
  gchar *props = client_props (pport);
  gdouble worst = 0.0;
  RigStats st;
  guint t, calm = 0;

  watched_init (&w, rig);
  rig_start_receiver (rig, props, target, NULL);
  g_free (props);
  rig_sleep (rig, 3.0);
  watched_begin (&w);
  for (t = 3; t < 30; t++) {
    watched_sleep (&w, 1.0);
    st = rig_stats (rig);
    if (t + 1 >= 15 && watched_calm (&w)) {
      worst = MAX (worst, fabs (st.latency_ms - target / 1e6));
      calm++;
    }
  }
  st = rig_stats (rig);
  g_print ("jitter 20+-10 ms, target 60 ms: latency %.2f ms, worst deviation "
      "after 15 s %.2f ms (%u calm seconds), correction %.0f ppm, underruns "
      "%u, re-locks %u, silence %" G_GUINT64_FORMAT ", dropped %"
      G_GUINT64_FORMAT " (after 3 s), clicks %u\n", st.latency_ms, worst,
      calm, st.ppm, st.underruns, st.corrections, st.silence - w.base.silence,
      st.dropped - w.base.dropped, rig_clicks (rig));
  watched_judge (&w);
  fail_unless (calm >= 8, "only %u calm seconds to judge", calm);
  fail_unless (worst < 10.0 * MS, "latency strayed %.2f ms", worst);
  /* jitter is not drift: the correction stays small */
  fail_unless (fabs (st.ppm) < 1000.0, "correction %.0f ppm", st.ppm);
  watched_clear (&w);
  rig_free (rig);
}

GST_END_TEST;

/* The link stalls 300 ms every 4 s: each gap is filled with silence and
 * counted, and the receiver is back on its target within a second. */
GST_START_TEST (test_stall_relock)
{
  Rig *rig = rig_new ();
  GstClockTime target = 60 * GST_MSECOND;
  gint port = rig_start_sender (rig, 1.0);
  gint pport = rig_start_proxy (rig, port,
      "--delay-ms 20 --jitter-ms 10 --stall-ms 300 --stall-every 4");
  gchar *props = client_props (pport);
  RigStats st, prev;
  guint stalls = 0, relocked = 0;
  gint64 t0;

  rig_start_receiver (rig, props, target, NULL);
  g_free (props);
  t0 = g_get_monotonic_time ();
  rig_sleep (rig, 1.0);
  prev = rig_stats (rig);
  while (g_get_monotonic_time () - t0 < 22 * G_TIME_SPAN_SECOND) {
    rig_sleep (rig, 0.05);
    st = rig_stats (rig);
    if (st.underruns > prev.underruns) {
      gdouble gap_ms = 0.0;
      RigStats before = prev;

      /* a stall: judge the receiver 1.3 s after it ran dry (the stall
       * itself lasts ~0.25 s of that) */
      stalls++;
      rig_sleep (rig, 1.3);
      st = rig_stats (rig);
      gap_ms = (st.silence - before.silence) * 1000.0 / RIG_RATE;
      g_print ("stall %u at %.1f s: silence %.0f ms, dropped %.0f ms, "
          "re-locks +%u, latency %.2f ms (window %.2f) 1.3 s after\n",
          stalls, (g_get_monotonic_time () - t0) / 1e6 - 1.3, gap_ms,
          (st.dropped - before.dropped) * 1000.0 / RIG_RATE,
          st.corrections - before.corrections, st.latency_ms, st.window_ms);
      fail_unless (gap_ms > 150.0, "a 300 ms stall filled %.0f ms", gap_ms);
      fail_unless (st.corrections > before.corrections);
      if (fabs (st.window_ms - target / 1e6) < 15.0)
        relocked++;
    }
    prev = st;
  }
  g_print ("%u stalls, %u re-locked within 1.3 s of running dry; underruns "
      "%u, re-locks %u\n", stalls, relocked, st.underruns, st.corrections);
  fail_unless (stalls >= 3, "only %u stalls seen", stalls);
  fail_unless_equals_int (relocked, stalls);
  rig_free (rig);
}

GST_END_TEST;

/* The sender goes away for 2 s and a new one comes: silence meanwhile, then
 * the receiver re-locks to the target within a second. */
GST_START_TEST (test_reconnect_relock)
{
  Rig *rig = rig_new ();
  GstClockTime target = 60 * GST_MSECOND;
  gint lport = 0;
  gchar *props;
  RigStats a, b;
  gint64 t_start;
  gboolean relocked = FALSE;

  /* the receiver listens; the sender connects to it */
  rig_start_receiver (rig, "mode=server host=127.0.0.1 port=0", target, NULL);
  g_object_get (rig->tcpsrc, "current-port", &lport, NULL);
  fail_unless (lport > 0);
  props = g_strdup_printf ("appsrc name=in format=time is-live=true "
      "caps=audio/x-raw,format=F32LE,rate=48000,channels=1,layout=interleaved"
      " ! framedtcpsink name=net mode=client host=127.0.0.1 port=%d", lport);
  rig->factor = 1.0;
  rig->sender = rig_launch (props);
  rig->appsrc = gst_bin_get_by_name (GST_BIN (rig->sender), "in");
  gst_element_set_state (rig->sender, GST_STATE_PLAYING);
  rig->feeder = g_thread_new ("feeder", rig_feed, rig);
  rig_sleep (rig, 4.0);
  a = rig_stats (rig);
  fail_unless (fabs (a.window_ms - 60.0) < 15.0, "latency %.2f", a.window_ms);

  rig_stop_sender (rig);
  rig_sleep (rig, 2.0);
  b = rig_stats (rig);
  fail_unless (b.underruns > a.underruns);
  fail_unless (b.silence - a.silence > RIG_RATE, "%" G_GUINT64_FORMAT
      " samples of silence in 2 s", b.silence - a.silence);

  rig->sender = rig_launch (props);
  g_free (props);
  rig->appsrc = gst_bin_get_by_name (GST_BIN (rig->sender), "in");
  g_atomic_int_set (&rig->stop, 0);
  gst_element_set_state (rig->sender, GST_STATE_PLAYING);
  rig->feeder = g_thread_new ("feeder", rig_feed, rig);
  t_start = g_get_monotonic_time ();
  /* connecting takes a moment; then within a second it is on target */
  while (g_get_monotonic_time () - t_start < 3 * G_TIME_SPAN_SECOND) {
    rig_sleep (rig, 0.1);
    b = rig_stats (rig);
    if (b.corrections > a.corrections && fabs (b.window_ms - 60.0) < 15.0) {
      relocked = TRUE;
      break;
    }
  }
  g_print ("reconnect: re-locked %s after %.2f s, latency %.2f ms (window "
      "%.2f), re-locks %u, underruns %u\n", relocked ? "yes" : "NO",
      (g_get_monotonic_time () - t_start) / 1e6, b.latency_ms, b.window_ms,
      b.corrections, b.underruns);
  fail_unless (relocked);
  rig_sleep (rig, 2.0);
  b = rig_stats (rig);
  fail_unless (fabs (b.window_ms - 60.0) < 15.0, "latency %.2f", b.window_ms);
  rig_free (rig);
}

GST_END_TEST;

/* The same drift through a real codec: the element works on what the
 * decoder makes, whatever its frame size. */
static void
check_codec (const gchar * encoder)
{
  Rig *rig = rig_new ();
  Watched w;
  GstClockTime target = 60 * GST_MSECOND;
  gint port;
  gchar *props;
  RigStats st;
  gdouble worst = 0.0;
  guint t, calm = 0;

  rig->encoder = encoder;
  port = rig_start_sender (rig, 1.001);
  props = client_props (port);
  watched_init (&w, rig);
  rig_start_receiver (rig, props, target, NULL);
  g_free (props);
  rig_sleep (rig, 3.0);
  watched_begin (&w);
  for (t = 3; t < 25; t++) {
    watched_sleep (&w, 1.0);
    st = rig_stats (rig);
    if (t + 1 >= 12 && watched_calm (&w)) {
      worst = MAX (worst, fabs (st.latency_ms - target / 1e6));
      calm++;
    }
  }
  st = rig_stats (rig);
  g_print ("%s, +1000 ppm: latency %.2f ms, worst deviation after 12 s "
      "%.2f ms (%u calm seconds), correction %.0f ppm, underruns %u, "
      "re-locks %u, silence %" G_GUINT64_FORMAT ", dropped %"
      G_GUINT64_FORMAT " (after 3 s), %" G_GUINT64_FORMAT " samples out\n",
      encoder, st.latency_ms, worst, calm, st.ppm, st.underruns,
      st.corrections, st.silence - w.base.silence,
      st.dropped - w.base.dropped, st.samples_out);
  fail_unless (st.samples_out > 20 * RIG_RATE);
  watched_judge (&w);
  fail_unless (calm >= 6, "only %u calm seconds to judge", calm);
  fail_unless (worst < 5.0 * MS, "latency strayed %.2f ms", worst);
  watched_clear (&w);
  rig_free (rig);
}

GST_START_TEST (test_codec_opus)
{
  check_codec ("opusenc");
}

GST_END_TEST;

GST_START_TEST (test_codec_mp3)
{
  check_codec ("lamemp3enc target=bitrate bitrate=96 cbr=true");
}

GST_END_TEST;

/* A scripted receiver on a test clock: every 10 ms step pushes one 10 ms
 * buffer of a sine, except as the case says (a field left 0 is no event). */
typedef struct
{
  gdouble freq;
  guint burst_at, burst_n;      /* at step burst_at, burst_n more arrive at
                                 * once */
  guint gap_at, gap_n;          /* from step gap_at, gap_n buffers are lost */
  gboolean gap_late;            /* they leave their time empty (lost on the
                                 * way); else the sender skipped ahead and the
                                 * next ones come on time */
  guint late_at;                /* this step's buffer is held two steps
                                 * (20 ms) and comes with the next two */
  guint gate;                   /* the sine sounds for this many buffers, then
                                 * is silent for as many, and so on */
} ScriptCase;

typedef struct
{
  guint64 in, dropped, silence;
  gdouble energy_in;            /* sum of squares */
  guint corrections, underruns, gaps, clicks;
  GArray *out;
} Script;

static void
run_script (Script * r, const ScriptCase * sc)
{
  GstHarness *h = gst_harness_new ("audiojitterbuffer");
  gdouble phase_step = 2.0 * G_PI * sc->freq / RIG_RATE;
  GstStructure *st;
  guint64 k, seq = 0;
  GstBuffer *buf;
  guint i;

  memset (r, 0, sizeof (*r));
  r->out = g_array_new (FALSE, FALSE, sizeof (gfloat));
  gst_harness_use_testclock (h);
  gst_harness_set_src_caps_str (h, "audio/x-raw,format=F32LE,rate=48000,"
      "channels=1,layout=interleaved");
  g_object_set (h->element, "latency", (guint64) 60 * GST_MSECOND, NULL);

  for (k = 0; k < 300; k++) {
    guint n = sc->burst_n && k == sc->burst_at ? sc->burst_n + 1 : 1, b;
    gboolean discont = FALSE;

    if (sc->late_at && k >= sc->late_at && k < sc->late_at + 2)
      n = 0;
    else if (sc->late_at && k == sc->late_at + 2)
      n = 3;
    if (sc->gap_n && sc->gap_late && k >= sc->gap_at
        && k < sc->gap_at + sc->gap_n) {
      n = 0;
      seq++;
    } else if (sc->gap_n && !sc->gap_late && k == sc->gap_at) {
      seq += sc->gap_n;
    }
    discont = sc->gap_n && k == sc->gap_at + (sc->gap_late ? sc->gap_n : 0);
    for (b = 0; b < n; b++) {
      GstMapInfo map;

      buf = gst_buffer_new_allocate (NULL, RIG_CHUNK * sizeof (gfloat), NULL);
      gst_buffer_map (buf, &map, GST_MAP_WRITE);
      for (i = 0; i < RIG_CHUNK; i++) {
        gfloat v = sc->gate && (seq / sc->gate) % 2 ? 0.0f :
            RIG_AMPLITUDE * sin (phase_step * (gdouble) (seq * RIG_CHUNK + i));

        ((gfloat *) map.data)[i] = v;
        r->energy_in += (gdouble) v * v;
      }
      gst_buffer_unmap (buf, &map);
      GST_BUFFER_PTS (buf) = seq * 10 * GST_MSECOND;
      GST_BUFFER_DURATION (buf) = 10 * GST_MSECOND;
      if (discont && b == 0)
        GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
      seq++;
      r->in += RIG_CHUNK;
      fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
    }
    fail_unless (gst_harness_set_time (h, (k + 1) * 10 * GST_MSECOND));
    /* the test clock runs faster than real time: let the element's thread
     * catch up (it sends each chunk 2 ms before it is due: timestamp plus
     * the target) before the clock moves on */
    if (k >= 6) {
      guint64 due = (k + 1 - 6) * RIG_CHUNK, done = 0;
      gint64 until = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

      do {
        g_object_get (h->element, "stats", &st, NULL);
        gst_structure_get_uint64 (st, "samples-out", &done);
        gst_structure_free (st);
        if (done < due)
          g_usleep (200);
      } while (done < due && g_get_monotonic_time () < until);
      fail_unless (done >= due, "%" G_GUINT64_FORMAT " samples out by %"
          G_GUINT64_FORMAT " ms", done, (k + 1) * 10);
    }
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  for (;;) {
    GstEvent *ev;

    while ((buf = gst_harness_try_pull (h))) {
      GstMapInfo map;

      gst_buffer_map (buf, &map, GST_MAP_READ);
      g_array_append_vals (r->out, map.data, map.size / sizeof (gfloat));
      gst_buffer_unmap (buf, &map);
      gst_buffer_unref (buf);
    }
    ev = gst_harness_try_pull_event (h);
    if (ev && GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
      gst_event_unref (ev);
      break;
    }
    if (ev)
      gst_event_unref (ev);
    else
      g_usleep (1000);
  }
  while ((buf = gst_harness_try_pull (h))) {
    GstMapInfo map;

    gst_buffer_map (buf, &map, GST_MAP_READ);
    g_array_append_vals (r->out, map.data, map.size / sizeof (gfloat));
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
  }

  g_object_get (h->element, "stats", &st, NULL);
  gst_structure_get (st, "dropped", G_TYPE_UINT64, &r->dropped,
      "silence-filled", G_TYPE_UINT64, &r->silence,
      "corrections", G_TYPE_UINT, &r->corrections,
      "underruns", G_TYPE_UINT, &r->underruns,
      "gaps", G_TYPE_UINT, &r->gaps, NULL);
  gst_structure_free (st);
  /* the input stops mid-wave at EOS, so its last few frames (the
   * resampler's filter length) ring: not a click of ours */
  for (i = 2; i + 64 < r->out->len; i++) {
    gfloat *y = (gfloat *) r->out->data;

    if (fabsf (y[i] - 2.0f * y[i - 1] + y[i - 2]) > RIG_CLICK)
      r->clicks++;
  }
  gst_harness_teardown (h);
}

/* Everything that went in came out as it was: no silence, nothing dropped,
 * no underrun, no re-lock. */
static void
script_check_untouched (const Script * r)
{
  fail_unless_equals_uint64 (r->silence, 0);
  fail_unless_equals_uint64 (r->dropped, 0);
  fail_unless_equals_int (r->underruns, 0);
  fail_unless_equals_int (r->corrections, 0);
  /* the resampler's ratio is steered: a few frames either way */
  fail_unless (r->out->len + 16 >= r->in && r->out->len <= r->in + 16,
      "%u out for %" G_GUINT64_FORMAT " in", r->out->len, r->in);
}

/* A stale backlog arrives in a burst (300 ms at once, on a test clock): it
 * is dropped in one re-lock, spliced with a crossfade, so the output sine
 * has no click. */
GST_START_TEST (test_backlog_crossfade)
{
  /* 300 ms is no whole number of 437 Hz periods: a bare splice would jump */
  ScriptCase sc = {.freq = 437.0,.burst_at = 150,.burst_n = 30 };
  Script r;

  run_script (&r, &sc);
  g_print ("backlog burst: %" G_GUINT64_FORMAT " samples in, %u out, %"
      G_GUINT64_FORMAT " dropped (%.0f ms), %" G_GUINT64_FORMAT
      " silence, re-locks %u, underruns %u, clicks %u\n", r.in, r.out->len,
      r.dropped, r.dropped * 1000.0 / RIG_RATE, r.silence, r.corrections,
      r.underruns, r.clicks);
  fail_unless_equals_int (r.corrections, 1);
  fail_unless_equals_int (r.underruns, 0);
  fail_unless_equals_uint64 (r.silence, 0);
  /* the burst is 300 ms; the re-lock drops what is beyond the target */
  fail_unless (r.dropped > 0.2 * RIG_RATE && r.dropped < 0.35 * RIG_RATE);
  /* and nothing else went: no drift to correct here */
  fail_unless (r.out->len + r.dropped + 16 >= r.in, "%" G_GUINT64_FORMAT
      " samples unaccounted for", r.in - r.out->len - r.dropped);
  fail_unless_equals_int (r.clicks, 0);
  g_array_unref (r.out);
}

GST_END_TEST;

/* A backlog (40 ms at once) arrives while a tone sounds; the tone sounds
 * for 600 ms, pauses for 600 ms, and so on.  The re-lock waits for the
 * pause and cuts the backlog out of the silence: all of the tone plays. */
GST_START_TEST (test_backlog_cut_in_pause)
{
  ScriptCase sc = {.freq = RIG_FREQ,.burst_at = 122,.burst_n = 4,.gate = 60 };
  Script r;
  gdouble energy_out = 0.0;
  guint i;

  run_script (&r, &sc);
  for (i = 0; i < r.out->len; i++)
    energy_out += (gdouble) g_array_index (r.out, gfloat, i) *
        g_array_index (r.out, gfloat, i);
  g_print ("backlog in a gated tone: %" G_GUINT64_FORMAT " samples in, %u "
      "out, %" G_GUINT64_FORMAT " dropped (%.0f ms), re-locks %u, energy "
      "out/in %.4f\n", r.in, r.out->len, r.dropped, r.dropped * 1000.0 /
      RIG_RATE, r.corrections, energy_out / r.energy_in);
  fail_unless_equals_int (r.corrections, 1);
  fail_unless_equals_int (r.underruns, 0);
  fail_unless_equals_uint64 (r.silence, 0);
  fail_unless (r.dropped > 0.025 * RIG_RATE && r.dropped < 0.045 * RIG_RATE,
      "%" G_GUINT64_FORMAT " frames dropped", r.dropped);
  /* a cut through the tone loses 4 of its 10 ms buffers (2.7 %) */
  fail_unless (fabs (energy_out / r.energy_in - 1.0) < 0.002,
      "energy out/in %.4f", energy_out / r.energy_in);
  g_array_unref (r.out);
}

GST_END_TEST;

/* 30 ms of frames lost on the way (nothing arrives for 30 ms, then DISCONT
 * and the timestamps jump), within the jitter room: that much silence,
 * counted, and the timeline kept.
 *
 * The silence is how late the audio after the gap came: the smoothed room
 * less the room at that arrival.  The room read at one instant wobbles by
 * a fraction of a millisecond as the ratio is steered, and by how far the
 * element's thread has got with its output on the test clock (it runs
 * ahead of the clock): 40 quiet runs gave 1439 frames of silence for the
 * 1440 of the gap, and under three busy loops 3 in 30 gave 1424-1440,
 * with the output 1434-1444 frames longer than the input in every run.
 * The controller steers back what the silence missed.  So the silence is
 * judged to GAP_WOBBLE, and the timeline kept (the output longer than the
 * input by the gap) to the steering's few frames. */
#define GAP_WOBBLE      (RIG_RATE / 2000)       /* 0.5 ms */

GST_START_TEST (test_gap_silence)
{
  ScriptCase sc = {.freq = RIG_FREQ,.gap_at = 150,.gap_n = 3,.gap_late =
        TRUE };
  Script r;
  guint64 gap = 3 * RIG_CHUNK;

  run_script (&r, &sc);
  g_print ("gap of 30 ms: %" G_GUINT64_FORMAT " samples in, %u out, %"
      G_GUINT64_FORMAT " silence, %" G_GUINT64_FORMAT " dropped, gaps %u, "
      "re-locks %u, underruns %u\n", r.in, r.out->len, r.silence, r.dropped,
      r.gaps, r.corrections, r.underruns);
  fail_unless_equals_int (r.gaps, 1);
  /* as much as the audio came late, measured */
  fail_unless (r.silence + GAP_WOBBLE >= gap && r.silence <= gap + 2, "%"
      G_GUINT64_FORMAT " frames of silence for a gap of %" G_GUINT64_FORMAT,
      r.silence, gap);
  fail_unless_equals_int (r.underruns, 0);
  fail_unless_equals_int (r.corrections, 0);
  fail_unless_equals_uint64 (r.dropped, 0);
  /* the timeline kept: the gap's time is in the output, all of it */
  fail_unless (r.out->len + 16 >= r.in + gap && r.out->len <= r.in + gap + 16,
      "%u out for %" G_GUINT64_FORMAT " in and a gap of %" G_GUINT64_FORMAT,
      r.out->len, r.in, gap);
  g_array_unref (r.out);
}

GST_END_TEST;

/* The sender skipped 30 ms ahead (the timestamps jump, the audio comes on
 * time): counted as a gap, but no silence, nothing dropped, no re-lock. */
GST_START_TEST (test_gap_skip_ahead)
{
  ScriptCase sc = {.freq = RIG_FREQ,.gap_at = 150,.gap_n = 3 };
  Script r;

  run_script (&r, &sc);
  g_print ("skip ahead 30 ms: %" G_GUINT64_FORMAT " samples in, %u out, %"
      G_GUINT64_FORMAT " silence, %" G_GUINT64_FORMAT " dropped, gaps %u, "
      "re-locks %u, underruns %u\n", r.in, r.out->len, r.silence, r.dropped,
      r.gaps, r.corrections, r.underruns);
  fail_unless_equals_int (r.gaps, 1);
  script_check_untouched (&r);
  g_array_unref (r.out);
}

GST_END_TEST;

/* One buffer comes 20 ms late in the first second, while the element is
 * still placing its output: jitter within the target, so the lock stays
 * where it was (the sound server here holds the capture that long now and
 * then; taken for placement, it left the latency 10-20 ms high, steered
 * out only over tens of seconds). */
GST_START_TEST (test_straggler_while_locking)
{
  ScriptCase sc = {.freq = RIG_FREQ,.late_at = 50 };
  Script r;

  run_script (&r, &sc);
  g_print ("straggler at 0.5 s: %" G_GUINT64_FORMAT " samples in, %u out, %"
      G_GUINT64_FORMAT " silence, %" G_GUINT64_FORMAT " dropped, re-locks "
      "%u, underruns %u\n", r.in, r.out->len, r.silence, r.dropped,
      r.corrections, r.underruns);
  script_check_untouched (&r);
  g_array_unref (r.out);
}

GST_END_TEST;

/* LATENCY queries add the target; the element is live-transparent. */
GST_START_TEST (test_latency_query)
{
  GstElement *p = rig_launch ("audiotestsrc is-live=true ! "
      "audio/x-raw,format=S16LE,rate=48000,channels=2 ! "
      "audiojitterbuffer name=jb latency=40000000 ! fakesink name=sink "
      "sync=true");
  GstElement *jb = gst_bin_get_by_name (GST_BIN (p), "jb");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GstPad *pad = gst_element_get_static_pad (jb, "src");
  GstQuery *q = gst_query_new_latency ();
  GstClockTime min, max;
  gboolean live;
  GstStructure *s;
  guint64 out = 0;

  gst_element_set_state (p, GST_STATE_PLAYING);
  fail_unless (gst_element_get_state (p, NULL, NULL, 5 * GST_SECOND) ==
      GST_STATE_CHANGE_SUCCESS);
  g_usleep (G_USEC_PER_SEC);
  fail_unless (gst_pad_query (pad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  fail_unless (live);
  /* audiotestsrc reports one buffer (10 ms at these caps) */
  fail_unless (min >= 40 * GST_MSECOND && min <= 40 * GST_MSECOND +
      GST_SECOND / 10, "min latency %" GST_TIME_FORMAT, GST_TIME_ARGS (min));
  /* the target can change while playing; the query follows */
  g_object_set (jb, "latency", (guint64) 90 * GST_MSECOND, NULL);
  {
    GstClockTime min2;

    fail_unless (gst_pad_query (pad, q));
    gst_query_parse_latency (q, &live, &min2, &max);
    fail_unless_equals_uint64 (min2, min + 50 * GST_MSECOND);
  }
  g_object_get (jb, "stats", &s, NULL);
  gst_structure_get_uint64 (s, "samples-out", &out);
  fail_unless (out > 48000 / 2, "only %" G_GUINT64_FORMAT " samples out", out);
  gst_structure_free (s);
  gst_query_unref (q);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gst_object_unref (jb);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
}

GST_END_TEST;

/* Not live: everything goes through, nothing invented, then EOS. */
static GstPadProbeReturn
count_frames (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  *(guint64 *) data += gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info))
      / sizeof (gfloat);
  return GST_PAD_PROBE_OK;
}

/* A source that is not live sends its audio while the pipeline prerolls,
 * when a clock is already set and the base time is not: the element must
 * not take that clock's time for running time (it once read the machine's
 * uptime there and filled hours of silence).  Ten seconds come faster than
 * they play: what is beyond the FIFO's room is dropped and counted. */
GST_START_TEST (test_not_live_preroll)
{
  GstElement *p = gst_parse_launch ("audiotestsrc num-buffers=1000 "
      "samplesperbuffer=480 ! audio/x-raw,format=F32LE,rate=48000,channels=1 "
      "! audiojitterbuffer name=jitter ! fakesink name=sink sync=false", NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GstElement *jitter = gst_bin_get_by_name (GST_BIN (p), "jitter");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  GstBus *bus = gst_element_get_bus (p);
  GstStructure *st;
  GstMessage *msg;
  guint64 out = 0, in = 1000 * 480, dropped = 0, silence = 0;

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_frames, &out, NULL);
  gst_element_set_state (p, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no EOS within 30 s");
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  g_object_get (jitter, "stats", &st, NULL);
  fail_unless (gst_structure_get_uint64 (st, "dropped", &dropped));
  fail_unless (gst_structure_get_uint64 (st, "silence-filled", &silence));
  gst_structure_free (st);
  gst_element_set_state (p, GST_STATE_NULL);
  printf ("not live: %" G_GUINT64_FORMAT " frames in, %" G_GUINT64_FORMAT
      " out, %" G_GUINT64_FORMAT " dropped, %" G_GUINT64_FORMAT " silence\n",
      in, out, dropped, silence);
  /* every frame played or counted as dropped (but a frame or so of the
   * resampler's ratio, never exactly 1), and no more silence than the
   * target (60 ms) */
  fail_unless (silence <= 48 * 60, "%" G_GUINT64_FORMAT " frames of silence",
      silence);
  fail_unless (out + dropped + 8 >= in + silence &&
      out + dropped <= in + silence, "%" G_GUINT64_FORMAT " out + %"
      G_GUINT64_FORMAT " dropped of %" G_GUINT64_FORMAT " in", out, dropped,
      in);
  gst_object_unref (bus);
  gst_object_unref (pad);
  gst_object_unref (jitter);
  gst_object_unref (sink);
  gst_object_unref (p);
}

GST_END_TEST;

GST_START_TEST (test_drain_eos)
{
  GstHarness *h = gst_harness_new ("audiojitterbuffer");
  GstBuffer *buf;
  guint64 in = 0, out = 0;
  guint i;

  gst_harness_set_src_caps_str (h,
      "audio/x-raw,format=S16LE,rate=8000,channels=1,layout=interleaved");
  for (i = 0; i < 10; i++) {
    buf = gst_buffer_new_allocate (NULL, 800 * 2, NULL);
    gst_buffer_memset (buf, 0, 0x10, 800 * 2);
    GST_BUFFER_PTS (buf) = i * GST_SECOND / 10;
    GST_BUFFER_DURATION (buf) = GST_SECOND / 10;
    in += 800;
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  for (;;) {
    GstEvent *ev;

    buf = gst_harness_try_pull (h);
    if (buf) {
      GstMapInfo map;
      gsize k;

      gst_buffer_map (buf, &map, GST_MAP_READ);
      for (k = 0; k < map.size / 2; k++) {
        /* the interior is the input, through the resampler at a ratio of
         * 1 (its filter's edges see nothing before and after): to a unit
         * of the last place */
        if (out + k > 64 && out + k < in - 64)
          fail_unless (ABS (((gint16 *) map.data)[k] - 0x1010) <= 1,
              "sample %" G_GUINT64_FORMAT ": %d", out + k,
              ((gint16 *) map.data)[k]);
      }
      out += map.size / 2;
      gst_buffer_unmap (buf, &map);
      gst_buffer_unref (buf);
      continue;
    }
    ev = gst_harness_try_pull_event (h);
    if (ev && GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
      gst_event_unref (ev);
      break;
    }
    if (ev)
      gst_event_unref (ev);
    else
      g_usleep (1000);
  }
  fail_unless (out >= in - 3 && out <= in, "%" G_GUINT64_FORMAT " in, %"
      G_GUINT64_FORMAT " out", in, out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A stream that ends before any audio came (a sender that connected and left
 * before its first buffer): the EOS still follows a TIME segment, which
 * elements such as level read at EOS. */
GST_START_TEST (test_eos_before_audio)
{
  GstHarness *h = gst_harness_new ("audiojitterbuffer");
  gboolean segment = FALSE, eos = FALSE;
  gint64 end = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  gst_harness_set_src_caps_str (h,
      "audio/x-raw,format=S16LE,rate=8000,channels=1,layout=interleaved");
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while (!eos && g_get_monotonic_time () < end) {
    GstEvent *ev = gst_harness_try_pull_event (h);

    if (!ev) {
      g_usleep (1000);
      continue;
    }
    if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT) {
      const GstSegment *seg;

      gst_event_parse_segment (ev, &seg);
      fail_unless_equals_int (seg->format, GST_FORMAT_TIME);
      segment = TRUE;
    } else if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
      fail_unless (segment, "EOS went out before any segment");
      eos = TRUE;
    }
    gst_event_unref (ev);
  }
  fail_unless (eos, "no EOS within 10 s");
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
jitter_suite (void)
{
  Suite *s = suite_create ("jitter");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 150);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_latency_query);
  tcase_add_test (tc, test_drain_eos);
  tcase_add_test (tc, test_eos_before_audio);
  tcase_add_test (tc, test_not_live_preroll);
  tcase_add_test (tc, test_backlog_crossfade);
  tcase_add_test (tc, test_backlog_cut_in_pause);
  tcase_add_test (tc, test_gap_silence);
  tcase_add_test (tc, test_gap_skip_ahead);
  tcase_add_test (tc, test_straggler_while_locking);
  tcase_add_test (tc, test_drift_fast);
  tcase_add_test (tc, test_drift_slow);
  tcase_add_test (tc, test_drift_uncorrected);
  tcase_add_test (tc, test_network_jitter);
  tcase_add_test (tc, test_stall_relock);
  tcase_add_test (tc, test_reconnect_relock);
  tcase_add_test (tc, test_codec_opus);
  tcase_add_test (tc, test_codec_mp3);
  return s;
}

GST_CHECK_MAIN (jitter);
