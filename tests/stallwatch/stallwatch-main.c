/* qsound — stallwatch as a program, for the Python test rigs.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: stallwatch [THRESHOLD_MS]   (default 15)
 *
 * Prints "stallwatch realtime|normal THRESHOLD_MS", then one line per stall
 * as it is seen, "stall START_S LENGTH_MS cpuN" (START_S on the monotonic
 * clock, as Python's time.monotonic()), and at SIGINT or SIGTERM
 * "steal PERCENT" (the host's share of the CPUs' time meanwhile; -1 when
 * unknown) before it exits 0.  tests/e2e/stallwatch.py reads it.
 */
#include "stallwatch.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct
{
  StallWatch *watch;
  guint printed;
  GMainLoop *loop;
} App;

static void
print_new (App * app)
{
  GArray *ev = stall_watch_events (app->watch);

  for (; app->printed < ev->len; app->printed++) {
    const StallEvent *e = &g_array_index (ev, StallEvent, app->printed);

    printf ("stall %.6f %.3f cpu%d\n", e->start_us / 1e6, e->length_us / 1e3,
        e->cpu);
  }
  fflush (stdout);
  g_array_unref (ev);
}

static gboolean
on_tick (gpointer data)
{
  print_new (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (((App *) data)->loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  App app = { 0, };
  gdouble threshold_ms = 15.0;
  gchar *end = NULL;

  if (argc > 2 || (argc == 2 && ((threshold_ms = g_ascii_strtod (argv[1],
                  &end)) <= 0.0 || *end))) {
    fprintf (stderr, "usage: stallwatch [THRESHOLD_MS]  (a stall is a "
        "wake-up that late or later; default 15)\n");
    return 2;
  }
  app.watch = stall_watch_start ((gint64) (threshold_ms * 1000.0));
  app.loop = g_main_loop_new (NULL, FALSE);
  /* the threads set their scheduling as they start */
  g_usleep (20000);
  printf ("stallwatch %s %.1f\n", stall_watch_realtime (app.watch) ?
      "realtime" : "normal", threshold_ms);
  fflush (stdout);
  g_timeout_add (100, on_tick, &app);
  g_unix_signal_add (SIGINT, on_signal, &app);
  g_unix_signal_add (SIGTERM, on_signal, &app);
  g_main_loop_run (app.loop);
  stall_watch_stop (app.watch);
  print_new (&app);
  printf ("steal %.2f\n", stall_watch_steal (app.watch) * 100.0);
  fflush (stdout);
  stall_watch_free (app.watch);
  g_main_loop_unref (app.loop);
  return 0;
}
