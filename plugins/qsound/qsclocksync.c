/* qsound — the transmitter's clock as a receiver sees it.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "qsclocksync.h"

/* The window is cut into up to MAX_BINS stretches of time of at least
 * MIN_BIN exchanges each, and the exchange with the shortest round trip in
 * each is trusted (NTP's clock filter keeps the best of 8): the trusted ones
 * are spread over the whole window, which a rate needs. */
#define MAX_BINS         32
#define MIN_BIN          4
/* A slope needs this many trusted exchanges: through fewer, on a jittery
 * link, it is mostly noise. */
#define MIN_RATE_POINTS  8
/* Clocks of sound cards and computers differ by ppm, not percent: a fit
 * outside this is noise on a short window. */
#define MAX_PPM          10000.0
/* How far clocks are expected to differ (ppm): a slope known less well than
 * this is drawn towards 0. */
#define PRIOR_PPM        1000.0
/* A rate is called known (rate_known) once its standard error is below
 * this (ppm). */
#define MAX_RATE_SE      20.0

typedef struct
{
  GstClockTime local;           /* (t1 + t4) / 2, ours */
  GstClockTime remote;          /* (t2 + t3) / 2, the sender's */
  GstClockTime rtt;
} QsExchange;

struct _QsClockSync
{
  QsExchange ring[QS_CLOCK_SYNC_WINDOW];
  guint head;                   /* next slot to write */
  guint count;

  /* scratch for qs_clock_sync_estimate(), kept off the stack */
  QsExchange sorted[QS_CLOCK_SYNC_WINDOW];
  GstClockTime xy[2 * QS_CLOCK_SYNC_WINDOW];
  GstClockTime temp[2 * QS_CLOCK_SYNC_WINDOW];
};

QsClockSync *
qs_clock_sync_new (void)
{
  return g_new0 (QsClockSync, 1);
}

void
qs_clock_sync_free (QsClockSync * sync)
{
  g_free (sync);
}

void
qs_clock_sync_reset (QsClockSync * sync)
{
  sync->head = 0;
  sync->count = 0;
}

gboolean
qs_clock_sync_add (QsClockSync * sync, GstClockTime t1, GstClockTime t2,
    GstClockTime t3, GstClockTime t4)
{
  QsExchange *e;

  if (!GST_CLOCK_TIME_IS_VALID (t1) || !GST_CLOCK_TIME_IS_VALID (t2)
      || !GST_CLOCK_TIME_IS_VALID (t3) || !GST_CLOCK_TIME_IS_VALID (t4))
    return FALSE;
  /* the answer left after the question came, and came back after it left */
  if (t3 < t2 || t4 < t1 || t4 - t1 < t3 - t2)
    return FALSE;

  e = &sync->ring[sync->head];
  e->local = t1 + (t4 - t1) / 2;
  e->remote = t2 + (t3 - t2) / 2;
  e->rtt = (t4 - t1) - (t3 - t2);
  sync->head = (sync->head + 1) % QS_CLOCK_SYNC_WINDOW;
  if (sync->count < QS_CLOCK_SYNC_WINDOW)
    sync->count++;
  return TRUE;
}

/* The standard error (ppm) of a line's slope through n exchanges. */
static gdouble
qs_clock_sync_rate_se (const QsExchange * ex, guint n,
    const QsClockEstimate * line)
{
  gdouble mean = 0.0, sxx = 0.0, sres = 0.0;
  guint i;

  for (i = 0; i < n; i++)
    mean += (gdouble) (ex[i].local - ex[0].local) / n;
  for (i = 0; i < n; i++) {
    gdouble dx = (gdouble) (ex[i].local - ex[0].local) - mean;
    gdouble res = (gdouble) GST_CLOCK_DIFF (qs_clock_estimate_to_remote (line,
            ex[i].local), ex[i].remote);

    sxx += dx * dx;
    sres += res * res;
  }
  if (n < 3 || sxx <= 0.0)
    return G_MAXDOUBLE;
  return sqrt (sres / (n - 2) / sxx) * 1e6;
}

gboolean
qs_clock_sync_estimate (QsClockSync * sync, QsClockEstimate * est)
{
  QsExchange *sorted = sync->sorted;
  GstClockTime *xy = sync->xy;
  GstClockTime m_num, m_denom, b, xbase;
  GstClockTimeDiff offset_sum = 0;
  GstClockTime local_sum = 0;
  gdouble r_squared;
  guint n, i, bins;

  memset (est, 0, sizeof (*est));
  est->cnum = est->cdenom = 1;
  if (sync->count == 0)
    return FALSE;

  /* in time order: the ring from its oldest */
  for (i = 0; i < sync->count; i++)
    sorted[i] = sync->ring[(sync->head + QS_CLOCK_SYNC_WINDOW - sync->count +
            i) % QS_CLOCK_SYNC_WINDOW];
  bins = CLAMP (sync->count / MIN_BIN, 1, MAX_BINS);
  est->exchanges = sync->count;
  est->rtt = GST_CLOCK_TIME_NONE;
  for (n = 0; n < bins; n++) {
    guint from = n * sync->count / bins, to = (n + 1) * sync->count / bins;
    guint best = from;

    for (i = from; i < to; i++) {
      if (sorted[i].rtt < sorted[best].rtt)
        best = i;
    }
    est->rtt = MIN (est->rtt, sorted[best].rtt);
    sorted[n] = sorted[best];
  }
  est->used = n;

  /* the centroid of the trusted ones: every line below goes through it */
  for (i = 0; i < n; i++) {
    offset_sum += GST_CLOCK_DIFF (sorted[i].local, sorted[i].remote);
    local_sum += sorted[i].local - sorted[0].local;
  }
  est->cinternal = sorted[0].local + local_sum / n;
  est->cexternal = (GstClockTime) ((GstClockTimeDiff) est->cinternal +
      offset_sum / (GstClockTimeDiff) n);
  est->rate_se = G_MAXDOUBLE;

  if (n >= MIN_RATE_POINTS) {
    for (i = 0; i < n; i++) {
      xy[2 * i] = sorted[i].local;
      xy[2 * i + 1] = sorted[i].remote;
    }
    if (gst_calculate_linear_regression (xy, sync->temp, n, &m_num, &m_denom, &b,
            &xbase, &r_squared) && m_denom > 0) {
      QsClockEstimate line = { xbase, b, m_num, m_denom, };
      gdouble ppm = ((gdouble) m_num / (gdouble) m_denom - 1.0) * 1e6;
      gdouble w;

      /* how far the slope can be trusted, from the residuals about the line
       * (the r_squared that comes with it is too coarse for ppm); a slope
       * known poorly (a few exchanges on a jittery link) is drawn towards
       * 0 ppm in proportion, as a prior of clocks within PRIOR_PPM would */
      est->rate_se = qs_clock_sync_rate_se (sorted, n, &line);
      w = PRIOR_PPM * PRIOR_PPM / (PRIOR_PPM * PRIOR_PPM +
          est->rate_se * est->rate_se);
      if (fabs (ppm) < MAX_PPM) {
        est->ppm = ppm * w;
        est->cnum = (GstClockTime) llround ((1.0 + est->ppm * 1e-6) *
            GST_SECOND);
        est->cdenom = GST_SECOND;
        est->rate_known = est->rate_se < MAX_RATE_SE;
      }
    }
  }
  return TRUE;
}

GstClockTime
qs_clock_estimate_to_remote (const QsClockEstimate * est, GstClockTime local)
{
  return gst_clock_adjust_with_calibration (NULL, local, est->cinternal,
      est->cexternal, est->cnum, est->cdenom);
}

GstClockTime
qs_clock_estimate_to_local (const QsClockEstimate * est, GstClockTime remote)
{
  return gst_clock_unadjust_with_calibration (NULL, remote, est->cinternal,
      est->cexternal, est->cnum, est->cdenom);
}

GstClockTimeDiff
qs_clock_estimate_offset (const QsClockEstimate * est, GstClockTime local)
{
  return GST_CLOCK_DIFF (local, qs_clock_estimate_to_remote (est, local));
}

GstEvent *
qs_clock_event_new (const QsClockEstimate * est, GstClockTimeDiff ts_offset)
{
  GstStructure *s;

  if (!est)
    s = gst_structure_new (QS_CLOCK_EVENT_NAME, "synced", G_TYPE_BOOLEAN,
        FALSE, NULL);
  else
    s = gst_structure_new (QS_CLOCK_EVENT_NAME, "synced", G_TYPE_BOOLEAN,
        TRUE, "internal", G_TYPE_UINT64, est->cinternal, "external",
        G_TYPE_UINT64, est->cexternal, "rate-num", G_TYPE_UINT64, est->cnum,
        "rate-denom", G_TYPE_UINT64, est->cdenom, "ppm", G_TYPE_DOUBLE,
        est->ppm, "rate-known", G_TYPE_BOOLEAN, est->rate_known, "rtt",
        G_TYPE_UINT64, est->rtt, "ts-offset", G_TYPE_INT64, ts_offset, NULL);
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM_STICKY, s);
}

gboolean
qs_clock_event_parse (GstEvent * event, gboolean * synced,
    QsClockEstimate * est, GstClockTimeDiff * ts_offset)
{
  const GstStructure *s;
  gboolean ok;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_DOWNSTREAM_STICKY)
    return FALSE;
  s = gst_event_get_structure (event);
  if (!s || !gst_structure_has_name (s, QS_CLOCK_EVENT_NAME))
    return FALSE;
  memset (est, 0, sizeof (*est));
  *ts_offset = 0;
  ok = gst_structure_get_boolean (s, "synced", synced) && *synced
      && gst_structure_get (s, "internal", G_TYPE_UINT64, &est->cinternal,
      "external", G_TYPE_UINT64, &est->cexternal, "rate-num", G_TYPE_UINT64,
      &est->cnum, "rate-denom", G_TYPE_UINT64, &est->cdenom, "ppm",
      G_TYPE_DOUBLE, &est->ppm, "rate-known", G_TYPE_BOOLEAN,
      &est->rate_known, "rtt", G_TYPE_UINT64, &est->rtt, "ts-offset",
      G_TYPE_INT64, ts_offset, NULL) && est->cdenom > 0 && est->cnum > 0;
  if (!ok)
    *synced = FALSE;
  return TRUE;
}
