/* qsound — sockets and the handshake, shared by framedtcpsink and framedtcpsrc.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsoundconn.h"

#include <string.h>

#ifdef G_OS_WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#endif

/* Descriptors kept free for everything else: GLib aborts the process when
 * it cannot get one (a GCancellable's wakeup, say), so a server refuses a
 * connection rather than use the last ones. */
#define QS_CONN_FD_RESERVE 8

#define QS_CONN_READ_CHUNK (64 * 1024)

G_DEFINE_QUARK (qs-conn-error-quark, qs_conn_error);

GType
qs_conn_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {QS_CONN_MODE_SERVER, "Listen on host:port and wait for peers", "server"},
    {QS_CONN_MODE_CLIENT, "Connect to a server at host:port", "client"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("QsConnMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

gint64
qs_conn_backoff_next (gint64 previous_us)
{
  gint64 next = previous_us <= 0 ? 100 * G_TIME_SPAN_MILLISECOND : previous_us * 2;

  next = MIN (next, 2 * G_TIME_SPAN_SECOND);
  /* +- 25 % jitter, so that many clients do not retry in lock step */
  return next + g_random_int_range (-(gint32) (next / 4), (gint32) (next / 4) + 1);
}

void
qs_conn_refusals_init (QsConnRefusals * r, const gchar * verb,
    const gchar * noun)
{
  memset (r, 0, sizeof (*r));
  g_mutex_init (&r->lock);
  r->verb = verb ? verb : "Refused";
  r->noun = noun ? noun : "connections";
}

void
qs_conn_refusals_clear (QsConnRefusals * r)
{
  g_free (r->latest);
  r->latest = NULL;
  g_mutex_clear (&r->lock);
}

void
qs_conn_refusals_reset (QsConnRefusals * r)
{
  g_mutex_lock (&r->lock);
  r->total = 0;
  r->unreported = 0;
  r->last_report = 0;
  g_clear_pointer (&r->latest, g_free);
  g_mutex_unlock (&r->lock);
}

guint64
qs_conn_refusals_total (QsConnRefusals * r)
{
  guint64 total;

  g_mutex_lock (&r->lock);
  total = r->total;
  g_mutex_unlock (&r->lock);
  return total;
}

/* Under the lock: the report of what is unreported, and a new interval. */
static gchar *
qs_conn_refusals_report (QsConnRefusals * r, gint64 now, guint * count)
{
  gchar *report;

  if (r->unreported == 1) {
    report = g_strdup (r->latest);
  } else {
    gint64 since = r->last_report ? now - r->last_report :
        QS_CONN_REFUSED_REPORT_INTERVAL;

    /* the latest sentence, its first letter made lower case, goes on */
    report = g_strdup_printf ("%s %u %s in the last %u s; the latest: %c%s",
        r->verb, r->unreported, r->noun, (guint) ((since +
                G_TIME_SPAN_SECOND - 1) / G_TIME_SPAN_SECOND),
        g_ascii_tolower (r->latest[0]), r->latest + 1);
  }
  *count = r->unreported;
  r->unreported = 0;
  r->last_report = now;
  g_clear_pointer (&r->latest, g_free);
  return report;
}

gchar *
qs_conn_refusals_add (QsConnRefusals * r, const gchar * sentence,
    guint * count)
{
  gint64 now = g_get_monotonic_time ();
  gchar *report = NULL;

  g_mutex_lock (&r->lock);
  r->total++;
  r->unreported++;
  g_free (r->latest);
  r->latest = g_strdup (sentence && *sentence ? sentence :
      "Refused a connection.");
  if (r->last_report == 0
      || now - r->last_report >= QS_CONN_REFUSED_REPORT_INTERVAL)
    report = qs_conn_refusals_report (r, now, count);
  g_mutex_unlock (&r->lock);
  return report;
}

gchar *
qs_conn_refusals_flush (QsConnRefusals * r, guint * count)
{
  gint64 now = g_get_monotonic_time ();
  gchar *report = NULL;

  g_mutex_lock (&r->lock);
  if (r->unreported > 0
      && now - r->last_report >= QS_CONN_REFUSED_REPORT_INTERVAL)
    report = qs_conn_refusals_report (r, now, count);
  g_mutex_unlock (&r->lock);
  return report;
}

/* Turns a GIO error into a QS_CONN_ERROR with a sentence for the user. */
static void
qs_conn_set_io_error (GError ** error, GError * io_error, const gchar * what,
    const gchar * host, guint port)
{
  if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED, "cancelled");
  } else if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)) {
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_REFUSED,
        "Nothing is listening on %s:%u (connection refused); start the server "
        "side first, or check the host and port.", host, port);
  } else if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)) {
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_ADDRESS_IN_USE,
        "Port %u on %s is already in use by another program; stop that "
        "program or pick another port.", port, host);
  } else if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
      || g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)) {
    g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_CLOSED,
        "The peer closed the connection.");
  } else if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_TIMEOUT,
        "Timed out while trying to %s %s:%u; check that the host is reachable.",
        what, host, port);
  } else {
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_NETWORK,
        "Could not %s %s:%u: %s.", what, host, port, io_error->message);
  }
  g_error_free (io_error);
}

gboolean
qs_conn_host_is_loopback (const gchar * host)
{
  GInetAddress *addr;
  gboolean loopback;

  if (host == NULL || g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  addr = g_inet_address_new_from_string (host);
  if (!addr)
    return FALSE;               /* a name: it may well be reachable */
  loopback = g_inet_address_get_is_loopback (addr);
  g_object_unref (addr);
  return loopback;
}

static GList *
qs_conn_resolve (const gchar * host, guint port, GCancellable * cancellable,
    GError ** error)
{
  GInetAddress *addr;
  GResolver *resolver;
  GList *addrs, *l, *out = NULL;
  GError *err = NULL;

  addr = g_inet_address_new_from_string (host);
  if (addr) {
    out = g_list_append (NULL, g_inet_socket_address_new (addr, port));
    g_object_unref (addr);
    return out;
  }

  resolver = g_resolver_get_default ();
  addrs = g_resolver_lookup_by_name (resolver, host, cancellable, &err);
  g_object_unref (resolver);
  if (!addrs) {
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED, "cancelled");
    else
      g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_RESOLVE,
          "The host name '%s' does not resolve to an address (%s); check the "
          "spelling or use an IP address.", host, err->message);
    g_clear_error (&err);
    return NULL;
  }
  for (l = addrs; l; l = l->next)
    out = g_list_append (out, g_inet_socket_address_new (l->data, port));
  g_resolver_free_addresses (addrs);
  return out;
}

static void
qs_conn_tune (GSocket * socket)
{
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  g_socket_set_keepalive (socket, TRUE);
}

GSocket *
qs_conn_listen (const gchar * host, guint port, GCancellable * cancellable,
    GError ** error)
{
  GList *addrs;
  GSocket *socket;
  GError *err = NULL;

  addrs = qs_conn_resolve (host, port, cancellable, error);
  if (!addrs)
    return NULL;

  socket = g_socket_new (g_socket_address_get_family (addrs->data),
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &err);
  if (!socket)
    goto failed;
  if (!g_socket_bind (socket, addrs->data, TRUE, &err))
    goto failed;
  g_socket_set_listen_backlog (socket, 8);
  if (!g_socket_listen (socket, &err))
    goto failed;
  g_socket_set_blocking (socket, FALSE);
  g_list_free_full (addrs, g_object_unref);
  return socket;

failed:
  g_list_free_full (addrs, g_object_unref);
  g_clear_object (&socket);
  qs_conn_set_io_error (error, err, "listen on", host, port);
  return NULL;
}

GSocket *
qs_conn_connect (const gchar * host, guint port, GCancellable * cancellable,
    GError ** error)
{
  GList *addrs, *l;
  GError *err = NULL;

  addrs = qs_conn_resolve (host, port, cancellable, error);
  if (!addrs)
    return NULL;

  for (l = addrs; l; l = l->next) {
    GSocket *socket;

    g_clear_error (&err);
    socket = g_socket_new (g_socket_address_get_family (l->data),
        G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &err);
    if (!socket)
      continue;
    /* g_socket_connect() waits with the cancellable; bound it too */
    g_socket_set_timeout (socket, 5);
    if (g_socket_connect (socket, l->data, cancellable, &err)) {
      g_socket_set_timeout (socket, 0);
      qs_conn_tune (socket);
      g_list_free_full (addrs, g_object_unref);
      g_clear_error (&err);
      return socket;
    }
    g_object_unref (socket);
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      break;
  }
  g_list_free_full (addrs, g_object_unref);
  qs_conn_set_io_error (error, err, "connect to", host, port);
  return NULL;
}

GSocket *
qs_conn_accept (GSocket * listener, gint64 deadline_us, gboolean * timed_out,
    GCancellable * cancellable, GError ** error)
{
  GError *err = NULL;
  GSocket *socket;

  *timed_out = FALSE;
  for (;;) {
    gint64 timeout = deadline_us > 0 ?
        MAX (deadline_us - g_get_monotonic_time (), 0) : -1;

    if (!g_socket_condition_timed_wait (listener, G_IO_IN, timeout,
            cancellable, &err)) {
      if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
        g_error_free (err);
        *timed_out = TRUE;
        return NULL;
      }
      break;
    }
    socket = g_socket_accept (listener, cancellable, &err);
    if (socket) {
#ifndef G_OS_WIN32
      struct rlimit rl;
      gint fd = g_socket_get_fd (socket);

      /* descriptors are numbered lowest first: fd is about how many are open */
      if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
          && (rlim_t) fd + QS_CONN_FD_RESERVE >= rl.rlim_cur) {
        g_socket_close (socket, NULL);
        g_object_unref (socket);
        g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_NETWORK,
            "Closed a connection at once: this process is running out of "
            "file descriptors (%d of %d in use); raise the limit (ulimit -n) "
            "or lower max-clients.", fd + 1, (gint) rl.rlim_cur);
        return NULL;
      }
#endif
      qs_conn_tune (socket);
      return socket;
    }
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      break;
    g_clear_error (&err);
  }
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED, "cancelled");
    g_error_free (err);
  } else {
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_NETWORK,
        "Could not accept a connection: %s.", err->message);
    g_error_free (err);
  }
  return NULL;
}

guint
qs_conn_local_port (GSocket * socket)
{
  GSocketAddress *addr = g_socket_get_local_address (socket, NULL);
  guint port = 0;

  if (addr) {
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr));
    g_object_unref (addr);
  }
  return port;
}

gchar *
qs_conn_peer_name (GSocket * socket)
{
  GSocketAddress *addr = g_socket_get_remote_address (socket, NULL);
  gchar *ip, *name;

  if (!addr)
    return g_strdup ("unknown peer");
  ip = g_inet_address_to_string (g_inet_socket_address_get_address
      (G_INET_SOCKET_ADDRESS (addr)));
  name = g_strdup_printf ("%s:%u", ip,
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr)));
  g_free (ip);
  g_object_unref (addr);
  return name;
}

/* Waits for cond until deadline_us (0 = forever).  Returns FALSE and sets
 * *timed_out on a timeout, FALSE with error on cancel. */
static gboolean
qs_conn_wait (GSocket * socket, GIOCondition cond, gint64 deadline_us,
    gboolean * timed_out, GCancellable * cancellable, GError ** error)
{
  GError *err = NULL;
  gint64 timeout = -1;

  if (timed_out)
    *timed_out = FALSE;
  if (deadline_us > 0) {
    timeout = MAX (deadline_us - g_get_monotonic_time (), 0);
  }
  if (g_socket_condition_timed_wait (socket, cond, timeout, cancellable, &err))
    return TRUE;
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
    if (timed_out)
      *timed_out = TRUE;
    g_error_free (err);
    return FALSE;
  }
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED, "cancelled");
  else
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_NETWORK,
        "Network error: %s.", err->message);
  g_error_free (err);
  return FALSE;
}

static void
qs_conn_map_send_error (GError ** error, GError * err)
{
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_CANCELLED, "cancelled");
  else if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)
      || g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_CLOSED,
        "The peer closed the connection.");
  else
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_NETWORK,
        "Network error: %s.", err->message);
  g_error_free (err);
}

gboolean
qs_conn_write_vectors (GSocket * socket, GOutputVector * vectors,
    guint n_vectors, gint64 deadline_us, GCancellable * cancellable,
    GError ** error)
{
  GOutputVector local[8];
  guint i;

  g_return_val_if_fail (n_vectors <= G_N_ELEMENTS (local), FALSE);
  memcpy (local, vectors, n_vectors * sizeof (GOutputVector));
  vectors = local;

  while (n_vectors > 0) {
    GError *err = NULL;
    gboolean timed_out;
    gssize written;

    written = g_socket_send_message (socket, NULL, vectors, n_vectors, NULL, 0,
        G_SOCKET_MSG_NONE, cancellable, &err);
    if (written < 0) {
      if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        qs_conn_map_send_error (error, err);
        return FALSE;
      }
      g_error_free (err);
      if (!qs_conn_wait (socket, G_IO_OUT, deadline_us, &timed_out, cancellable,
              error)) {
        if (timed_out)
          g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_TIMEOUT,
              "the peer stopped reading (it may be stalled or gone).");
        return FALSE;
      }
      continue;
    }
    /* skip what was written */
    for (i = 0; i < n_vectors && (gsize) written >= vectors[i].size; i++)
      written -= vectors[i].size;
    vectors += i;
    n_vectors -= i;
    if (n_vectors > 0) {
      vectors[0].buffer = (const guint8 *) vectors[0].buffer + written;
      vectors[0].size -= written;
    }
  }
  return TRUE;
}

gboolean
qs_conn_read_message (GSocket * socket, QsProtoParser * parser,
    QsMessage * msg, gint64 deadline_us, gboolean * timed_out,
    GCancellable * cancellable, GError ** error)
{
  guint8 chunk[QS_CONN_READ_CHUNK];
  gboolean polled = FALSE;

  *timed_out = FALSE;
  for (;;) {
    GError *err = NULL;
    const gchar *why;
    gssize n;

    switch (qs_proto_parser_next (parser, msg)) {
      case QS_PARSE_MESSAGE:
        return TRUE;
      case QS_PARSE_ERROR:{
        QsProtoError code = qs_proto_parser_get_error (parser, &why);

        /* the parser's sentences start in lower case; ours are sentences */
        g_set_error (error, QS_CONN_ERROR, code, "%c%s%s",
            g_ascii_toupper (why[0]), why + 1,
            g_str_has_suffix (why, ".") ? "" : ".");
        return FALSE;
      }
      case QS_PARSE_NEED_MORE:
        break;
    }

    n = g_socket_receive (socket, (gchar *) chunk, sizeof (chunk), cancellable,
        &err);
    if (n == 0) {
      g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_CLOSED,
          "The peer closed the connection.");
      return FALSE;
    }
    if (n > 0) {
      qs_proto_parser_feed (parser, chunk, n);
      continue;
    }
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
          || g_error_matches (err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)) {
        g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_CLOSED,
            "The peer closed the connection.");
        g_error_free (err);
      } else {
        qs_conn_map_send_error (error, err);
      }
      return FALSE;
    }
    g_error_free (err);
    if (deadline_us == 0 && polled) {
      *timed_out = TRUE;
      return FALSE;
    }
    if (deadline_us == 0) {
      polled = TRUE;
      continue;
    }
    if (!qs_conn_wait (socket, G_IO_IN, deadline_us, timed_out, cancellable,
            error))
      return FALSE;
  }
}

gboolean
qs_conn_write_parts (GSocket * socket, QsProtoSeal * seal, const guint8 * head,
    gsize head_len, const guint8 * body, gsize body_len, gint64 deadline_us,
    GCancellable * cancellable, GError ** error)
{
  GOutputVector v[2];
  guint n = 0;

  if (seal) {
    v[0].buffer = qs_proto_seal_frame (seal, head, head_len, body, body_len,
        &v[0].size);
    n = 1;
  } else {
    v[n].buffer = head;
    v[n++].size = head_len;
    if (body_len) {
      v[n].buffer = body;
      v[n++].size = body_len;
    }
  }
  return qs_conn_write_vectors (socket, v, n, deadline_us, cancellable, error);
}

gboolean
qs_conn_write_frame (GSocket * socket, QsProtoSeal * seal, GBytes * frame,
    gint64 deadline_us, GCancellable * cancellable, GError ** error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);
  gboolean ok = qs_conn_write_parts (socket, seal, data, len, NULL, 0,
      deadline_us, cancellable, error);

  g_bytes_unref (frame);
  return ok;
}

gboolean
qs_conn_send_heartbeat (GSocket * socket, QsProtoSeal * seal,
    gint64 deadline_us, GCancellable * cancellable, GError ** error)
{
  return qs_conn_write_frame (socket, seal,
      qs_proto_build_heartbeat (g_get_monotonic_time () * 1000), deadline_us,
      cancellable, error);
}

void
qs_conn_send_error (GSocket * socket, QsProtoSeal * seal, const GError * error)
{
  QsProtoError code = QS_PROTO_ERR_PEER;
  GBytes *frame;

  if (error->domain == QS_CONN_ERROR && error->code < QS_CONN_ERROR_CLOSED)
    code = (QsProtoError) error->code;
  frame = qs_proto_build_error (code, error->message);
  /* best effort: at most 100 ms, never an error of its own */
  qs_conn_write_frame (socket, seal, frame,
      g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND, NULL, NULL);
}

/* ---- keys ---- */

static GMutex key_lock;
static GHashTable *key_cache;   /* hex BLAKE2b of the passphrase -> stretched key */
static guint key_stretches;     /* under key_lock */

guint
qs_conn_key_stretches (void)
{
  guint n;

  g_mutex_lock (&key_lock);
  n = key_stretches;
  g_mutex_unlock (&key_lock);
  return n;
}

const guint8 *
qs_conn_key_get (const gchar * passphrase, GError ** error)
{
  gchar *id;
  guint8 *key;

  if (passphrase == NULL || *passphrase == '\0')
    return NULL;

  /* Looked up by a hash, so that the cache holds no passphrase.  Stretched
   * under the lock: two elements with the same new key stretch it once. */
  id = g_compute_checksum_for_string (G_CHECKSUM_SHA256, passphrase, -1);
  g_mutex_lock (&key_lock);
  if (!key_cache)
    key_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  key = g_hash_table_lookup (key_cache, id);
  if (!key) {
    key = g_malloc (QS_PROTO_KEY_SIZE);
    if (!qs_proto_key_stretch (passphrase, key)) {
      g_free (key);
      g_mutex_unlock (&key_lock);
      g_free (id);
      g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_NETWORK,
          "Not enough memory to prepare the key (Argon2id needs %u MiB); "
          "free some memory and start again.",
          (guint) (QS_PROTO_KEY_MEMLIMIT / (1024 * 1024)));
      return NULL;
    }
    g_hash_table_insert (key_cache, id, key);
    id = NULL;
    key_stretches++;
  }
  g_mutex_unlock (&key_lock);
  g_free (id);
  return key;
}

/* ---- handshake ---- */

/* Reads the next message of the handshake, turning a peer's ERROR into ours. */
static gboolean
qs_conn_read_handshake_message (GSocket * socket, QsProtoParser * parser,
    QsMessage * msg, gint64 deadline_us, const gchar * waiting_for,
    GCancellable * cancellable, GError ** error)
{
  gboolean timed_out;

  if (!qs_conn_read_message (socket, parser, msg, deadline_us, &timed_out,
          cancellable, error)) {
    if (timed_out)
      g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_TIMEOUT,
          "The peer accepted the connection but %s within %u s; check that it "
          "is a qsound endpoint with the same settings.", waiting_for,
          (guint) (QS_CONN_HANDSHAKE_TIMEOUT / G_TIME_SPAN_SECOND));
    return FALSE;
  }
  if (msg->type == QS_MSG_ERROR) {
    gchar *text = qs_proto_text_escape (msg->text);

    switch (msg->error_code) {
      case QS_PROTO_ERR_AUTH:
        /* our own words: the peer's text is not needed to say this */
        g_set_error_literal (error, QS_CONN_ERROR, QS_CONN_ERROR_AUTH,
            "Authentication failed: the peer refused this end's key; set the "
            "same key on both sides (qsound-launch -k, property key).");
        break;
      case QS_PROTO_ERR_ROLE:
        g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_ROLE,
            "The peer refused the connection: %s", text);
        break;
      case QS_PROTO_ERR_VERSION:
        g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_VERSION,
            "The peer refused the connection: %s", text);
        break;
      default:
        g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_PEER,
            "The peer refused the connection: %s", text);
        break;
    }
    g_free (text);
    return FALSE;
  }
  return TRUE;
}

static const gchar *
qs_conn_role_name (guint8 role)
{
  return role == QS_ROLE_SENDER ? "senders (transmitters)" : "receivers";
}

/* After a refusal that both ends saw coming (the HELLOs disagree), each end
 * sends its ERROR and then reads the other's before it closes: closing with
 * unread data would turn the close into a reset that can lose the ERROR. */
static void
qs_conn_refuse (GSocket * socket, QsProtoParser * parser, const GError * why,
    gint64 deadline_us, GCancellable * cancellable)
{
  QsMessage msg;
  gboolean timed_out;

  qs_conn_send_error (socket, NULL, why);
  deadline_us = MIN (deadline_us, g_get_monotonic_time () +
      G_TIME_SPAN_SECOND);
  while (qs_conn_read_message (socket, parser, &msg, deadline_us, &timed_out,
          cancellable, NULL) && msg.type != QS_MSG_ERROR);
}

gboolean
qs_conn_handshake (GSocket * socket, QsProtoParser * parser, QsRole role,
    gboolean listener, const guint8 * key, QsProtoSeal ** seal,
    GCancellable * cancellable, GError ** error)
{
  guint8 hello[QS_PROTO_HELLO_SIZE], peer_hello[QS_PROTO_HELLO_SIZE];
  guint8 nonce[QS_PROTO_NONCE_SIZE];
  gint64 deadline = g_get_monotonic_time () + QS_CONN_HANDSHAKE_TIMEOUT;
  gboolean peer_key;
  QsProtoSession session;
  QsMessage msg;
  guint8 peer_role, flags;
  QsProtoCipher cipher;
  GOutputVector v;
  gboolean ok = FALSE;

  *seal = NULL;
  qs_proto_random_nonce (nonce);
  /* with a key, say whether this end can seal with AES-256-GCM: both HELLOs
   * are bound into the session keys, so the choice cannot be forced */
  flags = key ? QS_HELLO_FLAG_KEY | (qs_proto_aes256gcm_available () ?
      QS_HELLO_FLAG_AES256GCM : 0) : 0;
  qs_proto_write_hello (hello, role, flags, nonce);
  v.buffer = hello;
  v.size = sizeof (hello);
  if (!qs_conn_write_vectors (socket, &v, 1, deadline, cancellable, error))
    return FALSE;

  if (!qs_conn_read_handshake_message (socket, parser, &msg, deadline,
          "sent no qsound greeting", cancellable, error))
    return FALSE;
  g_assert (msg.type == QS_MSG_HELLO);
  peer_role = msg.role;
  peer_key = (msg.hello_flags & QS_HELLO_FLAG_KEY) != 0;
  cipher = qs_proto_cipher_for (flags, msg.hello_flags);
  memcpy (peer_hello, msg.payload, sizeof (peer_hello));

  if (peer_role == role) {
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_ROLE,
        "Both ends are %s; pair a transmitting side with a receiving one "
        "(qsound-launch modes 1 and 2, or 3 and 4).", qs_conn_role_name (role));
    qs_conn_refuse (socket, parser, *error, deadline, cancellable);
    return FALSE;
  }

  if (!key && !peer_key)
    return TRUE;                /* cleartext */

  if (!key || !peer_key) {
    /* nothing derived from the key has been sent, nor will be */
    g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_AUTH,
        key ? "Authentication failed: the peer has no key and this end has "
        "one; set the same key on both sides (qsound-launch -k, property key)."
        : "Authentication failed: the peer has a key and this end has none; "
        "set the same key on both sides (qsound-launch -k, property key).");
    qs_conn_refuse (socket, parser, *error, deadline, cancellable);
    return FALSE;
  }

  /* Both have a key.  The connecting end proves first; the listening end
   * sends nothing derived from the key before that proof checks out. */
  if (listener)
    qs_proto_session_derive (key, peer_hello, hello, &session);
  else
    qs_proto_session_derive (key, hello, peer_hello, &session);

  if (!listener) {
    if (!qs_conn_write_frame (socket, NULL,
            qs_proto_build_auth (session.proof_connector), deadline,
            cancellable, error))
      goto done;
    if (!qs_conn_read_handshake_message (socket, parser, &msg, deadline,
            "did not answer the key proof", cancellable, error))
      goto done;
    if (msg.type != QS_MSG_AUTH
        || !qs_proto_proof_equal (msg.payload, session.proof_listener)) {
      g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_AUTH,
          "Authentication failed: the server did not prove it knows the key, "
          "so something between the two ends is not what it claims; check the "
          "host and port, and the network in between.");
      qs_conn_send_error (socket, NULL, *error);
      goto done;
    }
    qs_proto_parser_set_open_key (parser, session.key_listener, cipher);
    *seal = qs_proto_seal_new (session.key_connector, cipher);
  } else {
    if (!qs_conn_read_handshake_message (socket, parser, &msg, deadline,
            "did not prove it knows the key", cancellable, error))
      goto done;
    if (msg.type != QS_MSG_AUTH
        || !qs_proto_proof_equal (msg.payload, session.proof_connector)) {
      g_set_error (error, QS_CONN_ERROR, QS_CONN_ERROR_AUTH,
          "Authentication failed: the peer does not know this end's key; set "
          "the same key on both sides (qsound-launch -k, property key).");
      qs_conn_send_error (socket, NULL, *error);
      goto done;
    }
    if (!qs_conn_write_frame (socket, NULL,
            qs_proto_build_auth (session.proof_listener), deadline,
            cancellable, error))
      goto done;
    qs_proto_parser_set_open_key (parser, session.key_connector, cipher);
    *seal = qs_proto_seal_new (session.key_listener, cipher);
  }
  ok = TRUE;

done:
  qs_proto_wipe (&session, sizeof (session));
  return ok;
}
