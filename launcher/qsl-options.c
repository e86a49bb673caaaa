/* qsound-launch — the command line: its options and their checks
 * (qsl-options.h).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A bad option is one sentence naming the cause and the fix, then the usage
 * line, and exit status 1 (tests/e2e/test_e2e.py, case usage).  The checks
 * run in a fixed order, so the first bad option is the one named.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsl-options.h"

#include <string.h>

#include <gio/gio.h>
#include <gst/gst.h>

#define QSL_DEFAULT_HOST "127.0.0.1"
#define QSL_DEFAULT_PORT 5000
/* -l, in ms */
#define QSL_LATENCY_MIN 1
#define QSL_LATENCY_MAX 10000
/* how long a host name may take to resolve */
#define QSL_RESOLVE_TIMEOUT_S 10

static void
qsl_usage_error (const gchar * format, ...) G_GNUC_PRINTF (1, 2);

static void
qsl_usage_error (const gchar * format, ...)
{
  va_list ap;
  gchar *msg, *codecs;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  codecs = qsl_codecs_list_text ("|");
  g_printerr ("qsound-launch: %s\nUsage: qsound-launch [-n HOST] [-p PORT] "
      "[-m MODE] [-c %s] [-b KBPS] [-d DEVICE] [-o OUTPUT] [-l MS] [-k KEY] "
      "[--new-key] [--icecast URL] [--print] [-q]\n", msg, codecs);
  g_free (codecs);
  g_free (msg);
}

/* ------------------------------------------------------------ parsing */

static const gchar *qsl_description_head =
    "Streams what one computer plays to another, live.\n\n";

static const gchar *qsl_description_tail =
    "\n"
    "1 pairs with 2, 3 with 4: use 1+2 when the playing machine can accept\n"
    "connections, 3+4 when the listening one can.\n"
    "\n"
    "Examples:\n"
    "  on the machine that plays:   qsound-launch -m 1 -n 0.0.0.0\n"
    "  on the one that listens:     qsound-launch -m 2 -n <that machine>\n"
    "or the other way round:\n"
    "  on the machine that listens: qsound-launch -m 3 -n 0.0.0.0\n"
    "  on the one that plays:       qsound-launch -m 4 -n <that machine>\n"
    "\n"
    "A server binds to HOST: the default 127.0.0.1 is reachable from this\n"
    "machine only; -n 0.0.0.0 opens it to the network: then give both ends\n"
    "the same key, made once with --new-key, as -k KEY or in the environment\n"
    "as QSOUND_KEY (which keeps it out of the process list). With a key the\n"
    "link is sealed: nobody without it can connect, listen in or alter it.\n"
    "A client connects to HOST and keeps retrying until the server is up.\n"
    "The receiver needs no codec option: the stream says what it is.\n"
    "A receiver keeps room for network jitter and follows the drift between\n"
    "the two machines' clocks, so its delay is the same after hours. The\n"
    "room starts at what the stream's codec needs on a quiet link and grows\n"
    "when audio comes later than it allows (one gap, then none for such\n"
    "delays). Without -l a receiver plays as early as that allows; -l MS\n"
    "sets the delay from capture to sound instead, so that receivers given\n"
    "the same -l play in step.\n"
    "\n"
    "--icecast icecast://source:PASSWORD@HOST:PORT/MOUNT (modes 1 and 4)\n"
    "also publishes the stream to an Icecast server, from which any number\n"
    "of players and browsers listen at http://HOST:PORT/MOUNT, later than\n"
    "the receivers (a quarter of a second here with a GStreamer player;\n"
    "players and browsers add their own buffering): mp3 as it is, Opus in\n"
    "Ogg, pcm encoded to mp3 at 192 kbit/s.\n"
    "Icecast being down or refusing never touches the receivers: the\n"
    "transmitter retries with backoff and says so on its status line.\n"
    "\n"
    "--print shows the GStreamer pipeline of the mode, quoted for a shell:\n"
    "paste it after gst-launch-1.0 to run the same thing (its Icecast\n"
    "branch, a plain shout2send, does not retry).\n"
    "Exit status: 0 done, 1 bad usage, 2 runtime error.";

gboolean
qsl_options_parse (QslOptions * opts, QslSettings * set, gint * argc,
    gchar *** argv)
{
  /* what lists modes and codecs comes from their tables (qsl-modes.c) */
  gchar *modes_help = qsl_modes_help_text ();
  gchar *description = g_strconcat (qsl_description_head, modes_help,
      qsl_description_tail, NULL);
  gchar *mode_help = qsl_modes_option_text ();
  gchar *codecs = qsl_codecs_option_text ();
  gchar *codec_help = g_strdup_printf ("What a transmitter sends: %s", codecs);
  gchar *bitrates = qsl_codecs_bitrate_text ();
  gchar *bitrate_help = g_strdup_printf ("Bitrate in kbit/s (%s)", bitrates);
  gchar *latencies = qsl_codecs_latency_text ();
  gchar *latency_help = g_strdup_printf ("Receiver: the delay in ms from "
      "capture on the transmitter to the sound here, on the transmitter's "
      "clock; receivers of one transmitter given the same -l play in step "
      "(default: the least the link allows). Either way the room for "
      "network jitter adapts to the link, from %s by the stream's codec",
      latencies);
  GOptionEntry entries[] = {
    {"host", 'n', 0, G_OPTION_ARG_STRING, &opts->host,
        "Server: address to listen on; client: server to connect to "
          "(default " QSL_DEFAULT_HOST ")", "HOST"},
    {"port", 'p', 0, G_OPTION_ARG_STRING, &opts->port,
        "TCP port (default " G_STRINGIFY (QSL_DEFAULT_PORT) "; 0 lets a "
          "server pick a free one)", "PORT"},
    {"mode", 'm', 0, G_OPTION_ARG_STRING, &opts->mode, mode_help, "MODE"},
    {"codec", 'c', 0, G_OPTION_ARG_STRING, &opts->codec, codec_help,
        "CODEC"},
    {"bitrate", 'b', 0, G_OPTION_ARG_STRING, &opts->bitrate, bitrate_help,
        "KBPS"},
    {"device", 'd', 0, G_OPTION_ARG_STRING, &set->device,
        "Transmitter: the output to capture, or an input (a microphone or "
          "line-in) to send instead (default: the current default output)",
          "NAME"},
    {"output", 'o', 0, G_OPTION_ARG_STRING, &set->output,
        "Receiver: where to play (default: the system's default output)",
          "NAME"},
    {"latency", 'l', 0, G_OPTION_ARG_STRING, &opts->latency, latency_help,
        "MS"},
    {"key", 'k', 0, G_OPTION_ARG_STRING, &set->key,
        "Pre-shared key, the same on both ends; seals the link (default: "
          "$QSOUND_KEY, else none)", "KEY"},
    {"icecast", 0, 0, G_OPTION_ARG_STRING, &opts->icecast,
        "Transmitter: also publish the stream to this Icecast mount, for "
          "any number of players and browsers (mp3 as it is, Opus in Ogg, "
          "pcm as mp3 192 kbit/s); URL: "
          "icecast://source:PASSWORD@HOST:PORT/MOUNT", "URL"},
    {"new-key", 0, 0, G_OPTION_ARG_NONE, &opts->new_key,
        "Print a fresh random key for -k and exit", NULL},
    {"print", 0, 0, G_OPTION_ARG_NONE, &set->print,
        "Print the gst-launch-1.0 pipeline of the mode and exit", NULL},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &set->quiet,
        "Print nothing but errors", NULL},
    {"version", 0, 0, G_OPTION_ARG_NONE, &opts->version,
        "Print the version and exit", NULL},
    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts->rest, NULL,
        NULL},
    {NULL}
  };
  GOptionContext *ctx;
  GError *err = NULL;
  gboolean ok;

  ctx = g_option_context_new ("- stream what this computer plays, live");
  g_option_context_set_summary (ctx, description);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  ok = g_option_context_parse (ctx, argc, argv, &err);
  if (!ok) {
    qsl_usage_error ("%s.", err->message);
    g_clear_error (&err);
  }
  g_option_context_free (ctx);

  g_free (latency_help);
  g_free (latencies);
  g_free (bitrate_help);
  g_free (bitrates);
  g_free (codec_help);
  g_free (codecs);
  g_free (mode_help);
  g_free (description);
  g_free (modes_help);
  return ok;
}

/* ------------------------------------------------------------- checks */

static gboolean
qsl_parse_int (const gchar * s, gint64 min, gint64 max, gint * out)
{
  gint64 v;

  if (!g_ascii_string_to_signed (s, 10, min, max, &v, NULL))
    return FALSE;
  *out = (gint) v;
  return TRUE;
}

static gboolean
qsl_host_syntax_ok (const gchar * host)
{
  const gchar *p;

  if (g_hostname_is_ip_address (host))
    return TRUE;
  if (host[0] == '\0' || strlen (host) > 253 || host[0] == '-'
      || host[0] == '.')
    return FALSE;
  for (p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  /* all-numeric dotted names that are not addresses (300.1.2.3) */
  for (p = host; *p; p++)
    if (!g_ascii_isdigit (*p) && *p != '.')
      return TRUE;
  return FALSE;
}

typedef struct
{
  GMainLoop *loop;
  GList *addresses;
  GError *error;
} QslResolve;

static void
qsl_resolved (GObject * resolver, GAsyncResult * res, gpointer user_data)
{
  QslResolve *r = user_data;

  r->addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (resolver),
      res, &r->error);
  g_main_loop_quit (r->loop);
}

static gboolean
qsl_resolve_timeout (gpointer cancellable)
{
  g_cancellable_cancel (cancellable);
  return G_SOURCE_REMOVE;
}

/* TRUE when @host is an address or a name that resolves (within 10 s). */
static gboolean
qsl_host_resolves (const gchar * host)
{
  GResolver *resolver;
  GCancellable *cancellable;
  QslResolve r = { NULL, NULL, NULL };
  guint timeout;
  gboolean ok;

  if (g_hostname_is_ip_address (host))
    return TRUE;

  resolver = g_resolver_get_default ();
  cancellable = g_cancellable_new ();
  r.loop = g_main_loop_new (NULL, FALSE);
  g_resolver_lookup_by_name_async (resolver, host, cancellable, qsl_resolved,
      &r);
  timeout = g_timeout_add_seconds (QSL_RESOLVE_TIMEOUT_S,
      qsl_resolve_timeout, cancellable);
  g_main_loop_run (r.loop);
  if (!g_cancellable_is_cancelled (cancellable))
    g_source_remove (timeout);

  ok = (r.error == NULL);
  g_clear_error (&r.error);
  g_resolver_free_addresses (r.addresses);
  g_main_loop_unref (r.loop);
  g_object_unref (cancellable);
  g_object_unref (resolver);
  return ok;
}

/* Each check: TRUE when its option is good (and @set filled from it), else
 * FALSE after the usage error. */
typedef gboolean (*QslCheck) (QslOptions * opts, QslSettings * set);

static gboolean
qsl_check_arguments (QslOptions * opts, QslSettings * set)
{
  if (opts->rest && opts->rest[0]) {
    qsl_usage_error ("unexpected argument \"%s\"; all settings are options.",
        opts->rest[0]);
    return FALSE;
  }
  return TRUE;
}

static gboolean
qsl_check_mode (QslOptions * opts, QslSettings * set)
{
  gint mode;
  gchar *modes;

  set->mode = qsl_mode_default ();
  if (!opts->mode)
    return TRUE;
  if (qsl_parse_int (opts->mode, qsl_mode_min (), qsl_mode_max (), &mode)
      && (set->mode = qsl_mode_find (mode)))
    return TRUE;
  modes = qsl_modes_list_text ();
  qsl_usage_error ("unknown mode \"%s\"; use %s (see --help).", opts->mode,
      modes);
  g_free (modes);
  return FALSE;
}

static gboolean
qsl_check_port (QslOptions * opts, QslSettings * set)
{
  set->port = QSL_DEFAULT_PORT;
  if (opts->port && !qsl_parse_int (opts->port, 0, 65535, &set->port)) {
    qsl_usage_error ("port \"%s\" is out of range; use a number from 1 to "
        "65535.", opts->port);
    return FALSE;
  }
  if (set->port == 0 && !set->mode->server) {
    qsl_usage_error ("a client needs the server's port; port 0 only lets a "
        "server (mode 1 or 3) pick a free one.");
    return FALSE;
  }
  return TRUE;
}

static gboolean
qsl_check_codec (QslOptions * opts, QslSettings * set)
{
  gchar *codecs;

  set->codec = opts->codec ? qsl_codec_find (opts->codec) :
      qsl_codec_default ();
  if (set->codec)
    return TRUE;
  codecs = qsl_codecs_list_text (NULL);
  qsl_usage_error ("unknown codec \"%s\"; use %s.", opts->codec, codecs);
  g_free (codecs);
  return FALSE;
}

static gboolean
qsl_check_bitrate (QslOptions * opts, QslSettings * set)
{
  const QslCodec *codec = set->codec;
  gint min = qsl_codec_min_kbps (codec), max = qsl_codec_max_kbps (codec);
  gchar *list;

  set->kbps = codec->default_kbps;
  if (!opts->bitrate)
    return TRUE;
  if (min == max) {
    qsl_usage_error ("%s has a fixed bitrate (%d kbit/s); drop -b.",
        codec->name, codec->default_kbps);
    return FALSE;
  }
  if (!qsl_parse_int (opts->bitrate, min, max, &set->kbps)) {
    qsl_usage_error ("bitrate \"%s\" does not suit %s; use %d to %d kbit/s.",
        opts->bitrate, codec->name, min, max);
    return FALSE;
  }
  if (qsl_codec_kbps_ok (codec, set->kbps))
    return TRUE;
  list = qsl_codec_kbps_list_text (codec);
  qsl_usage_error ("bitrate %d is not an %s bitrate; use %s.", set->kbps,
      codec->name, list);
  g_free (list);
  return FALSE;
}

static gboolean
qsl_check_latency (QslOptions * opts, QslSettings * set)
{
  set->latency_ms = set->codec->latency_ms;
  if (!opts->latency)
    return TRUE;
  if (!qsl_parse_int (opts->latency, QSL_LATENCY_MIN, QSL_LATENCY_MAX,
          &set->latency_ms)) {
    qsl_usage_error ("latency \"%s\" is out of range; use %d to %d ms.",
        opts->latency, QSL_LATENCY_MIN, QSL_LATENCY_MAX);
    return FALSE;
  }
  set->latency_set = TRUE;
  return TRUE;
}

static gboolean
qsl_check_host (QslOptions * opts, QslSettings * set)
{
  set->host = g_strdup (opts->host ? opts->host : QSL_DEFAULT_HOST);
  if (!qsl_host_syntax_ok (set->host)) {
    qsl_usage_error ("\"%s\" is not a host name or address; give a name "
        "like myhost.lan or an address like 192.168.1.20.", set->host);
    return FALSE;
  }
  if (!qsl_host_resolves (set->host)) {
    qsl_usage_error ("host \"%s\" could not be resolved; check the name or "
        "give its address.", set->host);
    return FALSE;
  }
  return TRUE;
}

#define QSL_ICECAST_FORM "icecast://source:PASSWORD@HOST:PORT/MOUNT"
#define QSL_ICECAST_DEFAULT_PORT 8000

gboolean
qsl_icecast_url_split (const gchar * url, QslSettings * set, gchar ** why)
{
  gchar *scheme = NULL, *user = NULL, *password = NULL, *host = NULL,
      *path = NULL, *query = NULL, *fragment = NULL;
  gint port = -1;
  const gchar *p;
  gboolean ok = FALSE;

  *why = NULL;
  if (!g_uri_split_with_user (url, G_URI_FLAGS_HAS_PASSWORD, &scheme, &user,
          &password, NULL, &host, &port, &path, &query, &fragment, NULL)
      || !scheme) {
    *why = g_strdup_printf ("\"%s\" is not a URL; give the Icecast mount as "
        QSL_ICECAST_FORM ".", url);
    goto done;
  }
  if (g_ascii_strcasecmp (scheme, "icecast") != 0) {
    *why = g_strdup_printf ("the Icecast URL starts with %s://, not "
        "icecast://; write it as " QSL_ICECAST_FORM ".", scheme);
    goto done;
  }
  if (!host || !*host) {
    *why = g_strdup_printf ("the Icecast URL \"%s\" names no server; write "
        "it as " QSL_ICECAST_FORM ".", url);
    goto done;
  }
  if (!password || !*password) {
    *why = g_strdup_printf ("the Icecast URL gives no source password; write "
        "it as " QSL_ICECAST_FORM ", with the <source-password> of the "
        "server's icecast.xml.");
    goto done;
  }
  if (port == 0) {
    *why = g_strdup_printf ("the Icecast URL's port 0 is out of range; give "
        "the port Icecast listens on (8000 by default).");
    goto done;
  }
  if (!path || strlen (path) < 2 || path[0] != '/' || (query && *query)
      || (fragment && *fragment)) {
    *why = g_strdup_printf ("the Icecast URL \"%s\" names no mount; add one "
        "after the port, as in icecast://source:PASSWORD@HOST:8000/live.mp3.",
        url);
    goto done;
  }
  for (p = path; *p; p++) {
    if (!g_ascii_isalnum (*p) && !strchr ("/._-~", *p)) {
      *why = g_strdup_printf ("the Icecast mount \"%s\" has the character "
          "'%c'; use letters, digits and / . _ - ~ only.", path, *p);
      goto done;
    }
  }
  g_free (set->icecast_host);
  g_free (set->icecast_user);
  g_free (set->icecast_password);
  g_free (set->icecast_mount);
  g_free (set->icecast_url);
  set->icecast_url = g_strdup (url);
  set->icecast_host = g_strdup (host);
  set->icecast_port = port > 0 ? port : QSL_ICECAST_DEFAULT_PORT;
  set->icecast_user = g_strdup (user && *user ? user : "source");
  set->icecast_password = g_strdup (password);
  set->icecast_mount = g_strdup (path);
  ok = TRUE;

done:
  g_free (scheme);
  g_free (user);
  g_free (password);
  g_free (host);
  g_free (path);
  g_free (query);
  g_free (fragment);
  return ok;
}

static gboolean
qsl_check_icecast (QslOptions * opts, QslSettings * set)
{
  gchar *why = NULL;

  if (!opts->icecast)
    return TRUE;
  if (!set->mode->transmit) {
    qsl_usage_error ("--icecast publishes what a transmitter sends; use it "
        "with -m 1 or -m 4, or drop it.");
    return FALSE;
  }
  if (!qsl_icecast_url_split (opts->icecast, set, &why)) {
    qsl_usage_error ("%s", why);
    g_free (why);
    return FALSE;
  }
  if (!qsl_host_syntax_ok (set->icecast_host)) {
    qsl_usage_error ("\"%s\" in the Icecast URL is not a host name or "
        "address; give a name like radio.lan or an address like "
        "192.168.1.20.", set->icecast_host);
    return FALSE;
  }
  return TRUE;
}

/* in this order: a later check may use what an earlier one set */
static const QslCheck qsl_checks[] = {
  qsl_check_arguments,
  qsl_check_mode,
  qsl_check_port,               /* port 0: servers only */
  qsl_check_codec,
  qsl_check_bitrate,            /* by the codec */
  qsl_check_latency,            /* its default by the codec */
  qsl_check_icecast,            /* transmitters only */
  qsl_check_host,               /* last: it may wait for a name server */
};

gboolean
qsl_options_check (QslOptions * opts, QslSettings * set)
{
  guint i;

  if (!set->key && g_getenv ("QSOUND_KEY"))
    set->key = g_strdup (g_getenv ("QSOUND_KEY"));
  for (i = 0; i < G_N_ELEMENTS (qsl_checks); i++)
    if (!qsl_checks[i] (opts, set))
      return FALSE;
  return TRUE;
}

void
qsl_options_clear (QslOptions * opts)
{
  g_free (opts->host);
  g_free (opts->port);
  g_free (opts->mode);
  g_free (opts->codec);
  g_free (opts->bitrate);
  g_free (opts->latency);
  g_free (opts->icecast);
  g_strfreev (opts->rest);
  memset (opts, 0, sizeof (*opts));
}

void
qsl_settings_clear (QslSettings * set)
{
  g_free (set->host);
  g_free (set->device);
  g_free (set->output);
  g_free (set->key);
  g_free (set->icecast_url);
  g_free (set->icecast_host);
  g_free (set->icecast_user);
  g_free (set->icecast_password);
  g_free (set->icecast_mount);
  memset (set, 0, sizeof (*set));
}
