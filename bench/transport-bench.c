/* qsound — transport benchmark: 4 KiB buffers through framedtcpsink to
 * framedtcpsrc, in clear and sealed (key set on both ends), beside stock
 * tcpserversink ! tcpclientsrc and gdppay ! tcp ! gdpdepay, measured in the
 * same run on 127.0.0.1.  Also the time to stretch a key once (Argon2id).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: transport-bench [MEGABYTES] [ROUNDS]      (default 512 MiB, 3 rounds)
 * Prints throughput (MB/s at the receiver) and CPU seconds per GB (both
 * ends, user + system, this process) for each chain; the median round; and
 * which cipher sealed the sealed chain (framedtcpsrc's stats).
 */
#include <gst/gst.h>
#include <sys/resource.h>

#include "qsoundproto.h"
#include <stdlib.h>
#include <string.h>

#define BUF_SIZE 4096

typedef struct
{
  const gchar *name;
  const gchar *sender;          /* %d = port (0 where the server picks) */
  const gchar *receiver;        /* %d = port */
} Chain;

static const Chain chains[] = {
  {"framedtcpsink -> framedtcpsrc",
        "fakesrc name=src sizetype=fixed sizemax=4096 filltype=zero num-buffers=%u ! application/x-bench "
        "! framedtcpsink name=net port=0",
      "framedtcpsrc name=rx port=%d ! fakesink name=out sync=false"},
  {"framedtcp sealed (key)",
        "fakesrc name=src sizetype=fixed sizemax=4096 filltype=zero num-buffers=%u ! application/x-bench "
        "! framedtcpsink name=net port=0 key=bench-key",
      "framedtcpsrc name=rx port=%d key=bench-key ! fakesink name=out sync=false"},
  {"tcpserversink -> tcpclientsrc (stock)",
        "fakesrc name=src sizetype=fixed sizemax=4096 filltype=zero num-buffers=%u ! application/x-bench "
        "! tcpserversink name=net port=0",
      "tcpclientsrc port=%d ! fakesink name=out sync=false"},
  {"gdppay/tcp/gdpdepay (stock)",
        "fakesrc name=src sizetype=fixed sizemax=4096 filltype=zero num-buffers=%u ! application/x-bench "
        "! gdppay ! tcpserversink name=net port=0",
      "tcpclientsrc port=%d ! gdpdepay ! fakesink name=out sync=false"},
};

typedef struct
{
  guint64 bytes;
  guint64 target;
  GMutex lock;
  GCond cond;
} Counter;

static GstPadProbeReturn
count_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Counter *c = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  g_mutex_lock (&c->lock);
  c->bytes += gst_buffer_get_size (buf);
  if (c->bytes >= c->target)
    g_cond_signal (&c->cond);
  g_mutex_unlock (&c->lock);
  return GST_PAD_PROBE_OK;
}

static gdouble
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
      ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static gint
get_port (GstElement * net)
{
  gint port = 0;

  /* framedtcpsink and tcpserversink both have current-port */
  g_object_get (net, "current-port", &port, NULL);
  return port;
}

static void
wait_receiver_connected (GstElement * net)
{
  gint64 until = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  while (g_get_monotonic_time () < until) {
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (net), "stats")
        && g_type_is_a (G_OBJECT_TYPE (net), g_type_from_name
            ("GstFramedTcpSink"))) {
      GstStructure *s;
      guint clients = 0;

      g_object_get (net, "stats", &s, NULL);
      gst_structure_get_uint (s, "clients", &clients);
      gst_structure_free (s);
      if (clients > 0)
        return;
    } else {
      gint clients = 0;

      g_object_get (net, "num-handles", &clients, NULL);
      if (clients > 0)
        return;
    }
    g_usleep (5000);
  }
  g_printerr ("the receiver did not connect\n");
  exit (1);
}

/* framedtcpsrc's cipher for the sender it has, or NULL (stock chains) */
static gchar *
receiver_cipher (GstElement * receiver)
{
  GstElement *rx = gst_bin_get_by_name (GST_BIN (receiver), "rx");
  GstStructure *s = NULL;
  gchar *cipher = NULL;

  if (!rx)
    return NULL;
  g_object_get (rx, "stats", &s, NULL);
  if (s) {
    cipher = g_strdup (gst_structure_get_string (s, "cipher"));
    gst_structure_free (s);
  }
  gst_object_unref (rx);
  return cipher;
}

static gboolean
run_chain (const Chain * chain, guint64 bytes, gdouble * mbps, gdouble * cpu_gb,
    gchar ** cipher)
{
  guint nbuf = bytes / BUF_SIZE;
  gchar *desc;
  GstElement *sender, *receiver, *net, *out;
  GstPad *pad;
  Counter c = { 0, };
  GError *err = NULL;
  gint64 t0, t1;
  gdouble cpu0, cpu1;
  gboolean ok = TRUE;

  c.target = (guint64) nbuf * BUF_SIZE;
  g_mutex_init (&c.lock);
  g_cond_init (&c.cond);

  desc = g_strdup_printf (chain->sender, nbuf);
  sender = gst_parse_launch (desc, &err);
  g_free (desc);
  if (!sender) {
    g_printerr ("%s: %s\n", chain->name, err->message);
    return FALSE;
  }
  net = gst_bin_get_by_name (GST_BIN (sender), "net");
  gst_element_set_state (sender, GST_STATE_PAUSED);
  gst_element_get_state (net, NULL, NULL, 100 * GST_MSECOND);

  desc = g_strdup_printf (chain->receiver, get_port (net));
  receiver = gst_parse_launch (desc, &err);
  g_free (desc);
  out = gst_bin_get_by_name (GST_BIN (receiver), "out");
  pad = gst_element_get_static_pad (out, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_probe, &c, NULL);
  gst_object_unref (pad);
  gst_element_set_state (receiver, GST_STATE_PLAYING);
  wait_receiver_connected (net);

  cpu0 = cpu_seconds ();
  t0 = g_get_monotonic_time ();
  gst_element_set_state (sender, GST_STATE_PLAYING);
  g_mutex_lock (&c.lock);
  while (c.bytes < c.target) {
    if (!g_cond_wait_until (&c.cond, &c.lock,
            g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND)) {
      g_printerr ("%s: stalled at %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
          " bytes\n", chain->name, c.bytes, c.target);
      ok = FALSE;
      break;
    }
  }
  g_mutex_unlock (&c.lock);
  t1 = g_get_monotonic_time ();
  cpu1 = cpu_seconds ();

  *mbps = c.bytes / 1e6 / ((t1 - t0) / 1e6);
  *cpu_gb = (cpu1 - cpu0) / (c.bytes / 1e9);
  g_free (*cipher);
  *cipher = receiver_cipher (receiver);

  gst_element_set_state (receiver, GST_STATE_NULL);
  gst_element_set_state (sender, GST_STATE_NULL);
  gst_object_unref (out);
  gst_object_unref (net);
  gst_object_unref (receiver);
  gst_object_unref (sender);
  g_mutex_clear (&c.lock);
  g_cond_clear (&c.cond);
  return ok;
}

static int
cmp_double (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  guint64 mb = argc > 1 ? g_ascii_strtoull (argv[1], NULL, 10) : 512;
  guint rounds = argc > 2 ? atoi (argv[2]) : 3;
  gdouble tput[G_N_ELEMENTS (chains)][16], cpu[G_N_ELEMENTS (chains)][16];
  gdouble med_t[G_N_ELEMENTS (chains)], med_c[G_N_ELEMENTS (chains)];
  gchar *cipher[G_N_ELEMENTS (chains)] = { NULL, };
  guint i, r;

  gst_init (&argc, &argv);
  rounds = CLAMP (rounds, 1, 16);
  if (!gst_element_factory_find ("framedtcpsink")) {
    g_printerr ("framedtcpsink not found: set GST_PLUGIN_PATH to the build's "
        "plugins/qsound directory.\n");
    return 1;
  }

  g_print ("transport benchmark: %" G_GUINT64_FORMAT " MiB of %d-byte "
      "buffers per chain, %u rounds interleaved, median shown\n", mb, BUF_SIZE,
      rounds);
  for (r = 0; r < rounds; r++)
    for (i = 0; i < G_N_ELEMENTS (chains); i++)
      if (!run_chain (&chains[i], mb << 20, &tput[i][r], &cpu[i][r],
              &cipher[i]))
        return 1;

  g_print ("\n%-40s %12s %12s %10s\n", "chain", "MB/s", "CPU s/GB", "vs tcp");
  for (i = 0; i < G_N_ELEMENTS (chains); i++) {
    qsort (tput[i], rounds, sizeof (gdouble), cmp_double);
    qsort (cpu[i], rounds, sizeof (gdouble), cmp_double);
    med_t[i] = tput[i][rounds / 2];
    med_c[i] = cpu[i][rounds / 2];
  }
  for (i = 0; i < G_N_ELEMENTS (chains); i++)
    g_print ("%-40s %12.0f %12.2f %9.2fx\n", chains[i].name, med_t[i],
        med_c[i], med_t[i] / med_t[2]);
  g_print ("\ngoals: framedtcp >= 0.80x raw tcp throughput (%.2fx), "
      ">= 1x gdp (%.2fx); sealed >= 0.70x clear framedtcp (%.2fx)\n",
      med_t[0] / med_t[2], med_t[0] / med_t[3], med_t[1] / med_t[0]);
  /* both ends run here: AES-256-GCM exactly when this CPU can */
  g_print ("%s sealed with %s (AES-256-GCM %savailable on this CPU)\n",
      chains[1].name, cipher[1] && *cipher[1] ? cipher[1] : "(unknown)",
      qs_proto_aes256gcm_available ()? "" : "not ");
  for (i = 0; i < G_N_ELEMENTS (chains); i++)
    g_free (cipher[i]);

  /* what a keyed element does once at start (fresh passphrases: no cache) */
  {
    gdouble t[5];
    guint8 k[QS_PROTO_KEY_SIZE];

    for (r = 0; r < G_N_ELEMENTS (t); r++) {
      gchar *pass = g_strdup_printf ("bench-stretch-%u", r);
      gint64 t0 = g_get_monotonic_time ();

      if (!qs_proto_key_stretch (pass, k))
        g_printerr ("stretching failed (out of memory)\n");
      t[r] = (g_get_monotonic_time () - t0) / 1000.0;
      g_free (pass);
    }
    qsort (t, G_N_ELEMENTS (t), sizeof (gdouble), cmp_double);
    g_print ("stretching a key once (Argon2id, %u MiB, %u passes): "
        "median %.0f ms of 5 (%.0f-%.0f)\n",
        (guint) (QS_PROTO_KEY_MEMLIMIT >> 20), (guint) QS_PROTO_KEY_OPSLIMIT,
        t[2], t[0], t[4]);
  }
  return 0;
}
