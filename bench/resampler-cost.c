/* qsound — what GStreamer's resampler costs and how clean it stays, in the
 * configuration audiojitterbuffer steers and in the one stock audioresample
 * picks for a fixed ratio.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: resampler-cost [SECONDS]   (default 60)
 *
 * Feeds SECONDS of 48 kHz stereo F32 (a 1 kHz sine left, a 19 kHz sine
 * right, both at -6 dBFS) through GstAudioResampler in 10 ms pieces, with
 * nothing else in the way: no pipeline, no pacing, no element.  For each
 * configuration and each rate correction (about 0, +1000 and -1000 ppm) it
 * prints the thread CPU time spent resampling per second of audio (best of
 * three passes) and, for each channel, the signal to noise-and-distortion
 * ratio of the output: the output after its first second, fitted by least
 * squares with a sine at the frequency the ratio makes of the input's, and
 * the residual's power against the sine's.
 *
 * Then, for the configurations that can be steered, it steers the ratio
 * as the element does (an update every 200 ms, around +1000 ppm) over the
 * jitter tests' sine and counts clicks by their criterion (jitterrig.h:
 * a second difference beyond RIG_CLICK, where the sine's own is 0.003).
 *
 * The configurations: audiojitterbuffer's own (Kaiser, default quality,
 * interpolated filter with cubic interpolation between its phases, variable
 * rate: the ratio is steered while it runs, so no table of every phase can
 * be built), the same with linear interpolation (half the CPU, and as clean
 * at a fixed ratio, but see the clicks), and stock audioresample's choice
 * for the fixed ratio 48000 -> 48048 Hz (Kaiser, default quality, filter
 * mode auto: a full table of the 1001 phases).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include <gst/gst.h>
#include <gst/audio/audio.h>

#include "jitterrig.h"

#define RATE 48000
#define CHANNELS 2
#define BLOCK 480               /* 10 ms */
#define PASSES 3
static const double freq[CHANNELS] = { 1000.0, 19000.0 };

typedef struct
{
  const gchar *name;
  GstAudioResamplerFilterMode mode;
  GstAudioResamplerFilterInterpolation interp;
  gboolean variable;            /* steered by a large fixed denominator */
} Config;

static const Config configs[] = {
  {"audiojitterbuffer (interpolated, cubic)",
      GST_AUDIO_RESAMPLER_FILTER_MODE_INTERPOLATED,
      GST_AUDIO_RESAMPLER_FILTER_INTERPOLATION_CUBIC, TRUE},
  {"the same, linear interpolation",
      GST_AUDIO_RESAMPLER_FILTER_MODE_INTERPOLATED,
      GST_AUDIO_RESAMPLER_FILTER_INTERPOLATION_LINEAR, TRUE},
  {"audioresample 48000 -> 48048 (full table)",
      GST_AUDIO_RESAMPLER_FILTER_MODE_AUTO,
      GST_AUDIO_RESAMPLER_FILTER_INTERPOLATION_CUBIC, FALSE},
};

static double
thread_cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The ratio as audiojitterbuffer sets it: in_rate / out_rate with out_rate
 * RATE * 1000, never exactly 1 (see gst_audio_jitter_buffer_resampler_setup) */
static GstAudioResampler *
make_resampler (const Config * c, double ppm, gint * in_rate, gint * out_rate)
{
  GstStructure *opts = gst_structure_new_empty ("resampler-cost");
  GstAudioResampler *rs;

  if (c->variable) {
    *out_rate = RATE * 1000;
    *in_rate = (gint) llround (*out_rate * (1.0 + ppm * 1e-6));
    if (*in_rate == *out_rate)
      (*in_rate)++;
  } else {
    *in_rate = RATE;
    *out_rate = RATE + RATE / 1000;
  }
  gst_audio_resampler_options_set_quality (GST_AUDIO_RESAMPLER_METHOD_KAISER,
      GST_AUDIO_RESAMPLER_QUALITY_DEFAULT, *in_rate, *out_rate, opts);
  gst_structure_set (opts, GST_AUDIO_RESAMPLER_OPT_FILTER_MODE,
      GST_TYPE_AUDIO_RESAMPLER_FILTER_MODE, c->mode,
      GST_AUDIO_RESAMPLER_OPT_FILTER_INTERPOLATION,
      GST_TYPE_AUDIO_RESAMPLER_FILTER_INTERPOLATION, c->interp, NULL);
  rs = gst_audio_resampler_new (GST_AUDIO_RESAMPLER_METHOD_KAISER,
      c->variable ? GST_AUDIO_RESAMPLER_FLAG_VARIABLE_RATE : 0,
      GST_AUDIO_FORMAT_F32, CHANNELS, *in_rate, *out_rate, opts);
  gst_structure_free (opts);
  return rs;
}

/* Signal to noise-and-distortion of x[ch] (frames n, interleaved) against
 * the best-fitting sine of frequency f (cycles per output frame). */
static double
sinad_db (const float *x, gsize n, guint ch, double f)
{
  double ss = 0, sc = 0, cc = 0, xs = 0, xc = 0, xx = 0, a, b, det, fit;
  gsize i;

  for (i = 0; i < n; i++) {
    double s = sin (2 * G_PI * f * i), c = cos (2 * G_PI * f * i);
    double v = x[i * CHANNELS + ch];

    ss += s * s;
    sc += s * c;
    cc += c * c;
    xs += v * s;
    xc += v * c;
    xx += v * v;
  }
  det = ss * cc - sc * sc;
  a = (xs * cc - xc * sc) / det;
  b = (xc * ss - xs * sc) / det;
  fit = a * xs + b * xc;        /* power of the fitted sine, summed */
  return 10.0 * log10 (fit / MAX (xx - fit, 1e-30));
}

static void
run (const Config * c, double ppm, guint seconds)
{
  gsize frames = (gsize) seconds * RATE, out_cap = frames + frames / 100 + 4096;
  float *in = g_new (float, frames * CHANNELS);
  float *out = g_new0 (float, out_cap * CHANNELS);
  double best = G_MAXDOUBLE, ratio = 0;
  gsize i, made = 0;
  guint ch, pass;

  for (i = 0; i < frames; i++)
    for (ch = 0; ch < CHANNELS; ch++)
      in[i * CHANNELS + ch] = (float) (0.5 * sin (2 * G_PI * freq[ch] * i /
              RATE));

  for (pass = 0; pass < PASSES; pass++) {
    gint in_rate, out_rate;
    GstAudioResampler *rs = make_resampler (c, ppm, &in_rate, &out_rate);
    double t0, t = 0;

    made = 0;
    ratio = (double) out_rate / in_rate;
    for (i = 0; i + BLOCK <= frames; i += BLOCK) {
      gpointer ip = in + i * CHANNELS, op = out + made * CHANNELS;
      gsize n = gst_audio_resampler_get_out_frames (rs, BLOCK);

      if (made + n > out_cap)
        break;
      t0 = thread_cpu_seconds ();
      gst_audio_resampler_resample (rs, &ip, BLOCK, &op, n);
      t += thread_cpu_seconds () - t0;
      made += n;
    }
    gst_audio_resampler_free (rs);
    best = MIN (best, t);
  }

  printf ("  %-42s %+6.0f ppm  %6.2f ms/s", c->name, c->variable ? ppm :
      (ratio - 1) * 1e6, 1000.0 * best / seconds);
  for (ch = 0; ch < CHANNELS; ch++) {
    /* skip the first second: the filter's start */
    gsize skip = MIN ((gsize) RATE, made / 2);

    printf ("  %5.0f Hz %6.1f dB", freq[ch], sinad_db (out + skip * CHANNELS,
            made - skip, ch, freq[ch] / RATE / ratio));
  }
  printf ("\n");
  g_free (in);
  g_free (out);
}

/* Clicks in the jitter tests' sine (one channel of the stereo input) while
 * the ratio is updated every 200 ms around +1000 ppm (+-50 ppm). */
static guint
steered_clicks (const Config * c, guint seconds)
{
  gint in_rate, out_rate;
  GstAudioResampler *rs = make_resampler (c, 1000, &in_rate, &out_rate);
  float in[BLOCK * CHANNELS], out[2 * BLOCK * CHANNELS];
  float p1 = 0, p2 = 0;
  guint64 n = 0, k = 0;
  guint clicks = 0, b, i, ch;

  for (b = 0; b < seconds * (RATE / BLOCK); b++) {
    gpointer ip = in, op = out;
    gsize o;

    for (i = 0; i < BLOCK; i++, k++)
      for (ch = 0; ch < CHANNELS; ch++)
        in[i * CHANNELS + ch] = (float) (RIG_AMPLITUDE * sin (2 * G_PI *
                RIG_FREQ * k / RATE));
    if (b % 20 == 0) {
      double ppm = 1000.0 + 50.0 * sin (b / 100.0);

      gst_audio_resampler_update (rs, (gint) llround (out_rate * (1.0 +
                  ppm * 1e-6)), out_rate, NULL);
    }
    o = gst_audio_resampler_get_out_frames (rs, BLOCK);
    gst_audio_resampler_resample (rs, &ip, BLOCK, &op, o);
    for (i = 0; i < o; i++, n++) {
      float v = out[i * CHANNELS], d2 = v - 2 * p1 + p2;

      /* past the filter's start */
      if (n > 2 * BLOCK && fabsf (d2) > RIG_CLICK)
        clicks++;
      p2 = p1;
      p1 = v;
    }
  }
  gst_audio_resampler_free (rs);
  return clicks;
}

int
main (int argc, char **argv)
{
  guint seconds = argc > 1 ? (guint) atoi (argv[1]) : 60;
  static const double ppms[] = { 0, 1000, -1000 };
  guint k, p;

  gst_init (&argc, &argv);
  if (seconds < 2) {
    fprintf (stderr, "resampler-cost: SECONDS must be 2 or more.\n");
    return 2;
  }
  printf ("GstAudioResampler, 48 kHz stereo F32 in 10 ms pieces, %u s, "
      "Kaiser default quality; thread CPU per second of audio (best of %d) "
      "and signal to noise-and-distortion per channel\n", seconds, PASSES);
  for (k = 0; k < G_N_ELEMENTS (configs); k++)
    for (p = 0; p < (configs[k].variable ? G_N_ELEMENTS (ppms) : 1); p++)
      run (&configs[k], ppms[p], seconds);
  printf ("\nSteered as audiojitterbuffer steers it (an update every 200 ms "
      "around +1000 ppm), %u s of a %.0f Hz sine:\n", seconds, RIG_FREQ);
  for (k = 0; k < G_N_ELEMENTS (configs); k++)
    if (configs[k].variable)
      printf ("  %-42s %u clicks\n", configs[k].name,
          steered_clicks (&configs[k], seconds));
  return 0;
}
