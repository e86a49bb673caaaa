/* qsound — sockets and the handshake, shared by framedtcpsink and framedtcpsrc.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every call here that can block takes a GCancellable and a deadline, so an
 * element going to NULL interrupts it at once.  Errors come back as GErrors in
 * QS_CONN_ERROR whose message is one plain sentence naming the cause and the
 * fix, ready for GST_ELEMENT_ERROR.
 */
#ifndef __QSOUND_CONN_H__
#define __QSOUND_CONN_H__

#include <gio/gio.h>
#include <gst/gst.h>

#include "qsoundproto.h"

G_BEGIN_DECLS

typedef enum {
  QS_CONN_MODE_SERVER = 0,
  QS_CONN_MODE_CLIENT = 1,
} QsConnMode;

#define QS_TYPE_CONN_MODE (qs_conn_mode_get_type ())
GType qs_conn_mode_get_type (void);

#define QS_CONN_ERROR (qs_conn_error_quark ())
GQuark qs_conn_error_quark (void);

typedef enum {
  /* QsProtoError values map 1:1 onto the first codes */
  QS_CONN_ERROR_NOT_QSOUND = QS_PROTO_ERR_NOT_QSOUND,
  QS_CONN_ERROR_VERSION = QS_PROTO_ERR_VERSION,
  QS_CONN_ERROR_ROLE = QS_PROTO_ERR_ROLE,
  QS_CONN_ERROR_AUTH = QS_PROTO_ERR_AUTH,
  QS_CONN_ERROR_FRAME_TOO_LARGE = QS_PROTO_ERR_FRAME_TOO_LARGE,
  QS_CONN_ERROR_BAD_FRAME = QS_PROTO_ERR_BAD_FRAME,
  QS_CONN_ERROR_BAD_CAPS = QS_PROTO_ERR_BAD_CAPS,
  QS_CONN_ERROR_UNEXPECTED = QS_PROTO_ERR_UNEXPECTED,
  QS_CONN_ERROR_PEER = QS_PROTO_ERR_PEER,
  QS_CONN_ERROR_ALTERED = QS_PROTO_ERR_ALTERED,
  QS_CONN_ERROR_CLOSED = 100,      /* the peer closed the connection */
  QS_CONN_ERROR_TIMEOUT,           /* the peer went silent */
  QS_CONN_ERROR_RESOLVE,           /* host name does not resolve */
  QS_CONN_ERROR_ADDRESS_IN_USE,
  QS_CONN_ERROR_REFUSED,           /* connection refused / unreachable */
  QS_CONN_ERROR_NETWORK,           /* any other socket error */
  QS_CONN_ERROR_CANCELLED,
} QsConnError;

/* Heartbeat period: each side sends one when it has sent nothing for this long. */
#define QS_CONN_HEARTBEAT_INTERVAL (1 * G_TIME_SPAN_SECOND)
/* A handshake not finished within this time fails. */
#define QS_CONN_HANDSHAKE_TIMEOUT  (5 * G_TIME_SPAN_SECOND)

/* A server handshakes with at most this many peers at once; more are closed
 * at once, so idle strangers cannot hold it up or use up its threads. */
#define QS_CONN_MAX_PENDING        4
/* Connections a server refused (closed at once beyond the limits, or whose
 * handshake failed) are reported at most this often. */
#define QS_CONN_REFUSED_REPORT_INTERVAL (10 * G_TIME_SPAN_SECOND)

/* Counts what a server refused and says when to report it: the first at
 * once, then at most once every QS_CONN_REFUSED_REPORT_INTERVAL, with how
 * many came since the last report.  It has its own lock: any thread adds,
 * and one that wakes regularly (the accept loop) flushes, so a burst is
 * reported in full without waiting for another refusal.  (It serves for
 * other events that come in bursts too: verb and noun name them.) */
typedef struct {
  GMutex lock;
  guint64 total;                   /* since start */
  guint unreported;
  gint64 last_report;              /* monotonic, 0 = never */
  gchar *latest;                   /* the latest unreported one, a sentence */
  const gchar *verb, *noun;        /* "Refused", "connections": a report of
                                    * several says "Refused 7 connections" */
} QsConnRefusals;

/* verb and noun: static strings, NULL for "Refused" and "connections" */
void       qs_conn_refusals_init      (QsConnRefusals * r, const gchar * verb,
                                       const gchar * noun);
void       qs_conn_refusals_clear     (QsConnRefusals * r);
/* Back to nothing refused (at start). */
void       qs_conn_refusals_reset     (QsConnRefusals * r);
guint64    qs_conn_refusals_total     (QsConnRefusals * r);
/* Counts one refusal, said in one sentence.  Returns the report to post
 * now (newly allocated; *count: the refusals it covers), or NULL while the
 * last report is less than the interval ago. */
gchar *    qs_conn_refusals_add       (QsConnRefusals * r, const gchar * sentence,
                                       guint * count);
/* The report of the refusals not reported yet, once the interval since the
 * last report has passed; NULL before, or when there are none. */
gchar *    qs_conn_refusals_flush     (QsConnRefusals * r, guint * count);

/* Reconnect backoff: 100 ms doubling to 2 s, +- 25 % jitter. */
gint64     qs_conn_backoff_next       (gint64 previous_us);

GSocket *  qs_conn_listen             (const gchar * host, guint port, GCancellable * cancellable,
                                       GError ** error);
GSocket *  qs_conn_connect            (const gchar * host, guint port, GCancellable * cancellable,
                                       GError ** error);
/* Waits for a peer on a listening socket until deadline_us (monotonic;
 * 0 = no deadline): NULL with *timed_out = TRUE and no error then. */
GSocket *  qs_conn_accept             (GSocket * listener, gint64 deadline_us,
                                       gboolean * timed_out, GCancellable * cancellable,
                                       GError ** error);
guint      qs_conn_local_port         (GSocket * socket);
/* "host:port" of the peer, newly allocated. */
gchar *    qs_conn_peer_name          (GSocket * socket);

/* Writes all of the vectors, waiting at most until deadline_us (monotonic;
 * 0 = no deadline). */
gboolean   qs_conn_write_vectors      (GSocket * socket, GOutputVector * vectors, guint n_vectors,
                                       gint64 deadline_us, GCancellable * cancellable,
                                       GError ** error);

/* Writes one frame (head, then body), sealed when seal is not NULL. */
gboolean   qs_conn_write_parts        (GSocket * socket, QsProtoSeal * seal, const guint8 * head,
                                       gsize head_len, const guint8 * body, gsize body_len,
                                       gint64 deadline_us, GCancellable * cancellable,
                                       GError ** error);
/* Writes one whole frame and unrefs it. */
gboolean   qs_conn_write_frame        (GSocket * socket, QsProtoSeal * seal, GBytes * frame,
                                       gint64 deadline_us, GCancellable * cancellable,
                                       GError ** error);

/* Sends a HEARTBEAT carrying the monotonic time, waiting at most until
 * deadline_us. */
gboolean   qs_conn_send_heartbeat     (GSocket * socket, QsProtoSeal * seal, gint64 deadline_us,
                                       GCancellable * cancellable, GError ** error);

/* Reads until the parser yields a message or deadline_us passes (then
 * returns FALSE with *timed_out = TRUE and no error).  deadline_us 0 polls:
 * it only takes what is already there. */
gboolean   qs_conn_read_message       (GSocket * socket, QsProtoParser * parser, QsMessage * msg,
                                       gint64 deadline_us, gboolean * timed_out,
                                       GCancellable * cancellable, GError ** error);

/* The stretched key for a passphrase (Argon2id), computed once per process
 * and passphrase and kept; NULL for an empty passphrase, or NULL with error
 * when memory is short. */
const guint8 * qs_conn_key_get        (const gchar * passphrase, GError ** error);
/* How many keys this process has stretched so far (stats: key-stretches). */
guint      qs_conn_key_stretches      (void);

/* Both sides' HELLO; then, when both have a key, the connecting end's proof,
 * checked by the listening end before it sends its own.  On success the peer
 * is a qsound endpoint of the opposite role that knows the key, the parser
 * opens the peer's sealed frames and *seal (NULL without a key) seals ours. */
gboolean   qs_conn_handshake          (GSocket * socket, QsProtoParser * parser, QsRole role,
                                       gboolean listener, const guint8 * key, QsProtoSeal ** seal,
                                       GCancellable * cancellable, GError ** error);

/* Tells the peer why we are closing (best effort, never blocks long). */
void       qs_conn_send_error         (GSocket * socket, QsProtoSeal * seal, const GError * error);

/* TRUE when host names only loopback addresses (so a server there is private). */
gboolean   qs_conn_host_is_loopback   (const gchar * host);

G_END_DECLS

#endif /* __QSOUND_CONN_H__ */
