/* qsound-launch — the status: a line redrawn in place on a terminal, plain
 * log lines without one (qsl-status.h).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The line: the transport's state, the codec and bitrate, a level meter,
 * the pipeline's latency, a receiver's jitter buffer (measured room/target,
 * drift, re-locks), drops, a transmitter's lost capture frames, reconnects.
 * Tests and benchmarks parse the plain lines ("listening on", "connected
 * to", "buffer ... re-locks N"): keep those words.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsl-status.h"
#include "qsl-platform.h"
#include "qsl-icecast.h"
#include "qsoundproto.h"

#include <string.h>
#include <math.h>

/* ------------------------------------------------- fitting the width */

/* between two fields */
#define QSL_SEPARATOR " | "
#define QSL_SEPARATOR_LEN 3

typedef struct
{
  gint priority;
  gboolean keep;
  GPtrArray *forms;             /* gchar *, the widest first */
  GArray *steps;                /* gint: [i] the priority of the step to
                                 * forms[i]; [0] unused */
} QslField;

struct _QslStatusLine
{
  GArray *fields;               /* QslField */
};

static void
qsl_field_clear (gpointer data)
{
  QslField *f = data;

  g_ptr_array_unref (f->forms);
  g_array_unref (f->steps);
}

QslStatusLine *
qsl_status_line_new (void)
{
  QslStatusLine *line = g_new0 (QslStatusLine, 1);

  line->fields = g_array_new (FALSE, TRUE, sizeof (QslField));
  g_array_set_clear_func (line->fields, qsl_field_clear);
  return line;
}

void
qsl_status_line_free (QslStatusLine * line)
{
  g_array_unref (line->fields);
  g_free (line);
}

void
qsl_status_line_add (QslStatusLine * line, gint priority, gboolean keep,
    const gchar * text)
{
  QslField f;
  gint unused = 0;

  f.priority = priority;
  f.keep = keep;
  f.forms = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (f.forms, g_strdup (text));
  f.steps = g_array_new (FALSE, FALSE, sizeof (gint));
  g_array_append_val (f.steps, unused);
  g_array_append_val (line->fields, f);
}

void
qsl_status_line_add_short (QslStatusLine * line, gint priority,
    const gchar * text)
{
  QslField *f;

  g_return_if_fail (line->fields->len > 0);
  f = &g_array_index (line->fields, QslField, line->fields->len - 1);
  g_ptr_array_add (f->forms, g_strdup (text));
  g_array_append_val (f->steps, priority);
}

/* The fields at their forms @form (-1: left out), joined. */
static gchar *
qsl_status_line_join (const QslStatusLine * line, const gint * form)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < line->fields->len; i++) {
    const QslField *f = &g_array_index (line->fields, QslField, i);

    if (form[i] < 0)
      continue;
    if (s->len)
      g_string_append (s, QSL_SEPARATOR);
    g_string_append (s, g_ptr_array_index (f->forms, form[i]));
  }
  return g_string_free (s, FALSE);
}

static glong
qsl_status_line_width (const QslStatusLine * line, const gint * form)
{
  glong width = 0;
  guint i, shown = 0;

  for (i = 0; i < line->fields->len; i++) {
    const QslField *f = &g_array_index (line->fields, QslField, i);

    if (form[i] < 0)
      continue;
    width += g_utf8_strlen (g_ptr_array_index (f->forms, form[i]), -1);
    shown++;
  }
  return width + (shown > 1 ? (shown - 1) * QSL_SEPARATOR_LEN : 0);
}

gchar *
qsl_status_line_full (const QslStatusLine * line)
{
  gint *form = g_new0 (gint, line->fields->len + 1);
  gchar *text = qsl_status_line_join (line, form);

  g_free (form);
  return text;
}

/* a step taken: field @field went to its next form, or was left out */
typedef struct
{
  guint field;
  gboolean drop;
} QslStep;

gchar *
qsl_status_line_fit (const QslStatusLine * line, guint columns)
{
  guint n = line->fields->len, i;
  gint *form = g_new0 (gint, n + 1);
  gboolean *blocked = g_new0 (gboolean, n + 1);
  GArray *taken = g_array_new (FALSE, FALSE, sizeof (QslStep));
  glong max = (glong) columns - 1;
  gchar *text;

  if (columns <= 1)
    max = G_MAXLONG;            /* unknown: all of it */

  /* take the least important step while the line is too wide: to a
   * field's next shorter form, or, at its shortest, leaving it out; of
   * equal priorities, the rightmost field's */
  while (qsl_status_line_width (line, form) > max) {
    gint best = -1, best_priority = G_MAXINT;
    QslStep step;

    for (i = 0; i < n; i++) {
      const QslField *f = &g_array_index (line->fields, QslField, i);
      gint p;

      if (form[i] < 0)
        continue;
      if ((guint) form[i] + 1 < f->forms->len)
        p = g_array_index (f->steps, gint, form[i] + 1);
      else if (!f->keep)
        p = f->priority;
      else
        continue;
      if (p <= best_priority) {
        best = i;
        best_priority = p;
      }
    }
    if (best < 0)
      break;
    step.field = best;
    step.drop = ((guint) form[best] + 1 ==
        g_array_index (line->fields, QslField, best).forms->len);
    form[best] = step.drop ? -1 : form[best] + 1;
    g_array_append_val (taken, step);
  }

  /* a step may have freed more room than was missing: undo the earlier
   * ones that fit again, the most important first (a shortened meter bar
   * grows back into what a field left out made free) */
  for (i = taken->len; i-- > 0;) {
    QslStep *step = &g_array_index (taken, QslStep, i);
    guint f = step->field;
    gint was = form[f];

    if (blocked[f])
      continue;
    form[f] = step->drop ? (gint) g_array_index (line->fields, QslField,
        f).forms->len - 1 : form[f] - 1;
    if (qsl_status_line_width (line, form) > max) {
      form[f] = was;
      blocked[f] = TRUE;        /* nor any earlier step of this field */
    }
  }

  text = qsl_status_line_join (line, form);
  if (g_utf8_strlen (text, -1) > max) {
    /* only what must stay is left and it is still too wide: cut it at the
     * last space that fits, never inside a word (a single word wider than
     * the console is cut where it must be) */
    gchar *end = g_utf8_offset_to_pointer (text, max), *space;
    gboolean at_word_end = (*end == ' ');

    *end = '\0';
    space = at_word_end ? end : strrchr (text, ' ');
    if (space && space > text) {
      *space = '\0';
      /* and no separator or comma left hanging at the end */
      g_strchomp (text);
      while (*text && strchr ("|,;:", text[strlen (text) - 1])) {
        text[strlen (text) - 1] = '\0';
        g_strchomp (text);
      }
    }
  }

  g_array_unref (taken);
  g_free (blocked);
  g_free (form);
  return text;
}

/* ---------------------------------------------------------- the meter */

void
qsl_meter_init (QslMeter * meter)
{
  meter->have_level = FALSE;
  meter->held_db = -G_MAXDOUBLE;
  meter->shown_db = QSL_METER_FLOOR_DB;
  meter->shown_at = -1;
}

void
qsl_meter_post (QslMeter * meter, gdouble peak_db)
{
  meter->have_level = TRUE;
  /* silence is -inf dB; NaN is no peak */
  if (peak_db > meter->held_db)
    meter->held_db = peak_db;
}

gdouble
qsl_meter_read (QslMeter * meter, gint64 now_us)
{
  gdouble db = meter->held_db;

  /* what was shown, fallen since; a louder peak since takes over */
  if (meter->shown_at >= 0) {
    gdouble since = MAX (now_us - meter->shown_at, 0) /
        (gdouble) G_USEC_PER_SEC;

    db = MAX (db, meter->shown_db - QSL_METER_DECAY_DB_PER_S * since);
  }
  db = CLAMP (db, QSL_METER_FLOOR_DB, 0.0);
  meter->shown_db = db;
  meter->shown_at = now_us;
  meter->held_db = -G_MAXDOUBLE;
  return db;
}

/* ------------------------------------------------------ the line's fields */

/* Priorities: when the line is too wide for the console, the step of the
 * lowest goes first (see qsl_status_line_fit).  The meter's bar shortens
 * before any field is left out; a receiver at 80 columns still shows its
 * state, the meter, buffer/drift/re-locks and drops.  The words "drift"
 * and "correcting" go first (one figure stays: the measured drift once
 * there is one, the correction until then): a longer bar is worth more. */
#define QSL_PRIO_BUFFER_SHORT   3       /* "drift ... (correcting ...)" goes */
#define QSL_PRIO_BAR            5       /* the bar, a cell at a time */
#define QSL_PRIO_CODEC          20
#define QSL_PRIO_SENDER_CLOCK   25
#define QSL_PRIO_RECONNECTS     30
#define QSL_PRIO_LATENCY        40
#define QSL_PRIO_STATE_SHORT    45      /* "connected to HOST:PORT": "connected" */
#define QSL_PRIO_METER_NUMBER   50      /* the bar goes, the figure stays */
#define QSL_PRIO_ICECAST_SHORT  55      /* "icecast live, 3 listeners": "icecast 3" */
#define QSL_PRIO_ICECAST        60
#define QSL_PRIO_DROPS          70
#define QSL_PRIO_CAPTURE_LOST   75
#define QSL_PRIO_BUFFER         80
#define QSL_PRIO_METER          90
#define QSL_PRIO_TOO_LOW        95
#define QSL_PRIO_DELAY          85
#define QSL_PRIO_STATE          100     /* never left out */

/* the meter's bar: cells at full width, the fewest before it goes */
#define QSL_METER_CELLS 20
#define QSL_METER_MIN_CELLS 5

gchar *
qsl_meter_text (gdouble db, guint cells)
{
  gdouble shown = CLAMP (db, QSL_METER_FLOOR_DB, 0.0);
  gchar *bar, *text;
  gint full;

  if (cells == 0)
    return g_strdup_printf ("%d dB", (gint) lround (shown));
  /* 3 dB a cell at 20 cells: the bar spans 60 dB */
  full = (gint) CLAMP (floor ((db + 61.5) / 3.0 * cells / QSL_METER_CELLS),
      0, cells);
  bar = g_strnfill (cells, ' ');
  memset (bar, '#', full);
  text = g_strdup_printf ("[%s] %3d dB", bar, (gint) lround (shown));
  g_free (bar);
  return text;
}

QslStatusLine *
qsl_status_line_build (const QslStatusInfo * info)
{
  QslStatusLine *line = qsl_status_line_new ();
  gchar *t;

  qsl_status_line_add (line, QSL_PRIO_STATE, TRUE, info->state);
  if (info->state_short)
    qsl_status_line_add_short (line, QSL_PRIO_STATE_SHORT, info->state_short);

  qsl_status_line_add (line, QSL_PRIO_CODEC, FALSE, info->codec);

  if (info->have_level) {
    guint cells;

    t = qsl_meter_text (info->level_db, QSL_METER_CELLS);
    qsl_status_line_add (line, QSL_PRIO_METER, FALSE, t);
    g_free (t);
    for (cells = QSL_METER_CELLS - 1; cells >= QSL_METER_MIN_CELLS; cells--) {
      t = qsl_meter_text (info->level_db, cells);
      qsl_status_line_add_short (line, QSL_PRIO_BAR, t);
      g_free (t);
    }
    t = qsl_meter_text (info->level_db, 0);
    qsl_status_line_add_short (line, QSL_PRIO_METER_NUMBER, t);
    g_free (t);
  } else {
    qsl_status_line_add (line, QSL_PRIO_METER, FALSE, "[no level yet]");
  }

  if (GST_CLOCK_TIME_IS_VALID (info->latency)) {
    t = g_strdup_printf ("latency %" G_GUINT64_FORMAT " ms",
        info->latency / GST_MSECOND);
    qsl_status_line_add (line, QSL_PRIO_LATENCY, FALSE, t);
    g_free (t);
  }

  if (info->have_jitter) {
    /* the receiver's jitter buffer: measured room / target, the clocks'
     * difference it measured (once it has) and the correction it applies,
     * and how often it had to re-lock */
    gdouble ppm = info->have_clock ? info->clock_ppm : info->drift_ppm;

    if (info->have_clock)
      t = g_strdup_printf ("buffer %.0f/%" G_GUINT64_FORMAT " ms, drift "
          "%+.0f ppm (correcting %+.0f), re-locks %u",
          info->jitter_latency / 1e6, info->jitter_target / GST_MSECOND,
          info->clock_ppm, info->drift_ppm, info->relocks);
    else
      t = g_strdup_printf ("buffer %.0f/%" G_GUINT64_FORMAT " ms, "
          "correcting %+.0f ppm, re-locks %u", info->jitter_latency / 1e6,
          info->jitter_target / GST_MSECOND, info->drift_ppm, info->relocks);
    qsl_status_line_add (line, QSL_PRIO_BUFFER, FALSE, t);
    g_free (t);
    t = g_strdup_printf ("buffer %.0f/%" G_GUINT64_FORMAT " ms, %+.0f ppm, "
        "re-locks %u", info->jitter_latency / 1e6,
        info->jitter_target / GST_MSECOND, ppm, info->relocks);
    qsl_status_line_add_short (line, QSL_PRIO_BUFFER_SHORT, t);
    g_free (t);
  }

  if (info->e2e_target > 0 && info->e2e_needed > 0) {
    /* -l cannot be held: it plays that much later instead of glitching */
    t = g_strdup_printf ("-l %" G_GUINT64_FORMAT " is too low for this "
        "link: it needs about %" G_GUINT64_FORMAT " ms",
        info->e2e_target / GST_MSECOND,
        (info->e2e_needed + GST_MSECOND - 1) / GST_MSECOND);
    qsl_status_line_add (line, QSL_PRIO_TOO_LOW, FALSE, t);
    g_free (t);
  }
  if (info->e2e_target > 0) {
    if (info->e2e_delay >= 0)
      t = g_strdup_printf ("delay %.1f/%" G_GUINT64_FORMAT " ms",
          info->e2e_delay / 1e6, info->e2e_target / GST_MSECOND);
    else
      t = g_strdup_printf ("delay ?/%" G_GUINT64_FORMAT " ms (%s)",
          info->e2e_target / GST_MSECOND, info->have_sender_clock ?
          "placing" : "sender's clock unknown");
    qsl_status_line_add (line, QSL_PRIO_DELAY, FALSE, t);
    g_free (t);
  }

  if (info->have_sender_clock) {
    t = g_strdup_printf ("sender clock %+.1f ms, %+.0f ppm",
        info->sender_offset / 1e6, info->sender_ppm);
    qsl_status_line_add (line, QSL_PRIO_SENDER_CLOCK, FALSE, t);
    g_free (t);
  }

  t = g_strdup_printf ("drops %" G_GUINT64_FORMAT, info->drops);
  qsl_status_line_add (line, QSL_PRIO_DROPS, FALSE, t);
  g_free (t);

  if (info->capture_lost) {
    t = g_strdup_printf ("capture lost %" G_GUINT64_FORMAT " frames",
        info->capture_lost);
    qsl_status_line_add (line, QSL_PRIO_CAPTURE_LOST, FALSE, t);
    g_free (t);
  }

  t = g_strdup_printf ("reconnects %u", info->reconnects);
  qsl_status_line_add (line, QSL_PRIO_RECONNECTS, FALSE, t);
  g_free (t);

  if (info->icecast) {
    qsl_status_line_add (line, QSL_PRIO_ICECAST, FALSE, info->icecast);
    if (info->icecast_short)
      qsl_status_line_add_short (line, QSL_PRIO_ICECAST_SHORT,
          info->icecast_short);
  }
  return line;
}

/* ------------------------------------------- the status of a pipeline */

struct _QslStatus
{
  const QslSettings *set;
  gboolean tty;
  GstElement *net;
  GstElement *jitter;
  GstElement *capture;
  struct _QslIcecast *icecast;

  GMutex lock;                  /* guards decoder */
  gchar *decoder;
  gchar *capture_device;
  gchar *last_state;
  QslMeter meter;
  GstClockTime latency;
  guint64 last_bytes;
  gint64 last_bytes_time;
  gdouble kbps;
  gint64 last_summary;
  guint status_width;

  /* the firewall hint */
  gint64 listening_since;
  gboolean hinted;
  gboolean reached;
};

QslStatus *
qsl_status_new (const QslSettings * set, gboolean tty, GstElement * net,
    GstElement * jitter, GstElement * capture)
{
  QslStatus *status = g_new0 (QslStatus, 1);

  status->set = set;
  status->tty = tty;
  status->net = net;
  status->jitter = jitter;
  status->capture = capture;
  g_mutex_init (&status->lock);
  status->latency = GST_CLOCK_TIME_NONE;
  qsl_meter_init (&status->meter);
  return status;
}

void
qsl_status_free (QslStatus * status)
{
  g_mutex_clear (&status->lock);
  g_free (status->decoder);
  g_free (status->capture_device);
  g_free (status->last_state);
  g_free (status);
}

/* The spaces after a line of @len characters that blank the rest of the
 * line drawn before, within a console @width wide (0: unknown): more would
 * wrap when the console has narrowed since. */
static guint
qsl_status_padding (QslStatus * status, guint width, guint len)
{
  guint drawn = status->status_width;

  if (width > 1)
    drawn = MIN (drawn, width - 1);
  return drawn > len ? drawn - len : 0;
}

void
qsl_status_clear (QslStatus * status)
{
  if (status->tty && status->status_width) {
    g_printerr ("\r%*s\r", qsl_status_padding (status,
            qsl_platform_console_width (), 0), "");
    status->status_width = 0;
  }
}

void
qsl_status_log (QslStatus * status, const gchar * format, ...)
{
  va_list ap;
  gchar *msg, *shown;

  if (status->set->quiet)
    return;
  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  /* a warning from the bus may carry a peer's words: no escape sequence
   * reaches the terminal */
  shown = qs_proto_text_escape (msg);
  qsl_status_clear (status);
  g_printerr ("qsound-launch: %s\n", shown);
  g_free (shown);
  g_free (msg);
}

void
qsl_status_level (QslStatus * status, const GstStructure * level)
{
  const GValue *peaks = gst_structure_get_value (level, "peak");
  gdouble best = -200.0;
  guint i;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS;
  if (peaks && g_type_is_a (G_VALUE_TYPE (peaks),
          g_type_from_name ("GValueArray"))) {
    GValueArray *arr = g_value_get_boxed (peaks);
    for (i = 0; i < arr->n_values; i++)
      best = MAX (best, g_value_get_double (&arr->values[i]));
  }
  G_GNUC_END_IGNORE_DEPRECATIONS;
  qsl_meter_post (&status->meter, best);
}

void
qsl_status_set_latency (QslStatus * status, GstClockTime latency)
{
  status->latency = latency;
}

void
qsl_status_set_decoder (QslStatus * status, const gchar * name)
{
  g_mutex_lock (&status->lock);
  g_free (status->decoder);
  status->decoder = g_strdup (name);
  g_mutex_unlock (&status->lock);
}

void
qsl_status_set_icecast (QslStatus * status, struct _QslIcecast * ice)
{
  status->icecast = ice;
}

static GstStructure *
qsl_status_net_stats (QslStatus * status)
{
  GstStructure *s = NULL;

  if (status->net
      && g_object_class_find_property (G_OBJECT_GET_CLASS (status->net),
          "stats"))
    g_object_get (status->net, "stats", &s, NULL);
  return s;
}

static guint64
qsl_get_u64 (const GstStructure * s, const gchar * field)
{
  guint64 v64 = 0;
  guint v = 0;

  if (gst_structure_get_uint64 (s, field, &v64))
    return v64;
  if (gst_structure_get_uint (s, field, &v))
    return v;
  return 0;
}

/* A transmitter's capture: logs the device it captures when that changes,
 * returns the frames it lost (never silently: they are counted). */
static guint64
qsl_status_capture_stats (QslStatus * status)
{
  GstStructure *s = NULL;
  const gchar *device;
  guint64 lost;

  if (!status->capture
      || !g_object_class_find_property (G_OBJECT_GET_CLASS (status->capture),
          "stats"))
    return 0;
  g_object_get (status->capture, "stats", &s, NULL);
  if (!s)
    return 0;
  device = gst_structure_get_string (s, "device");
  if (device && *device && g_strcmp0 (device, status->capture_device) != 0) {
    qsl_status_log (status, "capturing %s", device);
    g_free (status->capture_device);
    status->capture_device = g_strdup (device);
  }
  lost = qsl_get_u64 (s, "frames-lost");
  gst_structure_free (s);
  return lost;
}

static gint
qsl_status_server_port (QslStatus * status)
{
  gint port = status->set->port;

  if (status->net
      && g_object_class_find_property (G_OBJECT_GET_CLASS (status->net),
          "current-port"))
    g_object_get (status->net, "current-port", &port, NULL);
  return port;
}

/* The sentence for a transport state, e.g. "waiting for server at ...",
 * and in *@short_text its short form for a narrow console (NULL when there
 * is none). */
static gchar *
qsl_status_state_text (QslStatus * status, const gchar * state,
    const gchar * peer, guint clients, gchar ** short_text)
{
  const QslSettings *set = status->set;

  *short_text = NULL;
  if (g_strcmp0 (state, "listening") == 0) {
    *short_text = g_strdup ("listening");
    return g_strdup_printf ("listening on %s:%d", set->host,
        qsl_status_server_port (status));
  }
  if (g_strcmp0 (state, "connecting") == 0) {
    *short_text = g_strdup ("connecting");
    return g_strdup_printf ("connecting to %s:%d", set->host, set->port);
  }
  if (g_strcmp0 (state, "waiting") == 0) {
    *short_text = g_strdup ("waiting for server");
    return g_strdup_printf ("waiting for server at %s:%d, retrying",
        set->host, set->port);
  }
  if (g_strcmp0 (state, "connected") == 0) {
    if (set->mode->server && set->mode->transmit && clients > 1) {
      *short_text = g_strdup_printf ("serving %u receivers", clients);
      return g_strdup_printf ("serving %u receivers on %s:%d", clients,
          set->host, qsl_status_server_port (status));
    }
    *short_text = g_strdup ("connected");
    return g_strdup_printf ("connected to %s", peer && *peer ? peer : "peer");
  }
  if (state == NULL || g_strcmp0 (state, "idle") == 0)
    return g_strdup ("starting");
  return g_strdup (state);
}

static gchar *
qsl_status_codec_text (QslStatus * status)
{
  const QslSettings *set = status->set;
  gchar *decoder, *text;

  if (set->mode->transmit)
    return g_strdup_printf ("%s %d kbps", set->codec->name, set->kbps);
  /* set from a streaming thread (qsl_status_set_decoder) */
  g_mutex_lock (&status->lock);
  decoder = g_strdup (status->decoder);
  g_mutex_unlock (&status->lock);
  if (decoder)
    text = g_strdup_printf ("%s, %.0f kbps", decoder, status->kbps);
  else
    text = g_strdup_printf ("%.0f kbps", status->kbps);
  g_free (decoder);
  return text;
}

/* A server on the network that nobody reached within 30 s: say which
 * firewall setting lets the other computer in (once). */
static void
qsl_status_firewall_hint (QslStatus * status, const gchar * state)
{
  gint64 now = g_get_monotonic_time ();
  gchar *hint;

  if (g_strcmp0 (state, "connected") == 0)
    status->reached = TRUE;
  if (status->hinted || status->reached || !status->set->mode->server
      || g_strcmp0 (state, "listening") != 0) {
    status->listening_since = 0;
    return;
  }
  if (!status->listening_since)
    status->listening_since = now;
  if (now - status->listening_since < 30 * G_USEC_PER_SEC)
    return;
  status->hinted = TRUE;
  hint = qsl_platform_firewall_hint (status->set->host,
      qsl_status_server_port (status));
  if (hint)
    qsl_status_log (status, "%s", hint);
  g_free (hint);
}

gboolean
qsl_status_tick (gpointer user_data)
{
  QslStatus *status = user_data;
  QslStatusInfo info = { 0, };
  QslStatusLine *fields;
  GstStructure *s;
  const gchar *state = NULL, *peer = NULL;
  guint64 bytes = 0;
  guint clients = 0;
  gchar *state_text, *state_short, *codec_text, *line;
  gchar *ice_text = NULL, *ice_short = NULL;
  gint64 now = g_get_monotonic_time ();

  s = qsl_status_net_stats (status);
  if (s) {
    state = gst_structure_get_string (s, "state");
    peer = gst_structure_get_string (s, "peer");
    info.drops = qsl_get_u64 (s, status->set->mode->transmit ? "dropped" :
        "lost");
    bytes = qsl_get_u64 (s, "bytes");
    info.reconnects = (guint) qsl_get_u64 (s, "reconnects");
    clients = (guint) qsl_get_u64 (s, "clients");
    if (gst_structure_get_boolean (s, "clock-synced",
            &info.have_sender_clock) && info.have_sender_clock)
      gst_structure_get (s, "clock-offset", G_TYPE_INT64, &info.sender_offset,
          "clock-ppm", G_TYPE_DOUBLE, &info.sender_ppm, NULL);
  }

  if (status->last_bytes_time && now > status->last_bytes_time
      && bytes >= status->last_bytes) {
    gdouble k = (bytes - status->last_bytes) * 8.0 / 1000.0 /
        ((now - status->last_bytes_time) / 1e6);
    status->kbps = status->kbps > 0 ? 0.7 * status->kbps + 0.3 * k : k;
  }
  status->last_bytes = bytes;
  status->last_bytes_time = now;

  info.capture_lost = qsl_status_capture_stats (status);
  qsl_status_firewall_hint (status, state);
  state_text = qsl_status_state_text (status, state, peer, clients,
      &state_short);
  codec_text = qsl_status_codec_text (status);

  /* state changes are always logged as plain lines */
  if (g_strcmp0 (state_text, status->last_state) != 0) {
    if (!status->tty)
      qsl_status_log (status, "%s", state_text);
    g_free (status->last_state);
    status->last_state = g_strdup (state_text);
  }

  info.state = state_text;
  info.state_short = state_short;
  info.codec = codec_text;
  info.have_level = status->meter.have_level;
  info.level_db = qsl_meter_read (&status->meter, now);
  info.latency = status->latency;
  if (status->jitter) {
    GstStructure *js = NULL;

    g_object_get (status->jitter, "stats", &js, NULL);
    if (js) {
      gdouble span = 0.0;

      gst_structure_get (js, "latency", G_TYPE_INT64, &info.jitter_latency,
          "target", G_TYPE_UINT64, &info.jitter_target, "drift-ppm",
          G_TYPE_DOUBLE, &info.drift_ppm, "corrections", G_TYPE_UINT,
          &info.relocks, NULL);
      gst_structure_get (js, "end-to-end-target", G_TYPE_UINT64,
          &info.e2e_target, "end-to-end", G_TYPE_INT64, &info.e2e_delay,
          "end-to-end-needed", G_TYPE_UINT64, &info.e2e_needed, NULL);
      /* the measured difference, once the element has one */
      if (gst_structure_get_double (js, "clock-span", &span) && span > 0.0
          && gst_structure_get_double (js, "clock-ppm", &info.clock_ppm))
        info.have_clock = TRUE;
      gst_structure_free (js);
      info.have_jitter = TRUE;
    }
  }
  if (status->icecast) {
    ice_text = qsl_icecast_status_text (status->icecast, &ice_short);
    info.icecast = ice_text;
    info.icecast_short = ice_short;
  }
  fields = qsl_status_line_build (&info);

  if (status->set->quiet) {
    /* nothing */
  } else if (status->tty) {
    guint len, width = qsl_platform_console_width ();

    /* a line wider than the console wraps, and \r goes back only to the
     * start of its last row: the least important fields give way */
    line = qsl_status_line_fit (fields, width);
    len = g_utf8_strlen (line, -1);
    g_printerr ("\r%s%*s", line, qsl_status_padding (status, width, len),
        "");
    status->status_width = len;
    g_free (line);
  } else if (now - status->last_summary >= 5 * G_USEC_PER_SEC) {
    line = qsl_status_line_full (fields);
    qsl_status_log (status, "%s", line);
    status->last_summary = now;
    g_free (line);
  }

  qsl_status_line_free (fields);
  g_free (ice_text);
  g_free (ice_short);
  g_free (codec_text);
  g_free (state_short);
  g_free (state_text);
  if (s)
    gst_structure_free (s);
  return G_SOURCE_CONTINUE;
}
