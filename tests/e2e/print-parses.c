/* qsound — every `qsound-launch --print` description parses.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Runs the launcher given in QSOUND_LAUNCH with --print for every mode and
 * codec, splits the output as a shell would and hands the words to
 * gst_parse_launchv() as gst-launch-1.0 does, and
 * checks the result: the transport element "net" has the mode's role and
 * settings, the "level" element is there, transmitters carry the codec's
 * encoder.  Exits 77 (skipped) while the qsound elements are placeholders.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>

/* the receiver's audio sink on this platform */
#ifdef G_OS_WIN32
#define QS_TEST_SINK "wasapisink"
#else
#define QS_TEST_SINK "pulsesink"
#endif

static gchar *
run_print (const gchar * const *args)
{
  const gchar *launch = g_getenv ("QSOUND_LAUNCH");
  GPtrArray *argv = g_ptr_array_new ();
  gchar *out = NULL, *err = NULL;
  gint status = -1;
  GError *error = NULL;
  guint i;

  fail_unless (launch != NULL, "QSOUND_LAUNCH is not set");
  g_ptr_array_add (argv, (gpointer) launch);
  for (i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, (gpointer) "--print");
  g_ptr_array_add (argv, NULL);

  fail_unless (g_spawn_sync (NULL, (gchar **) argv->pdata, NULL, 0, NULL,
          NULL, &out, &err, &status, &error), "spawn: %s",
      error ? error->message : "?");
  fail_unless (g_spawn_check_wait_status (status, NULL),
      "qsound-launch --print failed: %s", err);
  fail_unless (err[0] == '\0', "--print wrote to stderr: %s", err);
  g_strstrip (out);
  fail_if (strchr (out, '\n') != NULL, "--print gave several lines: %s", out);
  fail_if (strchr (out, '@') != NULL, "a placeholder is left: %s", out);
  g_ptr_array_free (argv, TRUE);
  g_free (err);
  return out;
}

/* As `gst-launch-1.0 <printed words>` from a shell: split like the shell,
 * then gst_parse_launchv() as gst-launch-1.0 does. */
static GstElement *
parse_ok (const gchar * printed)
{
  GError *error = NULL;
  gchar **words = NULL;
  GstElement *p;

  fail_unless (g_shell_parse_argv (printed, NULL, &words, &error),
      "a shell cannot split \"%s\": %s", printed,
      error ? error->message : "?");
  p = gst_parse_launchv_full ((const gchar **) words, NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, &error);
  fail_unless (p != NULL, "\"%s\" does not parse: %s", printed,
      error ? error->message : "?");
  fail_unless (error == NULL);
  g_strfreev (words);
  return p;
}

static gint
get_enum_nick_is (GObject * obj, const gchar * prop, const gchar * nick)
{
  GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (obj),
      prop);
  GValue v = G_VALUE_INIT;
  GEnumValue *ev;

  fail_unless (ps != NULL, "no property %s", prop);
  g_value_init (&v, ps->value_type);
  g_object_get_property (obj, prop, &v);
  ev = g_enum_get_value (G_ENUM_CLASS (g_type_class_peek (ps->value_type)),
      g_value_get_enum (&v));
  g_value_unset (&v);
  return ev && g_strcmp0 (ev->value_nick, nick) == 0;
}

static gboolean
has_factory (GstElement * bin, const gchar * factory)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (bin));
  GValue item = G_VALUE_INIT;
  gboolean found = FALSE;

  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&item);
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && g_strcmp0 (GST_OBJECT_NAME (f), factory) == 0)
      found = TRUE;
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return found;
}

GST_START_TEST (test_every_mode_and_codec_parses)
{
  const gchar *codecs[] = { "mp3", "opus", "pcm" };
  const gchar *encoders[] = { "lamemp3enc", "opusenc", NULL };
  gint mode, c;

  for (mode = 1; mode <= 4; mode++) {
    for (c = 0; c < 3; c++) {
      gboolean server = (mode == 1 || mode == 3);
      gboolean transmit = (mode == 1 || mode == 4);
      gchar *mode_s = g_strdup_printf ("%d", mode);
      const gchar *args[] = { "-m", mode_s, "-c", codecs[c], "-p", "5123",
        "-k", "a key with \"quotes\"", "-d", "play", "-o", "out", NULL
      };
      gchar *desc = run_print (args), *host = NULL, *key = NULL;
      GstElement *p = parse_ok (desc), *net, *level;
      gint port = 0;

      GST_INFO ("mode %d codec %s: %s", mode, codecs[c], desc);
      net = gst_bin_get_by_name (GST_BIN (p), "net");
      level = gst_bin_get_by_name (GST_BIN (p), "level");
      fail_unless (net != NULL, "no element named net in %s", desc);
      fail_unless (level != NULL, "no element named level in %s", desc);
      fail_unless_equals_string (GST_OBJECT_NAME (gst_element_get_factory
              (net)), transmit ? "framedtcpsink" : "framedtcpsrc");
      fail_unless (get_enum_nick_is (G_OBJECT (net), "mode",
              server ? "server" : "client"), "wrong mode in %s", desc);
      g_object_get (net, "host", &host, "port", &port, "key", &key, NULL);
      fail_unless_equals_string (host, "127.0.0.1");
      fail_unless_equals_int (port, 5123);
      fail_unless_equals_string (key, "a key with \"quotes\"");
      if (transmit) {
        if (encoders[c])
          fail_unless (has_factory (p, encoders[c]), "no %s in %s",
              encoders[c], desc);
        else
          fail_if (has_factory (p, "lamemp3enc")
              || has_factory (p, "opusenc"), "an encoder in pcm: %s", desc);
        fail_unless (has_factory (p, "loopbacksrc"));
      } else {
        fail_unless (has_factory (p, "decodebin"));
        fail_unless (has_factory (p, QS_TEST_SINK), "-o out ignored: %s",
            desc);
      }
      g_free (host);
      g_free (key);
      gst_object_unref (net);
      gst_object_unref (level);
      gst_object_unref (p);
      g_free (desc);
      g_free (mode_s);
    }
  }
}

GST_END_TEST;

GST_START_TEST (test_defaults_parse)
{
  const gchar *args[] = { NULL };
  gchar *desc = run_print (args);
  GstElement *p = parse_ok (desc), *net, *sink;
  gint64 buffer_time = 0;
  gboolean sync = TRUE;
  gint port = 0;

  /* default: mode 2, 127.0.0.1:5000, the default output through pulsesink
   * (wasapisink on Windows) with the small buffer the jitter buffer lets it
   * have */
  net = gst_bin_get_by_name (GST_BIN (p), "net");
  fail_unless (net != NULL);
  fail_unless_equals_string (GST_OBJECT_NAME (gst_element_get_factory (net)),
      "framedtcpsrc");
  fail_unless (get_enum_nick_is (G_OBJECT (net), "mode", "client"));
  g_object_get (net, "port", &port, NULL);
  fail_unless_equals_int (port, 5000);
  fail_unless (has_factory (p, QS_TEST_SINK));
  sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  fail_unless (sink != NULL);
  /* the jitter buffer keeps the sink's buffer full and the sink paces the
   * stream: it plays what it is given as it comes */
  g_object_get (sink, "sync", &sync, NULL);
  fail_unless (!sync);
#ifndef G_OS_WIN32
  /* from a 40 ms buffer */
  g_object_get (sink, "buffer-time", &buffer_time, NULL);
  fail_unless_equals_int64 (buffer_time, 40000);
#endif
  gst_object_unref (sink);
  gst_object_unref (net);
  gst_object_unref (p);
  g_free (desc);
}

GST_END_TEST;

static Suite *
print_suite (void)
{
  Suite *s = suite_create ("qsound-launch --print");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_every_mode_and_codec_parses);
  tcase_add_test (tc, test_defaults_parse);
  return s;
}

static gboolean
elements_are_real (void)
{
  const gchar *names[] = { "framedtcpsink", "framedtcpsrc", "loopbacksrc" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    GstElement *e = gst_element_factory_make (names[i], NULL);
    gboolean ok = e && g_object_class_find_property (G_OBJECT_GET_CLASS (e),
        i < 2 ? "mode" : "device") != NULL;
    if (e)
      gst_object_unref (e);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  if (!elements_are_real ()) {
    g_print ("SKIP: the qsound elements are still placeholders\n");
    return 77;
  }
  return gst_check_run_suite (print_suite (), "print-parses", __FILE__);
}
