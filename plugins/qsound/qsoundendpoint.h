/* qsound — one endpoint for framedtcpsink and framedtcpsrc: the settings and
 * properties they share, listening, connecting with backoff, state and the
 * shared statistics.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The settings are written by set_property under the element's object lock
 * and copied once, in qs_endpoint_start(), into ep->run: the element's
 * threads read that copy without a lock, so a property set while the
 * element runs (they are all GST_PARAM_MUTABLE_READY) never races with them.
 */
#ifndef __QSOUND_ENDPOINT_H__
#define __QSOUND_ENDPOINT_H__

#include "qsoundconn.h"

G_BEGIN_DECLS

typedef enum {
  QS_ENDPOINT_SINK,             /* framedtcpsink: the sending end */
  QS_ENDPOINT_SRC,              /* framedtcpsrc: the receiving end */
} QsEndpointRole;

/* Property ids of the shared properties; an element numbers its own from
 * QS_ENDPOINT_PROP_LAST on. */
enum {
  QS_ENDPOINT_PROP_0,
  QS_ENDPOINT_PROP_MODE,
  QS_ENDPOINT_PROP_HOST,
  QS_ENDPOINT_PROP_PORT,
  QS_ENDPOINT_PROP_CURRENT_PORT,
  QS_ENDPOINT_PROP_KEY,
  QS_ENDPOINT_PROP_MAX_FRAME_SIZE,
  QS_ENDPOINT_PROP_TIMEOUT,
  QS_ENDPOINT_PROP_RECONNECT,
  QS_ENDPOINT_PROP_LAST
};

typedef struct {
  QsConnMode mode;
  gchar *host;
  guint port;
  gchar *key;                   /* never kept in ep->run */
  guint max_frame_size;
  guint timeout;                /* s */
  gboolean reconnect;
} QsEndpointSettings;

typedef struct {
  GstElement *element;
  QsEndpointRole role;

  QsEndpointSettings settings;  /* the properties, under the object lock */
  QsEndpointSettings run;       /* copied at start, read freely while running */
  const guint8 *skey;           /* the stretched key, or NULL; set at start */

  /* status, under lock */
  GMutex lock;
  gchar *state;
  gchar *peer;
  guint current_port;
  guint reconnects;
  guint connections;
} QsEndpoint;

void       qs_endpoint_init           (QsEndpoint * ep, GstElement * element, QsEndpointRole role);
void       qs_endpoint_clear          (QsEndpoint * ep);
void       qs_endpoint_install_properties (GObjectClass * klass, QsEndpointRole role);
/* TRUE when prop_id is one of the shared properties (and was handled). */
gboolean   qs_endpoint_set_property   (QsEndpoint * ep, guint prop_id, const GValue * value);
gboolean   qs_endpoint_get_property   (QsEndpoint * ep, guint prop_id, GValue * value);

/* Copies the settings, stretches the key (once per key and process), and in
 * server mode listens (*listener) and warns once when it serves in clear on
 * an address other than loopback.  Posts the element's error and returns
 * FALSE on failure. */
gboolean   qs_endpoint_start          (QsEndpoint * ep, GCancellable * cancellable,
                                       GSocket ** listener);
/* The state back to idle, the port to 0. */
void       qs_endpoint_stop           (QsEndpoint * ep);

/* "listening", "connecting", "waiting", "connected"...; peer NULL keeps it. */
void       qs_endpoint_set_state      (QsEndpoint * ep, const gchar * state, const gchar * peer);
/* Counts a connection that passed its handshake (the second and later are
 * reconnects); returns TRUE for the second and later. */
gboolean   qs_endpoint_connected      (QsEndpoint * ep, const gchar * peer);
/* Adds reconnects, state, peer and key-stretches (how many keys this
 * process has stretched: once per key, never per connection) to a stats
 * structure. */
void       qs_endpoint_add_stats      (QsEndpoint * ep, GstStructure * s);

/* Errors that retrying cannot cure (wrong key, versions, roles, not qsound,
 * a host name that does not resolve). */
gboolean   qs_endpoint_error_is_fatal (const GError * error);

/* Server mode: what it refuses, reported in few warnings.  Each refusal
 * counts in r; the first is reported at once, the rest at most every 10 s
 * (QS_CONN_REFUSED_REPORT_INTERVAL) with how many came, as one element
 * WARNING whose details hold refused-count (guint, the refusals it
 * reports) and refused (guint64, all since start, as in stats). */

/* Closes a connection beyond the limits at once. */
void       qs_endpoint_refuse         (QsEndpoint * ep, QsConnRefusals * r, GSocket * socket,
                                       const gchar * why);
/* A peer whose handshake failed (a stranger that said nothing in time, a
 * wrong key, not qsound...). */
void       qs_endpoint_refused        (QsEndpoint * ep, QsConnRefusals * r, const gchar * peer,
                                       const GError * error);
/* An accept that failed (out of descriptors, say); returns how long to back
 * off before the next accept. */
gint64     qs_endpoint_accept_failed  (QsEndpoint * ep, QsConnRefusals * r, const GError * error,
                                       gint64 backoff);
/* For the accept loop: posts the refusals not reported yet once 10 s have
 * passed since the last report, and returns when to call it again
 * (monotonic), the deadline for the next accept. */
#define QS_ENDPOINT_FLUSH_PERIOD   (1 * G_TIME_SPAN_SECOND)
gint64     qs_endpoint_refusals_flush (QsEndpoint * ep, QsConnRefusals * r);
/* Posts a report of qs_conn_refusals_add/flush (and frees it). */
void       qs_endpoint_post_refusals  (QsEndpoint * ep, QsConnRefusals * r, gchar * report,
                                       guint count);

/* The element's running time on its pipeline clock: the timeline of its
 * buffers' timestamps, and of the times in timed heartbeats.
 * GST_CLOCK_TIME_NONE without a clock. */
GstClockTime qs_endpoint_running_time (QsEndpoint * ep);

/* Sleeps delay_us, or less when cancellable is cancelled; FALSE then. */
gboolean   qs_endpoint_sleep          (GCancellable * cancellable, gint64 delay_us);

/* Client mode: connects to the configured server and shakes hands as role,
 * retrying with backoff (*backoff, 0 at first) while ep->run.reconnect is
 * set and the error is not fatal.  Returns the socket, with parser reset
 * and fed and *seal set; or NULL with the error (CANCELLED when stopped). */
GSocket *  qs_endpoint_connect        (QsEndpoint * ep, QsRole role, QsProtoParser * parser,
                                       QsProtoSeal ** seal, gint64 * backoff,
                                       GCancellable * cancellable, GError ** error);

G_END_DECLS

#endif /* __QSOUND_ENDPOINT_H__ */
