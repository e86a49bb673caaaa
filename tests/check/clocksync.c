/* qsound — unit tests for the receiver's estimate of the sender's clock
 * (plugins/qsound/qsclocksync.c).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The exchanges are made here from a known truth: a sender clock running a
 * given rate against ours from a given offset, and a network whose delays
 * on the way there and back are drawn at random (a seeded GRand, so a
 * failure repeats; SEED=n in the environment draws another network).  What is checked is how close the estimate comes to
 * that truth.  tests/check/framedtcp.c checks the same over real sockets.
 */
#include <gst/check/gstcheck.h>
#include <math.h>

#include "qsclocksync.h"

#define OFFSET (5 * GST_SECOND)

/* The sender's clock at our time t: it runs (1 + ppm / 1e6) as fast. */
static GstClockTime
truth (GstClockTime t, gdouble ppm)
{
  return OFFSET + (GstClockTime) ((gdouble) t * (1.0 + ppm * 1e-6));
}

/* Feeds `n` exchanges `every` ns apart from our time `start`; each way
 * takes `base` plus a uniform random share of `jitter`, and the sender
 * holds the question for up to 2 ms. */
static GstClockTime
exchange (QsClockSync * sync, GRand * rand, GstClockTime start, guint n,
    GstClockTime every, gdouble ppm, GstClockTime base, GstClockTime jitter)
{
  GstClockTime t = start;
  guint i;

  for (i = 0; i < n; i++, t += every) {
    GstClockTime there = base + g_rand_double (rand) * jitter;
    GstClockTime back = base + g_rand_double (rand) * jitter;
    GstClockTime hold = g_rand_double (rand) * 2 * GST_MSECOND;
    GstClockTime t1 = t, t2 = truth (t1 + there, ppm);
    GstClockTime t3 = t2 + hold;
    GstClockTime t4 = t1 + there + hold + back;

    fail_unless (qs_clock_sync_add (sync, t1, t2, t3, t4));
  }
  return t;
}

static GstClockTimeDiff
offset_error (const QsClockEstimate * est, GstClockTime local, gdouble ppm)
{
  return GST_CLOCK_DIFF (truth (local, ppm),
      qs_clock_estimate_to_remote (est, local));
}

GST_START_TEST (test_quiet_link)
{
  QsClockSync *sync = qs_clock_sync_new ();
  GRand *rand = g_rand_new_with_seed (1);
  QsClockEstimate est;
  gdouble ppms[] = { -1000.0, 0.0, 1000.0 };
  guint k;

  fail_if (qs_clock_sync_estimate (sync, &est));
  for (k = 0; k < G_N_ELEMENTS (ppms); k++) {
    GstClockTime now;

    qs_clock_sync_reset (sync);
    /* loopback: 20-200 us each way, 20 a second for 2 s (as framedtcpsrc
     * asks after it connects) */
    now = exchange (sync, rand, 10 * GST_SECOND, 40, 50 * GST_MSECOND,
        ppms[k], 20 * GST_USECOND, 180 * GST_USECOND);
    fail_unless (qs_clock_sync_estimate (sync, &est));
    fail_unless_equals_int (est.exchanges, 40);
    g_printerr ("%+.0f ppm after 2 s: %+.1f ppm, offset error %"
        G_GINT64_FORMAT " ns\n", ppms[k], est.ppm, offset_error (&est, now,
            ppms[k]));
    fail_unless (fabs (est.ppm - ppms[k]) < 100.0, "%f", est.ppm);
    fail_unless (ABS (offset_error (&est, now, ppms[k])) < 100 * GST_USECOND);

    /* a minute on */
    now = exchange (sync, rand, now, 600, 100 * GST_MSECOND, ppms[k],
        20 * GST_USECOND, 180 * GST_USECOND);
    fail_unless (qs_clock_sync_estimate (sync, &est));
    fail_unless_equals_int (est.exchanges, QS_CLOCK_SYNC_WINDOW);
    fail_unless (est.rate_known);
    fail_unless (fabs (est.ppm - ppms[k]) < 5.0, "%f", est.ppm);
    fail_unless (ABS (offset_error (&est, now, ppms[k])) < 50 * GST_USECOND);
    /* and the mapping goes both ways */
    fail_unless (ABS (GST_CLOCK_DIFF (now, qs_clock_estimate_to_local (&est,
                    qs_clock_estimate_to_remote (&est, now)))) < 10);
  }
  g_rand_free (rand);
  qs_clock_sync_free (sync);
}

GST_END_TEST;

/* The project's delaying proxy adds 40 +- 10 ms each way.  Over 30 draws
 * (SEED=1..30) the offset was off by 0.79 ms (median) and at most 4.1 ms
 * after 2 s, by 0.66 ms and at most 1.5 ms after 62 s, the rate by -56..+53
 * ppm: the bounds below leave room above those. */
GST_START_TEST (test_jittery_link)
{
  QsClockSync *sync = qs_clock_sync_new ();
  GRand *rand = g_rand_new_with_seed (g_getenv ("SEED") ? atoi (g_getenv ("SEED")) : 2);
  QsClockEstimate est;
  GstClockTime now;

  now = exchange (sync, rand, GST_SECOND, 40, 50 * GST_MSECOND, 1000.0,
      30 * GST_MSECOND, 20 * GST_MSECOND);
  fail_unless (qs_clock_sync_estimate (sync, &est));
  g_printerr ("jittery, 2 s: %+.1f ppm, offset error %" G_GINT64_FORMAT " ns\n",
      est.ppm, offset_error (&est, now, 1000.0));
  fail_unless (ABS (offset_error (&est, now, 1000.0)) < 5 * GST_MSECOND);

  now = exchange (sync, rand, now, 600, 100 * GST_MSECOND, 1000.0,
      30 * GST_MSECOND, 20 * GST_MSECOND);
  fail_unless (qs_clock_sync_estimate (sync, &est));
  g_printerr ("jittery, 62 s: %+.1f ppm (se %.1f), offset error %" G_GINT64_FORMAT " ns\n",
      est.ppm, est.rate_se, offset_error (&est, now, 1000.0));
  fail_unless (est.rtt >= 60 * GST_MSECOND);
  fail_unless (fabs (est.ppm - 1000.0) < 80.0, "%f", est.ppm);
  fail_unless (ABS (offset_error (&est, now, 1000.0)) < 2 * GST_MSECOND);
  g_rand_free (rand);
  qs_clock_sync_free (sync);
}

GST_END_TEST;

/* Times that cannot be right teach nothing. */
GST_START_TEST (test_impossible_times)
{
  QsClockSync *sync = qs_clock_sync_new ();
  QsClockEstimate est;

  /* the answer left before the question came */
  fail_if (qs_clock_sync_add (sync, 100, 200, 150, 300));
  /* it came back before it was asked */
  fail_if (qs_clock_sync_add (sync, 300, 200, 250, 100));
  /* the sender held it longer than the round trip took */
  fail_if (qs_clock_sync_add (sync, 100, 1000, 2000, 200));
  fail_if (qs_clock_sync_add (sync, GST_CLOCK_TIME_NONE, 1, 2, 3));
  fail_if (qs_clock_sync_estimate (sync, &est));

  /* one good exchange: an offset, no rate yet */
  fail_unless (qs_clock_sync_add (sync, GST_SECOND, 6 * GST_SECOND,
          6 * GST_SECOND, GST_SECOND + 2 * GST_MSECOND));
  fail_unless (qs_clock_sync_estimate (sync, &est));
  fail_if (est.rate_known);
  fail_unless_equals_int64 (est.rtt, 2 * GST_MSECOND);
  fail_unless_equals_int64 (qs_clock_estimate_offset (&est,
          GST_SECOND + GST_MSECOND), 5 * GST_SECOND - GST_MSECOND);
  qs_clock_sync_free (sync);
}

GST_END_TEST;

static Suite *
clocksync_suite (void)
{
  Suite *s = suite_create ("clocksync");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_quiet_link);
  tcase_add_test (tc, test_jittery_link);
  tcase_add_test (tc, test_impossible_times);
  return s;
}

GST_CHECK_MAIN (clocksync);
