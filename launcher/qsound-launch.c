/* qsound-launch — stream what one computer plays to another, live.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Like GStreamer's tools/gst-launch.c, but with four fixed modes: each mode
 * is a pipeline description under pipelines/ with @PLACEHOLDERS@ that this
 * program fills from its options.  `--print` shows the filled description,
 * which gst-launch-1.0 runs the same way.
 *
 * This file runs the pipeline: main(), the bus, Ctrl-C.  The options and
 * their checks are in qsl-options.c, the modes and codecs in qsl-modes.c,
 * the filling in qsl-template.c, the status line in qsl-status.c,
 * publishing to Icecast in qsl-icecast.c, what
 * differs between Linux and Windows in qsl-platform.c.
 *
 * Exit codes: 0 done (end of stream or Ctrl-C), 1 bad usage, 2 runtime error.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gst/gst.h>

#include "qsl-icecast.h"
#include "qsl-key.h"
#include "qsl-modes.h"
#include "qsl-options.h"
#include "qsl-platform.h"
#include "qsl-replug.h"
#include "qsl-status.h"
#include "qsl-template.h"
#include "qsoundproto.h"

/* -------------------------------------------------------------- running */

typedef struct
{
  QslSettings *set;
  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *net;
  GstElement *jitter;           /* a receiver's audiojitterbuffer */
  GstElement *capture;
  QslStatus *status;
  QslIcecast *icecast;          /* --icecast: the publisher */
  gint exit_code;
  gboolean interrupted;
  gboolean tty;
} QsApp;

/* -------------------------------------------------------- bus handling */

static void
qs_update_latency (QsApp * app)
{
  GstQuery *q = gst_query_new_latency ();
  gboolean live;
  GstClockTime min, max;

  if (gst_element_query (app->pipeline, q)) {
    gst_query_parse_latency (q, &live, &min, &max);
    if (live)
      qsl_status_set_latency (app->status, min);
  }
  gst_query_unref (q);
}

static gboolean
qs_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  QsApp *app = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *dbg = NULL, *shown;

      /* an element's message may carry a peer's words: escaped, like every
       * line printed from the bus (qsl_status_log) */
      gst_message_parse_error (msg, &err, &dbg);
      if (app->interrupted && g_error_matches (err, GST_STREAM_ERROR,
              GST_STREAM_ERROR_TYPE_NOT_FOUND)) {
        /* Ctrl-C before any stream came: the end of stream reached a
         * decodebin that had nothing to look at.  A stop, not a fault */
        g_clear_error (&err);
        g_free (dbg);
        qsl_status_log (app->status, "stopped");
        g_main_loop_quit (app->loop);
        break;
      }
      qsl_status_clear (app->status);
      shown = qs_proto_text_escape (err->message);
      g_printerr ("qsound-launch: %s\n", shown);
      g_free (shown);
      if (dbg && g_getenv ("QSOUND_DEBUG")) {
        gchar **lines = g_strsplit (dbg, "\n", -1);
        guint i;

        /* its lines stay lines */
        for (i = 0; lines[i]; i++) {
          shown = qs_proto_text_escape (lines[i]);
          g_free (lines[i]);
          lines[i] = shown;
        }
        shown = g_strjoinv ("\n", lines);
        g_printerr ("qsound-launch: (%s: %s)\n", GST_OBJECT_NAME (msg->src),
            shown);
        g_free (shown);
        g_strfreev (lines);
      }
      g_clear_error (&err);
      g_free (dbg);
      app->exit_code = QSL_EXIT_RUNTIME;
      g_main_loop_quit (app->loop);
      break;
    }
    case GST_MESSAGE_WARNING:{
      GError *err = NULL;

      gst_message_parse_warning (msg, &err, NULL);
      qsl_status_log (app->status, "warning: %s", err->message);
      g_clear_error (&err);
      break;
    }
    case GST_MESSAGE_EOS:
      qsl_status_log (app->status, app->interrupted ? "stopped" :
          "end of stream");
      g_main_loop_quit (app->loop);
      break;
    case GST_MESSAGE_LATENCY:
      gst_bin_recalculate_latency (GST_BIN (app->pipeline));
      qs_update_latency (app);
      break;
    case GST_MESSAGE_CLOCK_LOST:
      gst_element_set_state (app->pipeline, GST_STATE_PAUSED);
      gst_element_set_state (app->pipeline, GST_STATE_PLAYING);
      break;
    case GST_MESSAGE_STATE_CHANGED:
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (app->pipeline)) {
        GstState new_state;
        gst_message_parse_state_changed (msg, NULL, &new_state, NULL);
        if (new_state == GST_STATE_PLAYING)
          qs_update_latency (app);
      }
      break;
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *s = gst_message_get_structure (msg);

      if (gst_structure_has_name (s, "level"))
        qsl_status_level (app->status, s);
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static void
qs_deep_element_added (GstBin * bin, GstBin * sub_bin, GstElement * element,
    gpointer user_data)
{
  QsApp *app = user_data;
  GstElementFactory *f = gst_element_get_factory (element);
  const gchar *klass;

  if (!f || GST_IS_BIN (element))     /* a decodebin is no decoder */
    return;
  klass = gst_element_factory_get_metadata (f, GST_ELEMENT_METADATA_KLASS);
  if (klass && strstr (klass, "Decoder")) {
    /* called from a streaming thread */
    qsl_status_set_decoder (app->status, GST_OBJECT_NAME (f));
    if (!app->set->quiet && !app->tty)
      g_printerr ("qsound-launch: decoding with %s\n", GST_OBJECT_NAME (f));
  }
}

/* A receiver without -l: when the stream says what it is (the caps framedtcpsrc
 * puts on its pad, before any audio), give the jitter buffer that codec's
 * room.  Called from the streaming thread; the element posts a latency
 * message and the bus handler recalculates. */
static void
qs_stream_caps (GstPad * pad, GParamSpec * pspec, gpointer user_data)
{
  QsApp *app = user_data;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  const QslCodec *codec;

  if (!caps)
    return;
  codec = qsl_codec_for_media_type (gst_structure_get_name
      (gst_caps_get_structure (caps, 0)));
  if (codec) {
    guint64 want = (guint64) codec->latency_ms * GST_MSECOND, have = 0;

    g_object_get (app->jitter, "latency", &have, NULL);
    if (want != have) {
      g_object_set (app->jitter, "latency", want, NULL);
      if (!app->set->quiet && !app->tty)
        g_printerr ("qsound-launch: %s stream: %d ms of room for jitter "
            "at least (it adapts to the link)\n", codec->name,
            codec->latency_ms);
    }
  }
  gst_caps_unref (caps);
}

static gboolean
qs_force_quit (gpointer user_data)
{
  QsApp *app = user_data;

  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

/* Ctrl-C: the first one asks the pipeline to end its stream; the loop ends
 * on EOS (or after two seconds, or at a second Ctrl-C). */
static gboolean
qs_interrupt (gpointer user_data)
{
  QsApp *app = user_data;

  if (app->interrupted) {
    g_main_loop_quit (app->loop);
    return G_SOURCE_CONTINUE;
  }
  app->interrupted = TRUE;
  qsl_status_clear (app->status);
  gst_element_send_event (app->pipeline, gst_event_new_eos ());
  g_timeout_add_seconds (2, qs_force_quit, app);
  return G_SOURCE_CONTINUE;
}


static gint
qs_run (QslSettings * set, const gchar * description)
{
  QsApp app = { 0, };
  GError *err = NULL;
  GstBus *bus;
  guint watch, tick;
  GstStateChangeReturn ret;

  app.set = set;
  app.exit_code = QSL_EXIT_DONE;
  app.tty = qsl_platform_stderr_is_console ();

  app.pipeline = gst_parse_launch_full (description, NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!app.pipeline) {
    g_printerr ("qsound-launch: could not build the mode %d pipeline: %s; "
        "install the GStreamer plugin that provides it or check the "
        "pipeline with --print.\n", set->mode->mode, err->message);
    g_clear_error (&err);
    return QSL_EXIT_RUNTIME;
  }
  app.net = gst_bin_get_by_name (GST_BIN (app.pipeline), "net");
  app.jitter = gst_bin_get_by_name (GST_BIN (app.pipeline), "jitter");
  if (app.jitter && app.net) {
    GstPad *pad = gst_element_get_static_pad (app.net, "src");

    if (pad) {
      g_signal_connect (pad, "notify::caps", G_CALLBACK (qs_stream_caps),
          &app);
      gst_object_unref (pad);
    }
  }
  app.capture = gst_bin_get_by_name (GST_BIN (app.pipeline), "capture");
  app.status = qsl_status_new (set, app.tty, app.net, app.jitter,
      app.capture);
  app.loop = g_main_loop_new (NULL, FALSE);

  qsl_replug_install (app.pipeline);     /* the next sender's codec */
  g_signal_connect (app.pipeline, "deep-element-added",
      G_CALLBACK (qs_deep_element_added), &app);
  bus = gst_element_get_bus (app.pipeline);
  watch = gst_bus_add_watch (bus, qs_bus_message, &app);
  gst_object_unref (bus);

  qsl_platform_catch_interrupt (qs_interrupt, &app);

  if (!set->quiet && !app.tty) {
    /* the key stays out of logs */
    QslSettings shown = *set;
    gchar *text;

    if (set->key && *set->key)
      shown.key = (gchar *) "(hidden)";
    text = qsl_template_fill (&shown, NULL);
    g_printerr ("qsound-launch: mode %d (%s), pipeline: %s\n",
        set->mode->mode, set->mode->summary, text ? text : "");
    g_free (text);
  }

  ret = gst_element_set_state (app.pipeline, GST_STATE_PLAYING);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    /* the element said why on the bus; let the watch print it */
    GstMessage *m;
    bus = gst_element_get_bus (app.pipeline);
    m = gst_bus_timed_pop_filtered (bus, GST_SECOND, GST_MESSAGE_ERROR);
    if (m) {
      qs_bus_message (bus, m, &app);
      gst_message_unref (m);
    } else {
      g_printerr ("qsound-launch: the mode %d pipeline could not start; run "
          "it with --print and gst-launch-1.0 -v to see which element "
          "refused.\n", set->mode->mode);
    }
    gst_object_unref (bus);
    app.exit_code = QSL_EXIT_RUNTIME;
  } else {
    GstElement *tap = gst_bin_get_by_name (GST_BIN (app.pipeline), "icecast");

    if (tap) {
      /* its own pipeline, started once the transmitter's runs */
      app.icecast = qsl_icecast_new (set, tap, app.status);
      qsl_status_set_icecast (app.status, app.icecast);
      gst_object_unref (tap);
    }
    tick = g_timeout_add (app.tty ? 250 : 1000, qsl_status_tick, app.status);
    qsl_status_tick (app.status);
    g_main_loop_run (app.loop);
    g_source_remove (tick);
    qsl_status_clear (app.status);
  }

  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  qsl_status_set_icecast (app.status, NULL);
  qsl_icecast_free (app.icecast);
  qsl_platform_stopped ();
  g_source_remove (watch);
  qsl_status_free (app.status);
  if (app.net)
    gst_object_unref (app.net);
  if (app.jitter)
    gst_object_unref (app.jitter);
  if (app.capture)
    gst_object_unref (app.capture);
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);
  return app.exit_code;
}

/* ---------------------------------------------------------------- main */

int
main (int argc, char **argv)
{
  QslOptions opts = { 0, };
  QslSettings set = { 0, };
  gchar *desc = NULL;
  GError *err = NULL;
  gint ret = QSL_EXIT_DONE;

  qsl_platform_init (argv[0]);
  if (!qsl_options_parse (&opts, &set, &argc, &argv)) {
    ret = QSL_EXIT_USAGE;
    goto done;
  }

  if (opts.version) {
    gchar *v = gst_version_string ();
    g_print ("qsound-launch %s (%s)\n", VERSION, v);
    g_free (v);
    goto done;
  }
  if (opts.new_key) {
    gchar *k = qsl_key_new ();

    if (!k) {
      g_printerr ("qsound-launch: the system's random number source is "
          "unavailable; check that /dev/urandom exists.\n");
      ret = QSL_EXIT_RUNTIME;
      goto done;
    }
    g_print ("%s\n", k);
    g_free (k);
    goto done;
  }

  if (!qsl_options_check (&opts, &set)) {
    ret = QSL_EXIT_USAGE;
    goto done;
  }

  desc = qsl_template_fill (&set, &err);
  if (!desc) {
    g_printerr ("qsound-launch: %s\n", err->message);
    g_clear_error (&err);
    ret = QSL_EXIT_RUNTIME;
    goto done;
  }

  if (set.print) {
    gchar *words = qsl_template_shell_form (desc);
    g_print ("%s\n", words);
    g_free (words);
  } else {
    ret = qs_run (&set, desc);
  }

done:
  g_free (desc);
  qsl_options_clear (&opts);
  qsl_settings_clear (&set);
  gst_deinit ();
  return ret;
}
