/* qsound — unit tests for qsound-launch's status line (launcher/qsl-status.c).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The line a terminal shows fits its width: the least important fields are
 * shortened or left out first, never cut inside a word; without a terminal
 * the whole line is logged as it always was (tests and benchmarks parse
 * it).  The level meter holds a short sound's peak and falls back from it
 * at 20 dB a second.  No terminal is needed: the fitting is plain text in,
 * text out, and the meter is given its clock.
 */
#include <gst/check/gstcheck.h>
#include <math.h>
#include <string.h>

#include "qsl-icecast.h"
#include "qsl-status.h"
#include "qsoundproto.h"

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
  info->drift_ppm = 15.0;
  info->have_clock = TRUE;
  info->clock_ppm = 12.0;
  info->relocks = 0;
  info->drops = 0;
  info->reconnects = 0;
}

#define RECEIVER_FULL \
  "connected to 192.168.1.20:5000 | mpg123audiodec, 190 kbps | " \
  "[##################  ]  -6 dB | latency 40 ms | buffer 10/10 ms, " \
  "drift +12 ppm (correcting +15), re-locks 0 | drops 0 | reconnects 0"

/* every form a field of the receiver's line can take, whole */
#define RECEIVER_PIECE \
  "^(connected to 192\\.168\\.1\\.20:5000|connected" \
  "|mpg123audiodec, 190 kbps" \
  "|\\[#* *\\] +-6 dB|-6 dB" \
  "|latency 40 ms" \
  "|buffer 10/10 ms, (drift \\+12 ppm \\(correcting \\+15\\)|\\+12 ppm)" \
  ", re-locks 0" \
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

  /* with the sender's clock from timed heartbeats: after the buffer; it
   * gives way early when narrow (after the codec) */
  receiver_info (&info);
  info.have_sender_clock = TRUE;
  info.sender_offset = 3249427;
  info.sender_ppm = 1004.9;
  line = qsl_status_line_build (&info);
  text = qsl_status_line_full (line);
  fail_unless (strstr (text, "re-locks 0 | sender clock +3.2 ms, +1005 ppm | "
          "drops 0") != NULL, "%s", text);
  g_free (text);
  text = qsl_status_line_fit (line, 100);
  fail_if (strstr (text, "sender clock") != NULL, "%s", text);
  fail_unless (strstr (text, "drops 0") != NULL, "%s", text);
  g_free (text);
  qsl_status_line_free (line);

  /* before the receiver has measured the clocks: the correction alone */
  receiver_info (&info);
  info.have_clock = FALSE;
  line = qsl_status_line_build (&info);
  text = qsl_status_line_full (line);
  fail_unless (strstr (text, " | buffer 10/10 ms, correcting +15 ppm, "
          "re-locks 0 | ") != NULL, "%s", text);
  g_free (text);
  text = qsl_status_line_fit (line, 80);
  fail_unless (strstr (text, " | buffer 10/10 ms, +15 ppm, re-locks 0 | ")
      != NULL, "%s", text);
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

/* With -l: the delay measured against it, and, when the link needs more,
 * the sentence that says so, which stays when the line narrows (only the
 * state outranks it). */
GST_START_TEST (test_end_to_end_fields)
{
  QslStatusInfo info;
  QslStatusLine *line;
  gchar *text;

  receiver_info (&info);
  info.e2e_target = 150 * GST_MSECOND;
  info.e2e_delay = 150200000;
  line = qsl_status_line_build (&info);
  text = qsl_status_line_full (line);
  fail_unless (strstr (text, " | delay 150.2/150 ms | ") != NULL, "%s", text);
  fail_if (strstr (text, "too low") != NULL, "%s", text);
  g_free (text);
  qsl_status_line_free (line);

  /* not measured yet: why */
  info.e2e_delay = -1;
  line = qsl_status_line_build (&info);
  text = qsl_status_line_full (line);
  fail_unless (strstr (text, "delay ?/150 ms (sender's clock unknown)")
      != NULL, "%s", text);
  g_free (text);
  qsl_status_line_free (line);

  info.e2e_target = 40 * GST_MSECOND;
  info.e2e_delay = 70100000;
  info.e2e_needed = 70100000;
  line = qsl_status_line_build (&info);
  text = qsl_status_line_full (line);
  fail_unless (strstr (text, "-l 40 is too low for this link: it needs "
          "about 71 ms") != NULL, "%s", text);
  g_free (text);
  text = qsl_status_line_fit (line, 100);
  fail_unless (strstr (text, "-l 40 is too low for this link") != NULL, "%s",
      text);
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
  fail_unless (strstr (text, " | buffer 10/10 ms, +12 ppm, re-locks 0 | ")
      != NULL, "%s", text);
  fail_unless (g_str_has_suffix (text, " | drops 0"), "%s", text);
  fail_if (strstr (text, "mpg123audiodec") != NULL, "%s", text);
  fail_if (strstr (text, "reconnects") != NULL, "%s", text);
  fail_if (strstr (text, "[##################  ]") != NULL,
      "the bar was not shortened: %s", text);
  /* into the room the codec left, the bar grew back to 12 cells */
  fail_unless (strstr (text, " | [########### ]  -6 dB | ") != NULL, "%s",
      text);
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

/* ------------------------------------------------------------------------ */
/* the meter                                                                */

#define MS ((gint64) 1000)

/* One burst of the demo's sound (23 ms at -6 dB peak, once a second
 * there), silence before and after.  The level element posts every 100 ms
 * (the burst falls in one message), the status draws every 250 ms.  Each
 * draw's reading in @shown[t / 250 ms], over @seconds. */
static void
meter_timeline (gdouble * shown, guint seconds)
{
  QslMeter meter;
  gint64 t;

  qsl_meter_init (&meter);
  for (t = 0; t <= seconds * 1000 * MS; t += 50 * MS) {
    if (t % (100 * MS) == 0 && t > 0)
      qsl_meter_post (&meter, t == 300 * MS ? -6.0 : -INFINITY);
    if (t % (250 * MS) == 0) {
      shown[t / (250 * MS)] = qsl_meter_read (&meter, t);
      GST_INFO ("%4" G_GINT64_FORMAT " ms: %.1f dB", t / MS,
          shown[t / (250 * MS)]);
    }
  }
  fail_unless (meter.have_level);
}

/* A peak posted once is shown at the next draw, though later messages
 * (silence) came before it, then falls by 20 dB a second of draws. */
GST_START_TEST (test_meter_holds_and_decays)
{
  gdouble shown[6 * 4 + 1];
  guint i;

  meter_timeline (shown, 6);
  fail_unless_equals_float (shown[0], QSL_METER_FLOOR_DB);      /* 0 ms */
  fail_unless_equals_float (shown[1], QSL_METER_FLOOR_DB);      /* 250 ms */
  /* 500 ms: the burst was in the 300 ms message, then came silence */
  fail_unless_equals_float (shown[2], -6.0);
  /* 5 dB a draw: 20 dB in the second after */
  for (i = 3; i <= 6; i++)
    fail_unless (fabs (shown[i] - (-6.0 - 5.0 * (i - 2))) < 0.01,
        "draw %u: %.2f dB, not %.2f", i, shown[i], -6.0 - 5.0 * (i - 2));
  fail_unless (fabs (shown[6] - shown[2] + 20.0) < 0.01, "%.2f after 1 s",
      shown[6]);
  /* down to the floor (93 dB takes 4.65 s), and it stays there */
  for (i = 2 + 19; i <= 24; i++)
    fail_unless_equals_float (shown[i], QSL_METER_FLOOR_DB);
}

GST_END_TEST;

/* Between draws the highest peak counts; a louder one takes over from a
 * falling reading, a quieter one does not. */
GST_START_TEST (test_meter_highest_peak)
{
  QslMeter meter;

  qsl_meter_init (&meter);
  qsl_meter_post (&meter, -40.0);
  qsl_meter_post (&meter, -6.0);
  qsl_meter_post (&meter, -30.0);
  fail_unless_equals_float (qsl_meter_read (&meter, 1000 * MS), -6.0);
  /* 250 ms later: -11 dB fallen, above the -30 dB peak posted since */
  qsl_meter_post (&meter, -30.0);
  fail_unless (fabs (qsl_meter_read (&meter, 1250 * MS) + 11.0) < 0.01);
  /* a louder peak shows at once */
  qsl_meter_post (&meter, -3.0);
  fail_unless_equals_float (qsl_meter_read (&meter, 1500 * MS), -3.0);
  /* above 0 dB (float audio) reads 0 dB */
  qsl_meter_post (&meter, 2.5);
  fail_unless_equals_float (qsl_meter_read (&meter, 1750 * MS), 0.0);
}

GST_END_TEST;

/* Silence (the level element's -inf dB) reads the floor, shown as such. */
GST_START_TEST (test_meter_silence_floor)
{
  QslMeter meter;
  QslStatusInfo info;
  QslStatusLine *line;
  gchar *text;

  qsl_meter_init (&meter);
  fail_if (meter.have_level);
  qsl_meter_post (&meter, -INFINITY);
  qsl_meter_post (&meter, -200.0);
  qsl_meter_post (&meter, NAN);
  fail_unless (meter.have_level);
  fail_unless_equals_float (qsl_meter_read (&meter, 100 * MS),
      QSL_METER_FLOOR_DB);
  fail_unless_equals_float (qsl_meter_read (&meter, 350 * MS),
      QSL_METER_FLOOR_DB);

  receiver_info (&info);
  info.level_db = QSL_METER_FLOOR_DB;
  line = qsl_status_line_build (&info);
  text = qsl_status_line_full (line);
  fail_unless (strstr (text, " | [                    ] -99 dB | ") != NULL,
      "%s", text);
  g_free (text);
  qsl_status_line_free (line);
}

GST_END_TEST;

/* The meter's text: the bar spans 60 dB whatever its cells, the figure
 * stays when the bar goes. */
GST_START_TEST (test_meter_text)
{
  struct
  {
    gdouble db;
    guint cells;
    const gchar *text;
  } cases[] = {
    {-6.0, 20, "[##################  ]  -6 dB"},
    {0.0, 20, "[####################]   0 dB"},
    {-57.0, 20, "[#                   ] -57 dB"},
    {-99.0, 20, "[                    ] -99 dB"},
    {-140.0, 20, "[                    ] -99 dB"},
    {-6.0, 10, "[######### ]  -6 dB"},
    {-30.0, 5, "[##   ] -30 dB"},
    {-6.0, 0, "-6 dB"},
    {-120.0, 0, "-99 dB"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    gchar *text = qsl_meter_text (cases[i].db, cases[i].cells);

    fail_unless_equals_string (text, cases[i].text);
    g_free (text);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* what the launcher prints from the bus                                    */

/* --icecast: the field at the end, "icecast 3" when narrow, before the
 * drops give way */
GST_START_TEST (test_icecast_field)
{
  QslStatusInfo info;
  QslStatusLine *line;
  gchar *text;

  memset (&info, 0, sizeof (info));
  info.state = "listening on 0.0.0.0:5000";
  info.state_short = "listening";
  info.codec = "mp3 192 kbps";
  info.latency = GST_CLOCK_TIME_NONE;
  info.icecast = "icecast live, 3 listeners";
  info.icecast_short = "icecast 3";
  line = qsl_status_line_build (&info);
  text = qsl_status_line_full (line);
  fail_unless_equals_string (text, "listening on 0.0.0.0:5000 | mp3 192 "
      "kbps | [no level yet] | drops 0 | reconnects 0 | icecast live, 3 "
      "listeners");
  g_free (text);
  text = qsl_status_line_fit (line, 60);
  fail_unless (strstr (text, "icecast 3") != NULL, "%s", text);
  fail_unless (strstr (text, "drops 0") != NULL, "%s", text);
  g_free (text);
  qsl_status_line_free (line);
}

GST_END_TEST;

/* status-json.xsl as Icecast 2.4.4 writes it: one source is an object,
 * several an array; the mount is matched on the whole path */
GST_START_TEST (test_icecast_json)
{
  const gchar *one = "{\"icestats\":{\"admin\":\"a@b\",\"host\":\"x\","
      "\"source\":{\"genre\":\"qsound\",\"listener_peak\":4,"
      "\"listeners\":3,\"listenurl\":\"http://127.0.0.1:8000/live.mp3\","
      "\"server_name\":\"qsound on vm\",\"dummy\":null}}}";
  const gchar *two = "{\"icestats\":{\"source\":[{\"listeners\":7,"
      "\"listenurl\":\"http://h:8000/a/live.mp3\",\"dummy\":null},"
      "{\"listeners\":100,\"listenurl\":\"http://h:8000/live.mp3\","
      "\"dummy\":null}]}}";
  const gchar *none = "{\"icestats\":{\"admin\":\"a\",\"dummy\":null}}";

  fail_unless_equals_int (qsl_icecast_json_listeners (one, "/live.mp3"), 3);
  fail_unless_equals_int (qsl_icecast_json_listeners (one, "/live"), -1);
  fail_unless_equals_int (qsl_icecast_json_listeners (two, "/live.mp3"), 100);
  fail_unless_equals_int (qsl_icecast_json_listeners (two, "/a/live.mp3"),
      7);
  fail_unless_equals_int (qsl_icecast_json_listeners (none, "/live.mp3"),
      -1);
  fail_unless_equals_int (qsl_icecast_json_listeners ("", "/x"), -1);
}

GST_END_TEST;

/* the URL ffmpeg takes; every malformed one is one sentence ending in a
 * full stop */
GST_START_TEST (test_icecast_url)
{
  QslSettings set;
  gchar *why = NULL;
  const gchar *bad[] = { "http://source:pw@h:8000/m", "icecast://h:8000/m",
    "icecast://source:pw@h:8000/", "icecast://source:pw@h:8000",
    "icecast://source:pw@h:0/m", "icecast://source:pw@h/m?x=1",
    "icecast://source:pw@h/m%20x", "icecast://source:pw@/m", "not a url",
    NULL
  };
  guint i;

  memset (&set, 0, sizeof (set));
  fail_unless (qsl_icecast_url_split
      ("icecast://source:p%40ss@radio.lan:8001/live.mp3", &set, &why));
  fail_unless (why == NULL);
  fail_unless_equals_string (set.icecast_host, "radio.lan");
  fail_unless_equals_int (set.icecast_port, 8001);
  fail_unless_equals_string (set.icecast_user, "source");
  fail_unless_equals_string (set.icecast_password, "p@ss");
  fail_unless_equals_string (set.icecast_mount, "/live.mp3");
  /* user and port by default */
  fail_unless (qsl_icecast_url_split ("icecast://:pw@10.0.0.2/a/b.ogg", &set,
          &why));
  fail_unless_equals_string (set.icecast_user, "source");
  fail_unless_equals_int (set.icecast_port, 8000);
  fail_unless_equals_string (set.icecast_mount, "/a/b.ogg");
  for (i = 0; bad[i]; i++) {
    fail_if (qsl_icecast_url_split (bad[i], &set, &why), "%s", bad[i]);
    fail_unless (why != NULL && g_str_has_suffix (why, "."), "%s: %s",
        bad[i], why);
    fail_unless (strchr (why, '\n') == NULL);
    g_free (why);
  }
  qsl_settings_clear (&set);
}

GST_END_TEST;

GST_START_TEST (test_escape)
{
  static const struct
  {
    const gchar *in, *out;
  } cases[] = {
    {"plain text, kept", "plain text, kept"},
    {"Ger\xc3\xa4t \xe2\x80\x94 \xe6\x97\xa5",
        "Ger\xc3\xa4t \xe2\x80\x94 \xe6\x97\xa5"},
    /* an OSC title with a bell, a screen clear, a carriage return */
    {"bye \x1b]0;owned\x07\x1b[2J\rx",
        "bye \\x1b]0;owned\\x07\\x1b[2J\\x0dx"},
    /* DEL, a C1 CSI, a right-to-left override */
    {"a\x7f b\xc2\x9b" "31m c\xe2\x80\xae" "d",
        "a\\x7f b\\x9b31m c\\u202ed"},
    /* invalid UTF-8 is replaced, never passed on */
    {"x\xff\xfey", "x\xef\xbf\xbd\xef\xbf\xbdy"},
    /* text escaped once (by the element) is not escaped again */
    {"\\x1b[2J", "\\x1b[2J"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    gchar *got = qs_proto_text_escape (cases[i].in);

    fail_unless_equals_string (got, cases[i].out);
    g_free (got);
  }
}

GST_END_TEST;

static Suite *
status_suite (void)
{
  Suite *s = suite_create ("status");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_full_line);
  tcase_add_test (tc, test_end_to_end_fields);
  tcase_add_test (tc, test_fit_receiver);
  tcase_add_test (tc, test_fit_order);
  tcase_add_test (tc, test_fit_cuts_between_words);
  tcase_add_test (tc, test_meter_holds_and_decays);
  tcase_add_test (tc, test_meter_highest_peak);
  tcase_add_test (tc, test_meter_silence_floor);
  tcase_add_test (tc, test_meter_text);
  tcase_add_test (tc, test_escape);
  tcase_add_test (tc, test_icecast_field);
  tcase_add_test (tc, test_icecast_json);
  tcase_add_test (tc, test_icecast_url);
  return s;
}

GST_CHECK_MAIN (status);
