/* qsound — drift benchmark: does the receiver's delay after ten minutes equal
 * its delay after one?
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Three sender/receiver pairs run side by side over real sockets on
 * 127.0.0.1: a sender whose sound card runs 0.1 % fast, one 0.1 % slow (each
 * into audiojitterbuffer with drift correction) and the fast one again with
 * correction off (max-correction=0), which is what a receiver without drift
 * correction does.  Each minute it prints every pair's measured latency, the
 * mean correction over that minute and the counters.
 *
 *   GST_PLUGIN_PATH=build/plugins/qsound QSOUND_SOURCE_ROOT=. \
 *     build/bench/drift-bench [MINUTES (10)] [PPM (1000)] [TARGET_MS (60)]
 */
#include "jitterrig.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct
{
  const gchar *name;
  gdouble factor;
  const gchar *jb_props;
  Rig rig;
  gdouble ppm_sum;
  guint ppm_n;
} Pair;

int
main (int argc, char **argv)
{
  guint minutes = argc > 1 ? atoi (argv[1]) : 10;
  gdouble ppm = argc > 2 ? atof (argv[2]) : 1000.0;
  GstClockTime target = (argc > 3 ? atoi (argv[3]) : 60) * GST_MSECOND;
  Pair pairs[3] = {
    {"fast, corrected", 1.0 + ppm * 1e-6, NULL},
    {"slow, corrected", 1.0 - ppm * 1e-6, NULL},
    {"fast, uncorrected", 1.0 + ppm * 1e-6, "max-correction=0"},
  };
  guint i, s;

  gst_init (&argc, &argv);
  g_print ("drift-bench: %u min, senders %+.0f / %+.0f ppm, target %" G_GUINT64_FORMAT
      " ms, sink fakesink sync=true on the system clock\n", minutes, ppm, -ppm,
      target / GST_MSECOND);
  for (i = 0; i < G_N_ELEMENTS (pairs); i++) {
    Rig *rig = &pairs[i].rig;
    gint port;
    gchar *props;

    g_mutex_init (&rig->lock);
    port = rig_start_sender (rig, pairs[i].factor);
    props = g_strdup_printf ("mode=client host=127.0.0.1 port=%d", port);
    rig_start_receiver (rig, props, target, pairs[i].jb_props);
    g_free (props);
  }
  g_usleep (2 * G_USEC_PER_SEC);
  for (i = 0; i < G_N_ELEMENTS (pairs); i++)
    rig_check_clicks_from_now (&pairs[i].rig);

  g_print ("%-4s", "min");
  for (i = 0; i < G_N_ELEMENTS (pairs); i++)
    g_print (" | %-42s", pairs[i].name);
  g_print ("\n%-4s", "");
  for (i = 0; i < G_N_ELEMENTS (pairs); i++)
    g_print (" | %8s %8s %6s %5s %4s %5s", "lat ms", "ppm", "relock", "under",
        "drop", "click");
  g_print ("\n");
  for (s = 1; s <= minutes * 60; s++) {
    g_usleep (G_USEC_PER_SEC);
    for (i = 0; i < G_N_ELEMENTS (pairs); i++) {
      RigStats st;

      rig_check_bus (pairs[i].rig.sender, "sender");
      rig_check_bus (pairs[i].rig.receiver, "receiver");
      st = rig_stats (&pairs[i].rig);
      pairs[i].ppm_sum += st.ppm;
      pairs[i].ppm_n++;
    }
    if (s % 60 != 0)
      continue;
    g_print ("%-4u", s / 60);
    for (i = 0; i < G_N_ELEMENTS (pairs); i++) {
      RigStats st = rig_stats (&pairs[i].rig);

      g_print (" | %8.2f %8.0f %6u %5u %4.0f %5u", st.latency_ms,
          pairs[i].ppm_sum / pairs[i].ppm_n, st.corrections, st.underruns,
          st.dropped * 1000.0 / RIG_RATE, rig_clicks (&pairs[i].rig));
      pairs[i].ppm_sum = 0;
      pairs[i].ppm_n = 0;
    }
    g_print ("\n");
    fflush (stdout);
  }
  g_print ("(lat: measured latency; ppm: mean correction over the minute; "
      "relock: re-locks so far; under: underruns; drop: ms of audio dropped "
      "as stale; click: discontinuities in the output sine)\n");
  for (i = 0; i < G_N_ELEMENTS (pairs); i++) {
    rig_stop_receiver (&pairs[i].rig);
    rig_stop_sender (&pairs[i].rig);
  }
  return 0;
}
