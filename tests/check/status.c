/* qsound — unit tests for qsound-launch's status line (launcher/qsl-status.c).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The line a terminal shows fits its width: the least important fields are
 * shortened or left out first, never cut inside a word; without a terminal
 * the whole line is logged as it always was (tests and benchmarks parse
 * it).  No terminal is needed: the fitting is plain text in, text out.
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "qsl-status.h"

/* ------------------------------------------------------------------------ */
/* a receiver, as qsl_status_tick sees one                                  */

static void
receiver_info (QslStatusInfo * info)
{
  memset (info, 0, sizeof (*info));
  info->state = "connected to 192.168.1.20:5000";
  info->state_short = "connected";
  info->codec = "mpg123audiodec, 190 kbps";
  info->have_level = TRUE;
  info->level_db = -6.0;
  info->latency = 40 * GST_MSECOND;
  info->have_jitter = TRUE;
  info->jitter_latency = 10 * GST_MSECOND;
  info->jitter_target = 10 * GST_MSECOND;
  info->drift_ppm = 12.0;
  info->relocks = 0;
  info->drops = 0;
  info->reconnects = 0;
}

#define RECEIVER_FULL \
  "connected to 192.168.1.20:5000 | mpg123audiodec, 190 kbps | " \
  "[##################  ]  -6 dB | latency 40 ms | buffer 10/10 ms, " \
  "drift +12 ppm, re-locks 0 | drops 0 | reconnects 0"

/* every form a field of the receiver's line can take, whole */
#define RECEIVER_PIECE \
  "^(connected to 192\\.168\\.1\\.20:5000|connected" \
  "|mpg123audiodec, 190 kbps" \
  "|\\[#* *\\] +-6 dB|-6 dB" \
  "|latency 40 ms" \
  "|buffer 10/10 ms, (drift )?\\+12 ppm, re-locks 0" \
  "|drops 0|reconnects 0)$"

/* @line split at its separators: each piece one whole form of a field */
static void
assert_whole_pieces (const gchar * line, const gchar * piece_pattern)
{
  gchar **pieces = g_strsplit (line, " | ", -1);
  guint i;

  fail_unless (pieces[0] != NULL, "an empty line");
  for (i = 0; pieces[i]; i++)
    fail_unless (g_regex_match_simple (piece_pattern, pieces[i], 0, 0),
        "\"%s\" is not a whole field (line \"%s\")", pieces[i], line);
  g_strfreev (pieces);
}

static gchar *
fit_receiver (guint width)
{
  QslStatusInfo info;
  QslStatusLine *line;
  gchar *text;

  receiver_info (&info);
  line = qsl_status_line_build (&info);
  text = qsl_status_line_fit (line, width);
  qsl_status_line_free (line);
  GST_INFO ("%3u columns: \"%s\"", width, text);
  fail_unless (g_utf8_strlen (text, -1) <= (glong) width - 1,
      "%u columns: %ld characters \"%s\"", width, g_utf8_strlen (text, -1),
      text);
  assert_whole_pieces (text, RECEIVER_PIECE);
  return text;
}

/* Without a terminal (and on one wide enough) the line is the one that
 * tests and benchmarks parse, unchanged. */
GST_START_TEST (test_full_line)
{
  QslStatusInfo info;
  QslStatusLine *line;
  gchar *text;

  receiver_info (&info);
  line = qsl_status_line_build (&info);
  text = qsl_status_line_full (line);
  fail_unless_equals_string (text, RECEIVER_FULL);
  g_free (text);
  /* width unknown: all of it */
  text = qsl_status_line_fit (line, 0);
  fail_unless_equals_string (text, RECEIVER_FULL);
  g_free (text);
  qsl_status_line_free (line);

  /* a transmitter that lost capture frames, before any level message */
  memset (&info, 0, sizeof (info));
  info.state = "listening on 0.0.0.0:5000";
  info.state_short = "listening";
  info.codec = "opus 128 kbps";
  info.latency = GST_CLOCK_TIME_NONE;
  info.drops = 3;
  info.capture_lost = 480;
  info.reconnects = 1;
  line = qsl_status_line_build (&info);
  text = qsl_status_line_full (line);
  fail_unless_equals_string (text, "listening on 0.0.0.0:5000 | opus 128 "
      "kbps | [no level yet] | drops 3 | capture lost 480 frames | "
      "reconnects 1");
  g_free (text);
  qsl_status_line_free (line);
}

GST_END_TEST;

/* A receiver's line at shrinking widths: never wider than the console less
 * one column (so it never wraps), whole fields only, the most important
 * kept. */
GST_START_TEST (test_fit_receiver)
{
  gchar *text;

  text = fit_receiver (200);
  fail_unless_equals_string (text, RECEIVER_FULL);
  g_free (text);

  /* the bar shortened first, then the codec and the reconnects left */
  text = fit_receiver (120);
  fail_unless (g_str_has_prefix (text, "connected to 192.168.1.20:5000 | ["),
      "%s", text);
  fail_unless (strstr (text, "latency 40 ms") != NULL, "%s", text);
  fail_unless (strstr (text, "drift +12 ppm, re-locks 0") != NULL, "%s",
      text);
  fail_unless (g_str_has_suffix (text, " | drops 0"), "%s", text);
  fail_if (strstr (text, "mpg123audiodec") != NULL, "%s", text);
  fail_if (strstr (text, "reconnects") != NULL, "%s", text);
  fail_if (strstr (text, "[##################  ]") != NULL,
      "the bar was not shortened: %s", text);
  g_free (text);

  /* state, meter with its bar, buffer/drift/re-locks and drops */
  text = fit_receiver (80);
  fail_unless (g_str_has_prefix (text, "connected | [#"), "%s", text);
  fail_unless (strstr (text, "]  -6 dB | buffer 10/10 ms, +12 ppm, "
          "re-locks 0 | drops 0") != NULL, "%s", text);
  g_free (text);

  text = fit_receiver (60);
  fail_unless (g_str_has_prefix (text, "connected | "), "%s", text);
  fail_unless (strstr (text, "-6 dB") != NULL, "%s", text);
  fail_unless (strstr (text, "re-locks 0") != NULL, "%s", text);
  g_free (text);

  text = fit_receiver (40);
  fail_unless (g_str_has_prefix (text, "connected | "), "%s", text);
  fail_unless (strstr (text, "-6 dB") != NULL, "%s", text);
  g_free (text);
}

GST_END_TEST;

static QslStatusLine *
abcd_line (void)
{
  QslStatusLine *line = qsl_status_line_new ();

  qsl_status_line_add (line, 100, TRUE, "aaaa");
  qsl_status_line_add (line, 10, FALSE, "bbbb");
  qsl_status_line_add (line, 50, FALSE, "cccc");
  qsl_status_line_add_short (line, 20, "cc");
  qsl_status_line_add (line, 10, FALSE, "dddd");
  return line;
}

static void
assert_fit (QslStatusLine * line, guint width, const gchar * expected)
{
  gchar *text = qsl_status_line_fit (line, width);

  fail_unless_equals_string (text, expected);
  g_free (text);
}

/* The order of the steps: by priority, the rightmost of equals first, a
 * field's shorter form before it goes; room that a step freed beyond the
 * need is given back. */
GST_START_TEST (test_fit_order)
{
  QslStatusLine *line = abcd_line ();

  assert_fit (line, 26, "aaaa | bbbb | cccc | dddd");       /* 25 fit */
  assert_fit (line, 25, "aaaa | bbbb | cccc");      /* d: rightmost of 10s */
  assert_fit (line, 19, "aaaa | bbbb | cccc");
  assert_fit (line, 18, "aaaa | cccc");     /* then b */
  assert_fit (line, 11, "aaaa | cc");       /* then c shortened */
  assert_fit (line, 10, "aaaa | cc");
  assert_fit (line, 9, "aaaa");     /* then c left out; a stays */
  qsl_status_line_free (line);

  /* a field shortened before one left out gets its room back */
  line = qsl_status_line_new ();
  qsl_status_line_add (line, 100, TRUE, "aaaa");
  qsl_status_line_add (line, 90, FALSE, "MMMMMMMM");
  qsl_status_line_add_short (line, 1, "MMMMMM");
  qsl_status_line_add_short (line, 1, "MMMM");
  qsl_status_line_add (line, 5, FALSE, "xxxxxxxxxx");
  assert_fit (line, 29, "aaaa | MMMMMMMM | xxxxxxxxxx");
  assert_fit (line, 27, "aaaa | MMMMMM | xxxxxxxxxx");
  assert_fit (line, 25, "aaaa | MMMM | xxxxxxxxxx");
  /* x went, and M grew back */
  assert_fit (line, 24, "aaaa | MMMMMMMM");
  assert_fit (line, 14, "aaaa | MMMMMM");
  qsl_status_line_free (line);
}

GST_END_TEST;

/* What must stay and still does not fit is cut between words. */
GST_START_TEST (test_fit_cuts_between_words)
{
  QslStatusLine *line = qsl_status_line_new ();

  qsl_status_line_add (line, 100, TRUE,
      "waiting for server at example.lan:5000, retrying");
  qsl_status_line_add (line, 10, FALSE, "drops 0");
  assert_fit (line, 20, "waiting for server");
  assert_fit (line, 22, "waiting for server at");
  assert_fit (line, 23, "waiting for server at");
  /* no comma left hanging */
  assert_fit (line, 45, "waiting for server at example.lan:5000");
  qsl_status_line_free (line);
}

GST_END_TEST;

static Suite *
status_suite (void)
{
  Suite *s = suite_create ("status");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_full_line);
  tcase_add_test (tc, test_fit_receiver);
  tcase_add_test (tc, test_fit_order);
  tcase_add_test (tc, test_fit_cuts_between_words);
  return s;
}

GST_CHECK_MAIN (status);
