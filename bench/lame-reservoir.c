/* qsound — what LAME's bit reservoir costs a live mp3 stream.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: lame-reservoir [CHUNK_MS] [KBPS]     defaults: 5, 192
 *
 * Encodes two seconds of 48 kHz stereo noise with libmp3lame itself (CBR,
 * as lamemp3enc target=bitrate cbr=true sets it up), pushed CHUNK_MS at a
 * time, twice: with the bit reservoir (what lamemp3enc always uses; it has
 * no property for it) and without.  After each chunk it counts the frames
 * whose bytes the encoder has handed out in full, and notes for each how
 * much input had been pushed beyond the frame's start: the hold, what a
 * live stream waits for that frame.  Comparable with
 * `codec-delay CHUNK_MS "lamemp3enc target=bitrate cbr=true bitrate=KBPS"`.
 * No sound server needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lame/lame.h>

#define RATE 48000
#define SECONDS 2
#define FRAME 1152              /* samples per MPEG-1 layer III frame */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Length in bytes of the MPEG-1 layer III frame whose header is at @h, or 0
 * if @h is no such header. */
static int
frame_length (const unsigned char *h)
{
  static const int kbps[16] = { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128,
    160, 192, 224, 256, 320, 0
  };
  static const int hz[4] = { 44100, 48000, 32000, 0 };
  int br = kbps[h[2] >> 4], sr = hz[(h[2] >> 2) & 3];

  if (h[0] != 0xff || (h[1] & 0xfe) != 0xfa || br == 0 || sr == 0)
    return 0;
  return 144 * br * 1000 / sr + ((h[2] >> 1) & 1);
}

static int
measure (const short *pcm, int total, int chunk, int kbps, int reservoir,
    double *hold_min, double *hold_max, int *nframes)
{
  lame_global_flags *gf = lame_init ();
  int cap = total * 5 / 4 + 7200, used = 0, pos = 0, pushed = 0, n;
  unsigned char *out = malloc ((size_t) cap);

  lame_set_in_samplerate (gf, RATE);
  lame_set_out_samplerate (gf, RATE);
  lame_set_num_channels (gf, 2);
  lame_set_brate (gf, kbps);
  lame_set_VBR (gf, vbr_off);
  lame_set_bWriteVbrTag (gf, 0);
  lame_set_disable_reservoir (gf, !reservoir);
  if (lame_init_params (gf) < 0) {
    fprintf (stderr, "lame-reservoir: libmp3lame refused %d kbps\n", kbps);
    return -1;
  }
  *hold_min = 1e9;
  *hold_max = 0;
  *nframes = 0;
  while (pushed < total) {
    int len, k = MIN (chunk, total - pushed);

    n = lame_encode_buffer_interleaved (gf, (short *) pcm + 2 * pushed, k,
        out + used, cap - used);
    if (n < 0) {
      fprintf (stderr, "lame-reservoir: libmp3lame failed (%d)\n", n);
      return -1;
    }
    used += n;
    pushed += k;
    /* every frame now complete in the output */
    while (used - pos >= 4 && (len = frame_length (out + pos)) > 0
        && used - pos >= len) {
      double hold = (pushed - (double) *nframes * FRAME) * 1000.0 / RATE;

      /* the first frames carry the encoder's start-up; skip them */
      if (*nframes >= 3) {
        *hold_min = MIN (*hold_min, hold);
        *hold_max = MAX (*hold_max, hold);
      }
      pos += len;
      (*nframes)++;
    }
    if (used - pos >= 4 && frame_length (out + pos) == 0) {
      fprintf (stderr, "lame-reservoir: no frame header at byte %d\n", pos);
      return -1;
    }
  }
  lame_close (gf);
  free (out);
  return 0;
}

int
main (int argc, char **argv)
{
  int chunk_ms = argc > 1 ? atoi (argv[1]) : 5;
  int kbps = argc > 2 ? atoi (argv[2]) : 192;
  int total = RATE * SECONDS, i, r, nframes;
  short *pcm;
  double lo, hi;

  if (chunk_ms < 1 || chunk_ms > 100) {
    fprintf (stderr, "lame-reservoir: CHUNK_MS must be 1..100\n");
    return 1;
  }
  pcm = malloc (sizeof (short) * 2 * (size_t) total);
  srand (1);
  for (i = 0; i < total; i++)
    pcm[2 * i] = pcm[2 * i + 1] = (short) (rand () % 16000 - 8000);
  printf ("libmp3lame %s, CBR %d kbps, %d ms input chunks:\n",
      get_lame_version (), kbps, chunk_ms);
  for (r = 1; r >= 0; r--) {
    if (measure (pcm, total, RATE * chunk_ms / 1000, kbps, r, &lo, &hi,
            &nframes) < 0)
      return 1;
    printf ("  bit reservoir %-3s a frame leaves %.1f..%.1f ms after its "
        "start (%d frames)\n", r ? "on:" : "off:", lo, hi, nframes);
  }
  free (pcm);
  return 0;
}
