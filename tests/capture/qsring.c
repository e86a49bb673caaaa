/* qsound — the capture ring: loss, silence and DISCONT accounting.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include "qsring.h"

static int
read_all (QsRing * ring, gint16 * dst, size_t max, unsigned *flags)
{
  return qs_ring_read (ring, dst, max, 0, flags);
}

GST_START_TEST (test_ring_roundtrip)
{
  QsRing *ring = qs_ring_new (100, sizeof (gint16));
  gint16 in[60], out[100];
  unsigned flags = 99;
  QsCaptureStats st;
  int i, n;

  for (i = 0; i < 60; i++)
    in[i] = i + 1;
  qs_ring_write (ring, in, 60, 0);
  n = read_all (ring, out, 100, &flags);
  fail_unless_equals_int (n, 60);
  fail_unless_equals_int (flags, 0);
  fail_unless (memcmp (in, out, sizeof (in)) == 0);
  /* nothing left: a read times out with 0 */
  fail_unless_equals_int (qs_ring_read (ring, out, 100, 10, &flags), 0);
  qs_ring_get_stats (ring, &st);
  fail_unless_equals_uint64 (st.frames_captured, 60);
  fail_unless_equals_uint64 (st.frames_lost, 0);
  fail_unless_equals_uint64 (st.discontinuities, 0);
  qs_ring_free (ring);
}

GST_END_TEST;

GST_START_TEST (test_ring_overflow)
{
  QsRing *ring = qs_ring_new (100, sizeof (gint16));
  gint16 in[250], out[100];
  unsigned flags = 0;
  QsCaptureStats st;
  int i, n;

  for (i = 0; i < 250; i++)
    in[i] = i;
  qs_ring_write (ring, in, 80, 0);
  qs_ring_write (ring, in + 80, 50, 0);   /* 30 oldest overwritten */
  n = read_all (ring, out, 100, &flags);
  fail_unless_equals_int (n, 100);
  fail_unless_equals_int (flags, QS_CAPTURE_DISCONT);
  fail_unless_equals_int (out[0], 30);
  fail_unless_equals_int (out[99], 129);
  /* one write larger than the ring keeps its newest frames */
  qs_ring_write (ring, in, 250, 0);
  n = read_all (ring, out, 100, &flags);
  fail_unless_equals_int (n, 100);
  fail_unless_equals_int (flags, QS_CAPTURE_DISCONT);
  fail_unless_equals_int (out[0], 150);
  qs_ring_get_stats (ring, &st);
  fail_unless_equals_uint64 (st.frames_captured, 380);
  fail_unless_equals_uint64 (st.frames_lost, 180);
  fail_unless_equals_uint64 (st.discontinuities, 2);
  qs_ring_free (ring);
}

GST_END_TEST;

/* A DISCONT passed with a write marks the first frame of that write, even
 * when older frames are still unread. */
GST_START_TEST (test_ring_discont_position)
{
  QsRing *ring = qs_ring_new (100, sizeof (gint16));
  gint16 in[40], out[100];
  unsigned flags = 0;
  QsCaptureStats st;
  int i, n;

  for (i = 0; i < 40; i++)
    in[i] = i;
  qs_ring_write (ring, in, 20, 0);
  qs_ring_write (ring, NULL, 10, QS_CAPTURE_DISCONT);   /* silence fill */
  qs_ring_write (ring, in + 20, 20, 0);
  n = read_all (ring, out, 100, &flags);
  fail_unless_equals_int (n, 20);       /* stops before the gap */
  fail_unless_equals_int (flags, 0);
  n = read_all (ring, out, 100, &flags);
  fail_unless_equals_int (n, 30);
  fail_unless_equals_int (flags, QS_CAPTURE_DISCONT);
  fail_unless_equals_int (out[0], 0);
  fail_unless_equals_int (out[9], 0);
  fail_unless_equals_int (out[10], 20);
  qs_ring_get_stats (ring, &st);
  fail_unless_equals_uint64 (st.frames_captured, 40);
  fail_unless_equals_uint64 (st.frames_silence, 10);
  fail_unless_equals_uint64 (st.discontinuities, 1);
  qs_ring_free (ring);
}

GST_END_TEST;

GST_START_TEST (test_ring_interrupt_and_error)
{
  QsRing *ring = qs_ring_new (100, sizeof (gint16));
  gint16 in[10] = { 0 }, out[100];
  unsigned flags = 0;

  qs_ring_interrupt (ring, 1);
  fail_unless_equals_int (qs_ring_read (ring, out, 100, 5000, &flags),
      QS_CAPTURE_INTERRUPTED);
  qs_ring_interrupt (ring, 0);
  qs_ring_write (ring, in, 10, 0);
  qs_ring_set_error (ring, "the output went away");
  /* what was captured before the error is still read */
  fail_unless_equals_int (qs_ring_read (ring, out, 100, 5000, &flags), 10);
  fail_unless_equals_int (qs_ring_read (ring, out, 100, 5000, &flags),
      QS_CAPTURE_ERROR);
  fail_unless_equals_string (qs_ring_get_error (ring), "the output went away");
  qs_ring_free (ring);
}

GST_END_TEST;

static Suite *
qsring_suite (void)
{
  Suite *s = suite_create ("qsring");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ring_roundtrip);
  tcase_add_test (tc, test_ring_overflow);
  tcase_add_test (tc, test_ring_discont_position);
  tcase_add_test (tc, test_ring_interrupt_and_error);
  return s;
}

GST_CHECK_MAIN (qsring);
