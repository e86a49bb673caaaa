/* qsound — the transmitter's clock as a receiver sees it.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A receiver asks its sender for the time (a timed HEARTBEAT, protocol 2.1)
 * and gets four times for each exchange, as in NTP: t1 when it asked and t4
 * when the answer came, on its own clock; t2 when the question arrived and
 * t3 when the answer left, on the sender's.  The round trip is
 * (t4 - t1) - (t3 - t2) and, if the way there takes as long as the way back,
 * the sender's clock read (t2 + t3) / 2 at our (t1 + t4) / 2.
 *
 * TCP's jitter only ever adds delay, so the exchanges with the shortest
 * round trips are the truest (as NTP's clock filter, GstNetClientClock and
 * Snapcast trust them).  QsClockSync keeps the recent exchanges, takes those
 * whose round trip is close to the shortest, and fits a line through them
 * with GStreamer's gst_calculate_linear_regression(): its slope is the
 * sender's clock rate against ours, its position the offset.  The result is
 * a GstClock calibration (internal = our time, external = the sender's), so
 * gst_clock_adjust_with_calibration() and _unadjust_ map between the two.
 *
 * Pure code: no locking (the caller's), no I/O.
 */
#ifndef __QS_CLOCK_SYNC_H__
#define __QS_CLOCK_SYNC_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* Exchanges kept: at ten a second, 51 s. */
#define QS_CLOCK_SYNC_WINDOW 512

typedef struct _QsClockSync QsClockSync;

typedef struct {
  /* the calibration: the sender's clock read cexternal at our cinternal and
   * runs cnum / cdenom as fast as ours */
  GstClockTime cinternal;
  GstClockTime cexternal;
  GstClockTime cnum;
  GstClockTime cdenom;
  gdouble ppm;                  /* (cnum / cdenom - 1) * 1e6 */
  GstClockTime rtt;             /* the shortest round trip in the window */
  guint exchanges;              /* exchanges in the window */
  guint used;                   /* of them, trusted for the fit */
  gdouble rate_se;              /* the rate's standard error (ppm) */
  gboolean rate_known;          /* the rate is known well enough to use */
} QsClockEstimate;

QsClockSync * qs_clock_sync_new      (void);
void          qs_clock_sync_free     (QsClockSync * sync);
/* A new connection: forget every exchange. */
void          qs_clock_sync_reset    (QsClockSync * sync);
/* One exchange (t1, t4 ours; t2, t3 the sender's).  FALSE, and nothing
 * learned, when the times cannot be right (a round trip below zero, an
 * answer before the question). */
gboolean      qs_clock_sync_add      (QsClockSync * sync, GstClockTime t1,
                                      GstClockTime t2, GstClockTime t3,
                                      GstClockTime t4);
/* FALSE until the first exchange. */
gboolean      qs_clock_sync_estimate (QsClockSync * sync, QsClockEstimate * est);

/* The sender's clock at our time `local`, and the other way. */
GstClockTime  qs_clock_estimate_to_remote (const QsClockEstimate * est,
                                           GstClockTime local);
GstClockTime  qs_clock_estimate_to_local  (const QsClockEstimate * est,
                                           GstClockTime remote);
/* The sender's clock minus ours at our time `local` (ns). */
GstClockTimeDiff qs_clock_estimate_offset (const QsClockEstimate * est,
                                           GstClockTime local);

/* framedtcpsrc tells the elements downstream (audiojitterbuffer) what it
 * knows of its sender's clock in a sticky custom downstream event of this
 * name: the estimate's calibration (our running time to the sender's), and
 * `ts-offset`, what it added to the sender's timestamps (a buffer's running
 * time less ts-offset is the sender's running time when it was captured).
 * `synced` FALSE (no other fields) says the sender's clock is not known:
 * a new connection, or a 2.0 sender. */
#define QS_CLOCK_EVENT_NAME "qsound-sender-clock"

GstEvent *    qs_clock_event_new     (const QsClockEstimate * est,
                                      GstClockTimeDiff ts_offset);
/* TRUE if `event` is one of those; then *synced says whether est and
 * ts_offset were filled. */
gboolean      qs_clock_event_parse   (GstEvent * event, gboolean * synced,
                                      QsClockEstimate * est,
                                      GstClockTimeDiff * ts_offset);

G_END_DECLS

#endif /* __QS_CLOCK_SYNC_H__ */
