/* qsound — runs the WASAPI capture backend for real (under Wine here).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * 1. Loopback on the default render endpoint: either a clear one-sentence
 *    error (Wine refuses loopback) or real frames (Windows).  Never a crash.
 * 2. Unknown devices: a clear error that names the device asked for; a
 *    device asked for by friendly name opens and delivers frames.
 * 3. The same capture path on the default capture endpoint (the runner makes
 *    it the monitor of the sink a known tone plays into): at least 95 % of
 *    the frames of the capture time arrive (captured + silence), and the
 *    level and frequency of the tone are right, across a reopen of the
 *    stream halfway (what a lost device or a default change triggers): the
 *    reopen is marked DISCONT and its time filled with silence.
 *
 * Usage: wasapi-capture-test.exe [--seconds S] [--freq HZ] [--amplitude A]
 *        [--by-name NAME]   (also open the recording device NAME, asked in lower case)
 *        wasapi-capture-test.exe --expect-no-device   (Wine with no audio driver)
 * 4. With --expect-no-device (Wine without an audio driver): clear errors.
 *
 * Prints one line per step and a final PASS/FAIL line; exits non-zero on failure.
 */
#include <windows.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qscapture-private.h"

static double
now_seconds (void)
{
  LARGE_INTEGER t, f;

  QueryPerformanceCounter (&t);
  QueryPerformanceFrequency (&f);
  return (double) t.QuadPart / (double) f.QuadPart;
}

static const char *
format_name (QsSampleFormat f)
{
  switch (f) {
    case QS_SAMPLE_S16LE:
      return "S16LE";
    case QS_SAMPLE_S24_32LE:
      return "S24_32LE";
    case QS_SAMPLE_S32LE:
      return "S32LE";
    case QS_SAMPLE_F32LE:
      return "F32LE";
    default:
      return "?";
  }
}

/* channel 0 of frame i as a float in [-1, 1] */
static double
sample_at (const QsCaptureFormat * fmt, const unsigned char *frames, size_t i)
{
  size_t bpf = qs_capture_bytes_per_frame (fmt);
  const unsigned char *p = frames + i * bpf;

  switch (fmt->format) {
    case QS_SAMPLE_S16LE:{
      int16_t v;
      memcpy (&v, p, 2);
      return v / 32768.0;
    }
    case QS_SAMPLE_S24_32LE:{
      int32_t v;
      memcpy (&v, p, 4);
      return v / 8388608.0;
    }
    case QS_SAMPLE_S32LE:{
      int32_t v;
      memcpy (&v, p, 4);
      return v / 2147483648.0;
    }
    case QS_SAMPLE_F32LE:{
      float v;
      memcpy (&v, p, 4);
      return v;
    }
  }
  return 0.0;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* A clear error: one sentence, non-empty, with the HRESULT or a fix. */
static int
clear_error (const char *err)
{
  return err[0] != '\0' && strchr (err, '\n') == NULL && strlen (err) > 20;
}

static int
check_loopback (void)
{
  QsCaptureFormat fmt;
  QsCaptureStats st;
  char err[512] = "";
  QsCapture *cap;
  unsigned char *buf;
  double t0;
  uint64_t got;

  cap = qs_capture_wasapi_open (NULL, &fmt, err, sizeof (err));
  if (!cap) {
    if (!clear_error (err) || strstr (err, "0x") == NULL) {
      printf ("loopback: FAIL: refused without a clear error: '%s'\n", err);
      return 0;
    }
    printf ("loopback: refused with a clear error: %s\n", err);
    return 1;
  }
  /* a real loopback (Windows): frames must flow even in silence */
  buf = malloc (qs_capture_bytes_per_frame (&fmt) * 4096);
  t0 = now_seconds ();
  while (now_seconds () - t0 < 1.0) {
    unsigned flags;
    int n = qs_capture_read (cap, buf, 4096, 200, &flags);

    if (n == QS_CAPTURE_ERROR) {
      printf ("loopback: FAIL: %s\n", qs_capture_get_error (cap));
      qs_capture_close (cap);
      free (buf);
      return 0;
    }
  }
  qs_capture_get_stats (cap, &st);
  got = st.frames_captured + st.frames_silence;
  printf ("loopback: opened '%s' %u Hz %u ch %s, %llu frames in 1 s "
      "(captured %llu, silence %llu)\n", qs_capture_get_device (cap), fmt.rate,
      fmt.channels, format_name (fmt.format), (unsigned long long) got,
      (unsigned long long) st.frames_captured,
      (unsigned long long) st.frames_silence);
  qs_capture_close (cap);
  free (buf);
  if (got < fmt.rate / 2) {
    printf ("loopback: FAIL: fewer than half a second of frames in 1 s\n");
    return 0;
  }
  return 1;
}

static int
check_unknown_device (int flow)
{
  const char *name = "qsound-no-such-device";
  QsCaptureFormat fmt;
  char err[512] = "";
  QsCapture *cap;

  cap = qs_capture_wasapi_open_ex (name, flow, &fmt, err, sizeof (err));
  if (cap) {
    printf ("unknown device: FAIL: '%s' opened\n", name);
    qs_capture_close (cap);
    return 0;
  }
  if (!clear_error (err) || strstr (err, name) == NULL) {
    printf ("unknown device: FAIL: unclear error '%s'\n", err);
    return 0;
  }
  printf ("unknown %s: %s\n", flow == QS_WASAPI_FLOW_CAPTURE ?
      "recording device" : "output", err);
  return 1;
}

/* A device asked for by friendly name (any case) opens and delivers frames. */
static int
check_named_device (const char *name)
{
  QsCaptureFormat fmt;
  char err[512] = "", lower[256];
  QsCapture *cap;
  unsigned char *buf;
  double t0;
  int got = 0;
  size_t i;

  for (i = 0; name[i] && i + 1 < sizeof (lower); i++)
    lower[i] = (char) tolower ((unsigned char) name[i]);
  lower[i] = '\0';
  cap = qs_capture_wasapi_open_ex (lower, QS_WASAPI_FLOW_CAPTURE, &fmt, err,
      sizeof (err));
  if (!cap) {
    printf ("named device: FAIL: '%s': %s\n", lower, err);
    return 0;
  }
  buf = malloc (qs_capture_bytes_per_frame (&fmt) * 4096);
  t0 = now_seconds ();
  while (got == 0 && now_seconds () - t0 < 5.0) {
    unsigned flags;
    int n = qs_capture_read (cap, buf, 4096, 200, &flags);

    if (n < 0)
      break;
    got = n;
  }
  printf ("named device: '%s' opened '%s' and delivered %d frames\n", lower,
      qs_capture_get_device (cap), got);
  if (strcmp (qs_capture_get_device (cap), name) != 0 || got <= 0) {
    printf ("named device: FAIL: expected '%s' delivering frames\n", name);
    got = 0;
  }
  qs_capture_close (cap);
  free (buf);
  return got > 0;
}

/* With no audio device at all: clear errors for loopback and capture. */
static int
check_no_device (void)
{
  static const struct
  {
    int flow;
    const char *expect;
  } cases[] = {
    {QS_WASAPI_FLOW_LOOPBACK, "there is no audio output to capture"},
    {QS_WASAPI_FLOW_CAPTURE, "there is no recording device to capture"},
  };
  int ok = 1;

  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
    QsCaptureFormat fmt;
    char err[512] = "";
    QsCapture *cap;

    cap = qs_capture_wasapi_open_ex (NULL, cases[i].flow, &fmt, err,
        sizeof (err));
    if (cap) {
      printf ("no device: FAIL: the default %s opened\n",
          cases[i].flow == QS_WASAPI_FLOW_CAPTURE ? "recording device" :
          "output");
      qs_capture_close (cap);
      ok = 0;
    } else if (!clear_error (err) || strstr (err, cases[i].expect) == NULL
        || strstr (err, "0x") == NULL) {
      printf ("no device: FAIL: unclear error '%s'\n", err);
      ok = 0;
    } else {
      printf ("no device: %s\n", err);
    }
  }
  return ok;
}

int
main (int argc, char **argv)
{
  double seconds = 3.0, freq = 1000.0, amplitude = 0.5;
  const char *by_name = NULL;
  QsCaptureFormat fmt;
  QsCaptureStats st;
  char err[512] = "", device_now[256];
  QsCapture *cap;
  unsigned char *all, *buf;
  size_t bpf, cap_frames, have = 0;
  double t_open, t_first = 0.0, t_close;
  unsigned discont_reads = 0;
  int reopened = 0;
  int ok = 1, i;

  for (i = 1; i + 1 < argc; i += 2) {
    if (strcmp (argv[i], "--seconds") == 0)
      seconds = atof (argv[i + 1]);
    else if (strcmp (argv[i], "--freq") == 0)
      freq = atof (argv[i + 1]);
    else if (strcmp (argv[i], "--amplitude") == 0)
      amplitude = atof (argv[i + 1]);
    else if (strcmp (argv[i], "--by-name") == 0)
      by_name = argv[i + 1];
  }
  setvbuf (stdout, NULL, _IONBF, 0);

  if (argc > 1 && strcmp (argv[1], "--expect-no-device") == 0) {
    ok = check_no_device ();
    printf ("wasapi-capture-test: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
  }

  ok &= check_loopback ();
  ok &= check_unknown_device (QS_WASAPI_FLOW_LOOPBACK);
  ok &= check_unknown_device (QS_WASAPI_FLOW_CAPTURE);
  if (by_name)
    ok &= check_named_device (by_name);

  t_open = now_seconds ();
  cap = qs_capture_wasapi_open_ex (NULL, QS_WASAPI_FLOW_CAPTURE, &fmt, err,
      sizeof (err));
  if (!cap) {
    printf ("capture: FAIL: %s\n", err);
    printf ("wasapi-capture-test: FAIL\n");
    return 1;
  }
  printf ("capture: opened '%s' %u Hz %u ch %s mask 0x%llx in %.0f ms\n",
      qs_capture_get_device (cap), fmt.rate, fmt.channels,
      format_name (fmt.format), (unsigned long long) fmt.channel_mask,
      (now_seconds () - t_open) * 1000.0);

  bpf = qs_capture_bytes_per_frame (&fmt);
  cap_frames = (size_t) (fmt.rate * (seconds + 2.0));
  all = malloc (cap_frames * bpf);
  buf = malloc (4096 * bpf);
  for (;;) {
    unsigned flags = 0;
    int n = qs_capture_read (cap, buf, 4096, 500, &flags);

    if (n == QS_CAPTURE_ERROR) {
      printf ("capture: FAIL: %s\n", qs_capture_get_error (cap));
      ok = 0;
      break;
    }
    if (n > 0) {
      if (t_first == 0.0)
        t_first = now_seconds ();
      if (flags & QS_CAPTURE_DISCONT)
        discont_reads++;
      if (have + (size_t) n <= cap_frames) {
        memcpy (all + have * bpf, buf, (size_t) n * bpf);
        have += (size_t) n;
      }
    }
    if (!reopened && t_first != 0.0 && now_seconds () - t_first >= seconds / 2) {
      /* halfway: the reopen path a lost device takes, while the tone plays */
      qs_capture_wasapi_reopen (cap);
      reopened = 1;
    }
    if (t_first != 0.0 && now_seconds () - t_first >= seconds)
      break;
    if (t_first == 0.0 && now_seconds () - t_open > 10.0) {
      printf ("capture: FAIL: no frame within 10 s\n");
      ok = 0;
      break;
    }
  }
  qs_capture_get_stats (cap, &st);
  snprintf (device_now, sizeof (device_now), "%s", qs_capture_get_device (cap));
  t_close = now_seconds ();
  qs_capture_close (cap);
  t_close = now_seconds () - t_close;

  {
    double expected = fmt.rate * seconds;
    uint64_t got = st.frames_captured + st.frames_silence;
    double share = got / expected;
    /* analyse channel 0 after the first half second (start-up transients) */
    size_t from = fmt.rate / 2, n = have > from ? have - from : 0, k;
    double sum2 = 0.0, peak = 0.0, est_freq = 0.0, rms = 0.0;
    double want_rms = amplitude / sqrt (2.0);
    /* intervals between upward zero crossings: their median gives the
     * frequency, unaffected by the silence filled in at the reopen */
    double *intervals = malloc ((n + 1) * sizeof (double));
    size_t crossings = 0;
    double last_cross = -1.0;

    for (k = 0; k < n; k++) {
      double v = sample_at (&fmt, all, from + k);

      sum2 += v * v;
      if (fabs (v) > peak)
        peak = fabs (v);
      if (k > 0) {
        double prev = sample_at (&fmt, all, from + k - 1);

        if (prev < 0.0 && v >= 0.0) {
          /* interpolated time of the upward zero crossing */
          double at = (k - 1) + prev / (prev - v);

          if (last_cross >= 0.0)
            intervals[crossings++] = at - last_cross;
          last_cross = at;
        }
      }
    }
    if (n > 0)
      rms = sqrt (sum2 / n);
    if (crossings > 0) {
      qsort (intervals, crossings, sizeof (double), compare_double);
      est_freq = fmt.rate / intervals[crossings / 2];
    }
    free (intervals);

    printf ("capture: %llu of %.0f frames in %.1f s (%.1f %%): captured %llu, "
        "silence %llu, lost %llu, discontinuities %llu (%u reads), switches %llu; "
        "now '%s'; channel 0: rms %.4f "
        "(played %.4f), peak %.4f, %.1f Hz; close took %.0f ms\n",
        (unsigned long long) got, expected, seconds, share * 100.0,
        (unsigned long long) st.frames_captured,
        (unsigned long long) st.frames_silence,
        (unsigned long long) st.frames_lost,
        (unsigned long long) st.discontinuities, discont_reads,
        (unsigned long long) st.device_switches, device_now, rms, want_rms, peak, est_freq,
        t_close * 1000.0);

    if (share < 0.95) {
      printf ("capture: FAIL: fewer than 95 %% of the frames arrived\n");
      ok = 0;
    }
    if (n == 0 || fabs (20.0 * log10 ((rms + 1e-12) / want_rms)) > 1.0) {
      printf ("capture: FAIL: level %.4f is not within 1 dB of %.4f\n", rms,
          want_rms);
      ok = 0;
    }
    if (fabs (peak - amplitude) > 0.1 * amplitude) {
      printf ("capture: FAIL: peak %.4f is not within 10 %% of %.4f\n", peak,
          amplitude);
      ok = 0;
    }
    if (fabs (est_freq - freq) > 0.02 * freq) {
      printf ("capture: FAIL: frequency %.1f Hz is not within 2 %% of %.1f Hz\n",
          est_freq, freq);
      ok = 0;
    }
    if (reopened && (discont_reads == 0 || st.discontinuities == 0)) {
      printf ("capture: FAIL: no read was flagged DISCONT after the reopen\n");
      ok = 0;
    }
    /* a closed stream loses what was in flight (about 100 ms under Wine):
     * that gap must come back as silence, not vanish */
    if (reopened && st.frames_silence == 0) {
      printf ("capture: FAIL: the reopen's gap was not filled with silence\n");
      ok = 0;
    }
    if (strcmp (device_now, "") == 0) {
      printf ("capture: FAIL: no device name after the reopen\n");
      ok = 0;
    }
    if (t_close > 5.0) {
      printf ("capture: FAIL: closing took %.1f s\n", t_close);
      ok = 0;
    }
  }
  free (all);
  free (buf);
  printf ("wasapi-capture-test: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
