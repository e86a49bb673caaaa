/* qsound-launch — the command line: its options and their checks.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __QSL_OPTIONS_H__
#define __QSL_OPTIONS_H__

#include <glib.h>

#include "qsl-modes.h"

G_BEGIN_DECLS

/* The exit codes of qsound-launch. */
enum
{
  QSL_EXIT_DONE = 0,            /* end of stream, Ctrl-C, --print ... */
  QSL_EXIT_USAGE = 1,           /* bad usage: one sentence and the usage line */
  QSL_EXIT_RUNTIME = 2          /* the element's (or the system's) sentence */
};

/* What the options ask for, checked. */
typedef struct
{
  gchar *host;
  gint port;
  const QslMode *mode;
  const QslCodec *codec;
  gint kbps;
  gchar *device;
  gchar *output;
  gchar *key;
  gint latency_ms;              /* the receiver's end-to-end delay (-l) */
  gboolean latency_set;         /* -l was given */
  gboolean print;
  gboolean quiet;
  /* --icecast icecast://USER:PASSWORD@HOST:PORT/MOUNT, checked and split;
   * icecast_url NULL: none */
  gchar *icecast_url;
  gchar *icecast_host;
  gint icecast_port;
  gchar *icecast_user;
  gchar *icecast_password;
  gchar *icecast_mount;         /* with its leading / */
} QslSettings;

/* The options as given, before the checks. */
typedef struct
{
  gchar *host;
  gchar *port;
  gchar *mode;
  gchar *codec;
  gchar *bitrate;
  gchar *latency;
  gchar *icecast;               /* --icecast URL */
  gchar **rest;
  gboolean version;             /* --version */
  gboolean new_key;             /* --new-key */
} QslOptions;

/* Parses the command line, GStreamer's options too (gst_init runs here),
 * into @opts and the settings that need no check into @set.  FALSE after
 * printing a usage error (exit with QSL_EXIT_USAGE). */
gboolean qsl_options_parse (QslOptions * opts, QslSettings * set,
    gint * argc, gchar *** argv);

/* Checks the options one by one (the first bad one is named) and fills
 * @set; resolves the host.  FALSE after printing a usage error: one
 * sentence naming the cause and the fix, then the usage line. */
gboolean qsl_options_check (QslOptions * opts, QslSettings * set);

/* Splits an Icecast URL, icecast://USER:PASSWORD@HOST:PORT/MOUNT (the
 * form ffmpeg takes; USER defaults to source, PORT to 8000), into @set's
 * icecast_* fields.  FALSE with one sentence in *@why (newly allocated)
 * naming what is wrong and the fix.  Pure: no name is resolved. */
gboolean qsl_icecast_url_split (const gchar * url, QslSettings * set,
    gchar ** why);

void qsl_options_clear (QslOptions * opts);
void qsl_settings_clear (QslSettings * set);

G_END_DECLS

#endif /* __QSL_OPTIONS_H__ */
