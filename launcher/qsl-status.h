/* qsound-launch — the status: a line redrawn in place on a terminal, plain
 * log lines without one.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __QSL_STATUS_H__
#define __QSL_STATUS_H__

#include <gst/gst.h>

#include "qsl-options.h"

G_BEGIN_DECLS

/* ------------------------------------------------ the line, as text
 * (pure: no terminal, no pipeline; tests/check/status.c) */

/* A line of fields joined by " | ", each with a priority: the higher, the
 * longer it is kept when the console is too narrow for all of them. */
typedef struct _QslStatusLine QslStatusLine;

QslStatusLine *qsl_status_line_new (void);
void qsl_status_line_free (QslStatusLine * line);

/* Appends a field.  @keep: never left out (it may still be cut at the end
 * of a word when nothing else is left). */
void qsl_status_line_add (QslStatusLine * line, gint priority, gboolean keep,
    const gchar * text);

/* A shorter form of the field appended last (after those it has).  The
 * step to it competes with the other fields' steps by @priority; a field's
 * steps are taken in order, its shortest form before it is left out. */
void qsl_status_line_add_short (QslStatusLine * line, gint priority,
    const gchar * text);

/* Every field in its first form: the line logged without a terminal. */
gchar *qsl_status_line_full (const QslStatusLine * line);

/* The line for a console @columns wide, in at most @columns - 1 characters
 * (the last column would wrap on some terminals; 0 = unknown: the full
 * line): while it is too wide, the step of the lowest priority is taken
 * (a field to its next shorter form, or, at its shortest, left out; of
 * equal priorities, the rightmost field's), then the steps that are no
 * longer needed are undone, the most important first.  When only fields to
 * keep are left and they are still too wide, the line is cut at the end of
 * a word. */
gchar *qsl_status_line_fit (const QslStatusLine * line, guint columns);

/* What the status line shows. */
typedef struct
{
  const gchar *state;           /* "connected to 192.168.1.20:5000" */
  const gchar *state_short;     /* "connected"; NULL when none is shorter */
  const gchar *codec;           /* "mp3 192 kbps", "mpg123audiodec, 190 kbps" */
  gboolean have_level;          /* the level element has posted */
  gdouble level_db;             /* what the meter shows */
  GstClockTime latency;         /* the pipeline's, or GST_CLOCK_TIME_NONE */
  gboolean have_jitter;         /* a receiver's audiojitterbuffer: */
  gint64 jitter_latency;        /*   the room it measures, ns */
  guint64 jitter_target;        /*   the room it holds, ns */
  gdouble drift_ppm;            /*   the correction it applies */
  gboolean have_clock;          /*   it has measured the clocks': */
  gdouble clock_ppm;            /*     how much faster the sender's runs */
  guint relocks;                /*   how often it re-locked */
  guint64 e2e_target;           /*   the end-to-end delay set (-l), ns,
                                 *   0: none */
  gint64 e2e_delay;             /*   ... as measured, ns (< 0: not yet) */
  guint64 e2e_needed;           /*   ... what the link needs if -l is too
                                 *   low for it, else 0 */
  gboolean have_sender_clock;   /* a receiver's estimate of the sender's
                                 * clock (timed heartbeats, protocol 2.1): */
  gint64 sender_offset;         /*   its running time minus ours, ns */
  gdouble sender_ppm;           /*   how much faster it runs */
  guint64 drops;                /* dropped (transmitter) or lost (receiver) */
  guint64 capture_lost;         /* a transmitter's lost capture frames */
  guint reconnects;
  const gchar *icecast;         /* a transmitter with --icecast: "icecast
                                 * live, 3 listeners"; NULL without */
  const gchar *icecast_short;   /* "icecast 3" */
} QslStatusInfo;

/* The status line's fields: the state (kept; "connected" for "connected
 * to HOST:PORT" when narrow), the codec, the meter (its bar shortening
 * first, down to 5 cells, then only the figure), the latency, the jitter
 * buffer ("drift" dropped when narrow), the sender's clock, drops, capture
 * lost, reconnects, Icecast.  In full: "STATE | CODEC | [####      ]
 * -20 dB | latency N ms | buffer M/T ms, drift +P ppm, re-locks R | sender
 * clock +O ms, +P ppm | drops D | reconnects C | icecast live, L
 * listeners". */
QslStatusLine *qsl_status_line_build (const QslStatusInfo * info);

/* The level meter, as audio meters do: it holds the highest peak posted
 * between two draws and falls back from what it showed at 20 dB a second,
 * so a short sound (a 23 ms burst between draws 250 ms apart, the level
 * element posting every 100 ms) is seen, and silence reads the floor:
 * -99 dB and below show as -99 dB. */
#define QSL_METER_FLOOR_DB (-99.0)
#define QSL_METER_DECAY_DB_PER_S 20.0

typedef struct
{
  gboolean have_level;          /* a peak was posted */
  gdouble held_db;              /* the highest peak since the last read */
  gdouble shown_db;             /* what the last read returned */
  gint64 shown_at;              /* when, in µs; -1 before the first */
} QslMeter;

void qsl_meter_init (QslMeter * meter);

/* A peak in dB (of a level message; -inf for digital silence). */
void qsl_meter_post (QslMeter * meter, gdouble peak_db);

/* What the meter shows at @now_us (monotonic µs), a draw: the highest
 * peak posted since the last read, or what that read showed less 20 dB a
 * second since, whichever is higher; within the floor and 0 dB. */
gdouble qsl_meter_read (QslMeter * meter, gint64 now_us);

/* The meter for @db: "[##########          ] -30 dB" with a bar of @cells
 * cells (3 dB a cell at 20 cells, from -60 dB), or "-30 dB" when @cells
 * is 0. */
gchar *qsl_meter_text (gdouble db, guint cells);

/* ------------------------------------------- the status of a pipeline */

typedef struct _QslStatus QslStatus;

/* The status of a running pipeline, read from its elements named net (the
 * transport), jitter (a receiver's audiojitterbuffer) and capture (a
 * transmitter's loopbacksrc), any of them NULL; borrowed, they must outlive
 * the status.  @tty: stderr is a terminal, so the line is redrawn in place;
 * else state changes and a summary every 5 s are logged as plain lines. */
QslStatus *qsl_status_new (const QslSettings * set, gboolean tty,
    GstElement * net, GstElement * jitter, GstElement * capture);
void qsl_status_free (QslStatus * status);

/* One line "qsound-launch: <message>" on stderr (nothing with -q), after
 * clearing the status line. */
void qsl_status_log (QslStatus * status, const gchar * format, ...)
    G_GNUC_PRINTF (2, 3);

/* Clears the status line on a terminal, before other output. */
void qsl_status_clear (QslStatus * status);

/* What the bus and the streaming threads tell: a message of the level
 * element (its highest channel's peak goes to the meter); the pipeline's
 * latency; the decoder that decodebin picked (from any thread). */
void qsl_status_level (QslStatus * status, const GstStructure * level);
void qsl_status_set_latency (QslStatus * status, GstClockTime latency);
void qsl_status_set_decoder (QslStatus * status, const gchar * name);

/* A transmitter publishing to Icecast (qsl-icecast.h): its state and
 * listeners join the line; NULL: none.  Borrowed. */
struct _QslIcecast;
void qsl_status_set_icecast (QslStatus * status, struct _QslIcecast * ice);

/* Reads the elements' stats and shows them: a GSourceFunc, for a timeout
 * every 250 ms on a terminal, every second without one. */
gboolean qsl_status_tick (gpointer status);

G_END_DECLS

#endif /* __QSL_STATUS_H__ */
