/* qsound — the PulseAudio capture backend through its plain C interface.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Needs the server tests/run.sh starts (sinks `play` and `out`, 48 kHz).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gst/check/gstcheck.h>

#include "qscapture.h"

static void
require_pulse (void)
{
  gchar *err = NULL;
  gint status = -1;
  gboolean ran = g_spawn_command_line_sync ("pactl info", NULL, &err, &status,
      NULL);

  fail_unless (ran && g_spawn_check_wait_status (status, NULL),
      "`pactl info` failed, so there is no PulseAudio server to test "
      "against; run the suite with tests/run.sh, which starts one (%s)",
      err ? g_strstrip (err) : "");
  g_free (err);
}

static guint
count_threads (void)
{
  GDir *dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  fail_unless (dir != NULL);
  while (g_dir_read_name (dir))
    n++;
  g_dir_close (dir);
  return n;
}

GST_START_TEST (test_open_read_close)
{
  QsCaptureFormat fmt;
  QsCaptureStats st;
  char err[512] = "";
  gint16 buf[4800 * 2];
  guint threads = count_threads ();
  gint64 t;
  unsigned flags;
  int i, n, total;

  require_pulse ();
  for (i = 0; i < 5; i++) {
    QsCapture *cap = qs_capture_open (QS_BACKEND_PULSE, i % 2 ? "play" :
        "play.monitor", &fmt, err, sizeof (err));

    fail_unless (cap != NULL, "%s", err);
    /* the null sink's native format */
    fail_unless_equals_int (fmt.format, QS_SAMPLE_S16LE);
    fail_unless_equals_int (fmt.rate, 48000);
    fail_unless_equals_int (fmt.channels, 2);
    fail_unless_equals_uint64 (fmt.channel_mask, 0x3);
    fail_unless_equals_string (qs_capture_get_device (cap), "play");

    /* 0.3 s of audio (an idle null sink may take its 2 s block to start) */
    total = 0;
    t = g_get_monotonic_time ();
    while (total < 14400) {
      n = qs_capture_read (cap, buf, 4800, 200, &flags);
      fail_unless (n >= 0, "read failed: %s", qs_capture_get_error (cap));
      total += n;
      fail_unless (g_get_monotonic_time () - t < 10 * G_USEC_PER_SEC);
    }
    qs_capture_get_stats (cap, &st);
    fail_unless (st.frames_captured >= (guint64) total);
    fail_unless_equals_uint64 (st.frames_lost, 0);

    /* close while the thread delivers, some rounds right away */
    if (i % 2)
      qs_capture_read (cap, buf, 4800, 50, &flags);
    t = g_get_monotonic_time ();
    qs_capture_close (cap);
    fail_unless (g_get_monotonic_time () - t < G_USEC_PER_SEC);
  }
  /* every capture thread was joined */
  fail_unless_equals_int (count_threads (), threads);
}

GST_END_TEST;

static gpointer
interrupt_later (gpointer cap)
{
  g_usleep (100000);
  qs_capture_interrupt (cap);
  return NULL;
}

GST_START_TEST (test_interrupt)
{
  QsCaptureFormat fmt;
  char err[512] = "";
  gint16 buf[4800 * 2];
  unsigned flags;
  QsCapture *cap;
  GThread *th;
  gint64 t;
  int n;

  require_pulse ();
  cap = qs_capture_open (QS_BACKEND_AUTO, "out", &fmt, err, sizeof (err));
  fail_unless (cap != NULL, "%s", err);
  /* drain, then block with a long timeout: the interrupt ends the wait */
  while (qs_capture_read (cap, buf, 4800, 0, &flags) > 0);
  th = g_thread_new ("interrupt", interrupt_later, cap);
  t = g_get_monotonic_time ();
  do {
    n = qs_capture_read (cap, buf, 4800, 10000, &flags);
  } while (n > 0);
  t = g_get_monotonic_time () - t;
  fail_unless_equals_int (n, QS_CAPTURE_INTERRUPTED);
  fail_unless (t < 2 * G_USEC_PER_SEC);
  g_thread_join (th);
  /* still interrupted until cleared; then reads go on */
  fail_unless_equals_int (qs_capture_read (cap, buf, 4800, 10, &flags),
      QS_CAPTURE_INTERRUPTED);
  qs_capture_clear_interrupt (cap);
  fail_unless (qs_capture_read (cap, buf, 4800, 5000, &flags) > 0);
  qs_capture_close (cap);
}

GST_END_TEST;

GST_START_TEST (test_open_errors)
{
  QsCaptureFormat fmt;
  char err[512] = "";

  require_pulse ();
  fail_unless (qs_capture_open (QS_BACKEND_PULSE, "nope.monitor", &fmt, err,
          sizeof (err)) == NULL);
  fail_unless (g_str_has_prefix (err, "there is no audio output or input named 'nope'"),
      "%s", err);
  fail_unless (qs_capture_open (QS_BACKEND_WASAPI, NULL, &fmt, err,
          sizeof (err)) == NULL);
  fail_unless (strstr (err, "WASAPI") != NULL, "%s", err);
}

GST_END_TEST;

static Suite *
qscapture_pulse_suite (void)
{
  Suite *s = suite_create ("qscapture-pulse");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_open_read_close);
  tcase_add_test (tc, test_interrupt);
  tcase_add_test (tc, test_open_errors);
  return s;
}

GST_CHECK_MAIN (qscapture_pulse);
