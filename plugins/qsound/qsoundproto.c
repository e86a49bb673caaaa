/* qsound — the framed TCP wire protocol, as pure code (no sockets).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * docs/PROTOCOL.md is the normative description of the bytes handled here.
 *
 * The parser follows hiredis' read.c: bytes are appended to one buffer with a
 * read offset, every length is checked against a bound as soon as the header
 * announcing it is complete (before a single payload byte is buffered), and
 * the first error is sticky.  It depends on GLib only: the GStreamer parse of
 * the caps text is the element's business.
 */

#include "qsoundproto.h"

#include <string.h>
#include <stdlib.h>

#include <sodium.h>

/* Wire layout (offsets in bytes; see docs/PROTOCOL.md) */
#define HELLO_OFF_MAGIC     0
#define HELLO_OFF_MAJOR     4
#define HELLO_OFF_MINOR     5
#define HELLO_OFF_ROLE      6
#define HELLO_OFF_FLAGS     7
#define HELLO_OFF_NONCE     8
#define HELLO_OFF_RESERVED  24
#define HELLO_RESERVED_SIZE 8

#define FRAME_OFF_TYPE      0
#define FRAME_OFF_FLAGS     1
#define FRAME_OFF_RESERVED  2
#define FRAME_OFF_LENGTH    4

#define BUFFER_OFF_SEQ      0
#define BUFFER_OFF_PTS      8
#define BUFFER_OFF_DTS      16
#define BUFFER_OFF_DURATION 24
#define BUFFER_OFF_FLAGS    32

#define HEARTBEAT_TIME_SIZE 8
#define HEARTBEAT_TIMED_SIZE 24
#define HELLO_FLAGS_KNOWN   (QS_HELLO_FLAG_KEY | QS_HELLO_FLAG_AES256GCM)

#define KDF_LABEL           "qsound-v2"
#define KDF_LABEL_SIZE      (sizeof (KDF_LABEL) - 1)
#define KDF_PROOF_CONNECTOR 1
#define KDF_PROOF_LISTENER  2
#define KDF_KEY_CONNECTOR   3
#define KDF_KEY_LISTENER    4
#define SEAL_NONCE_SIZE     12

G_STATIC_ASSERT (sizeof (QS_PROTO_MAGIC) - 1 == 4);
G_STATIC_ASSERT (HELLO_OFF_NONCE + QS_PROTO_NONCE_SIZE == HELLO_OFF_RESERVED);
G_STATIC_ASSERT (HELLO_OFF_RESERVED + HELLO_RESERVED_SIZE == QS_PROTO_HELLO_SIZE);
G_STATIC_ASSERT (FRAME_OFF_LENGTH + 4 == QS_PROTO_FRAME_HEADER_SIZE);
G_STATIC_ASSERT (BUFFER_OFF_FLAGS + 4 == QS_PROTO_BUFFER_HEADER_SIZE);
G_STATIC_ASSERT (QS_PROTO_AUTH_SIZE == 32);      /* BLAKE2b-256 */
G_STATIC_ASSERT (QS_PROTO_KEY_SIZE == crypto_aead_chacha20poly1305_ietf_KEYBYTES);
G_STATIC_ASSERT (QS_PROTO_KEY_SIZE == crypto_aead_aes256gcm_KEYBYTES);
G_STATIC_ASSERT (QS_PROTO_SEAL_TAG_SIZE == crypto_aead_aes256gcm_ABYTES);
G_STATIC_ASSERT (SEAL_NONCE_SIZE == crypto_aead_aes256gcm_NPUBBYTES);
G_STATIC_ASSERT (QS_PROTO_SEAL_TAG_SIZE == crypto_aead_chacha20poly1305_ietf_ABYTES);
G_STATIC_ASSERT (SEAL_NONCE_SIZE == crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
G_STATIC_ASSERT (sizeof (QS_PROTO_KEY_SALT) - 1 == crypto_pwhash_SALTBYTES);
G_STATIC_ASSERT (QS_PROTO_ERROR_HEADER_SIZE == 4);
G_STATIC_ASSERT (QS_PROTO_MIN_MAX_FRAME_SIZE >= QS_PROTO_BUFFER_HEADER_SIZE);
G_STATIC_ASSERT (QS_PROTO_MIN_MAX_FRAME_SIZE <= QS_PROTO_DEFAULT_MAX_FRAME_SIZE);
G_STATIC_ASSERT (QS_PROTO_DEFAULT_MAX_FRAME_SIZE <= QS_PROTO_MAX_MAX_FRAME_SIZE);
G_STATIC_ASSERT (QS_PROTO_MAX_MAX_FRAME_SIZE < G_MAXUINT32 - QS_PROTO_FRAME_HEADER_SIZE);
G_STATIC_ASSERT ((QS_BUF_FLAG_DISCONT | QS_BUF_FLAG_DELTA_UNIT | QS_BUF_FLAG_HEADER |
        QS_BUF_FLAG_GAP | QS_BUF_FLAG_RESYNC) == QS_BUF_FLAGS_KNOWN);

/* Big-endian helpers; memcpy keeps them free of alignment assumptions. */
static inline void
put_be16 (guint8 * p, guint16 v)
{
  v = GUINT16_TO_BE (v);
  memcpy (p, &v, sizeof (v));
}

static inline void
put_be32 (guint8 * p, guint32 v)
{
  v = GUINT32_TO_BE (v);
  memcpy (p, &v, sizeof (v));
}

static inline void
put_be64 (guint8 * p, guint64 v)
{
  v = GUINT64_TO_BE (v);
  memcpy (p, &v, sizeof (v));
}

static inline guint32
get_be32 (const guint8 * p)
{
  guint32 v;

  memcpy (&v, p, sizeof (v));
  return GUINT32_FROM_BE (v);
}

static inline guint64
get_be64 (const guint8 * p)
{
  guint64 v;

  memcpy (&v, p, sizeof (v));
  return GUINT64_FROM_BE (v);
}

static void
qs_proto_crypto_init (void)
{
  /* thread-safe and cheap once done */
  if (sodium_init () < 0)
    g_error ("qsound: libsodium could not initialise (no random source?)");
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                   */

/* Below this the buffer is kept when it drains; above it, it is given back
 * once empty, so that one large frame does not pin its memory forever.
 * The fuzz build makes both tiny, so that small inputs exercise growing,
 * compacting and giving back. */
#ifndef PARSER_KEEP_ALLOC
#define PARSER_KEEP_ALLOC   (256 * 1024)
#endif
#ifndef PARSER_MIN_ALLOC
#define PARSER_MIN_ALLOC    (16 * 1024)
#endif

struct _QsProtoParser
{
  guint32 max_frame_size;

  /* bytes fed: data[start, end) are not yet consumed */
  guint8 *data;
  gsize alloc;
  gsize start;
  gsize end;

  gboolean have_hello;
  guint8 peer_minor;
  gboolean seen_frame;          /* any frame other than AUTH since the HELLO */
  gboolean seen_auth;

  gboolean have_seq;
  guint64 next_seq;

  /* after qs_proto_parser_set_open_key(): only SEALED frames */
  gboolean sealed;
  guint8 open_key[QS_PROTO_KEY_SIZE];
  QsProtoCipher open_cipher;
  guint64 open_count;
  guint8 *plain;                /* the frame opened last */
  gsize plain_alloc;

  /* NUL-terminated copy for CAPS and ERROR text */
  gchar *text;
  gsize text_alloc;

  QsProtoError error;
  gchar *error_message;
};

QsProtoParser *
qs_proto_parser_new (guint32 max_frame_size)
{
  QsProtoParser *parser = g_new0 (QsProtoParser, 1);

  qs_proto_crypto_init ();
  parser->max_frame_size = CLAMP (max_frame_size, QS_PROTO_MIN_MAX_FRAME_SIZE,
      QS_PROTO_MAX_MAX_FRAME_SIZE);
  qs_proto_parser_reset (parser);
  return parser;
}

void
qs_proto_parser_free (QsProtoParser * parser)
{
  if (parser == NULL)
    return;
  g_free (parser->data);
  g_free (parser->text);
  g_free (parser->plain);
  g_free (parser->error_message);
  sodium_memzero (parser->open_key, sizeof (parser->open_key));
  g_free (parser);
}

static void
qs_proto_parser_drop_data (QsProtoParser * parser)
{
  parser->start = parser->end = 0;
  if (parser->alloc > PARSER_KEEP_ALLOC) {
    g_free (parser->data);
    parser->data = NULL;
    parser->alloc = 0;
  }
}

void
qs_proto_parser_reset (QsProtoParser * parser)
{
  g_return_if_fail (parser != NULL);

  qs_proto_parser_drop_data (parser);
  parser->have_hello = FALSE;
  parser->peer_minor = 0;
  parser->seen_frame = FALSE;
  parser->seen_auth = FALSE;
  parser->have_seq = FALSE;
  parser->next_seq = 0;
  parser->sealed = FALSE;
  parser->open_count = 0;
  parser->open_cipher = QS_PROTO_CIPHER_CHACHA20_POLY1305;
  sodium_memzero (parser->open_key, sizeof (parser->open_key));
  parser->error = QS_PROTO_OK;
  g_clear_pointer (&parser->error_message, g_free);
}

void
qs_proto_parser_feed (QsProtoParser * parser, const guint8 * data, gsize len)
{
  gsize pending;

  g_return_if_fail (parser != NULL);
  g_return_if_fail (data != NULL || len == 0);

  /* Errors are sticky: nothing more will be parsed, so nothing is kept. */
  if (parser->error != QS_PROTO_OK || len == 0)
    return;

  pending = parser->end - parser->start;
  g_return_if_fail (len <= G_MAXSIZE - pending);

  if (parser->alloc - parser->end < len) {
    /* No room at the tail.  Move the unconsumed bytes to the front: they are
     * at most one partial frame, since the caller pulls every message after
     * each feed, so this costs O(bytes fed) over the life of the parser. */
    if (parser->start > 0) {
      memmove (parser->data, parser->data + parser->start, pending);
      parser->start = 0;
      parser->end = pending;
    }
    if (parser->alloc - parser->end < len) {
      gsize want = MAX (parser->alloc, PARSER_MIN_ALLOC);

      while (want < pending + len && want <= G_MAXSIZE / 2)
        want *= 2;
      if (want < pending + len)
        want = pending + len;
      parser->data = g_realloc (parser->data, want);
      parser->alloc = want;
    }
  }
  memcpy (parser->data + parser->end, data, len);
  parser->end += len;
}

guint8
qs_proto_parser_get_peer_minor (QsProtoParser * parser)
{
  g_return_val_if_fail (parser != NULL, 0);

  return parser->peer_minor;
}

gsize
qs_proto_parser_pending (QsProtoParser * parser)
{
  g_return_val_if_fail (parser != NULL, 0);

  return parser->end - parser->start;
}

QsProtoError
qs_proto_parser_get_error (QsProtoParser * parser, const gchar ** message)
{
  g_return_val_if_fail (parser != NULL, QS_PROTO_OK);

  if (message)
    *message = parser->error_message;
  return parser->error;
}

static QsParseResult
qs_proto_parser_fail (QsProtoParser * parser, QsProtoError code,
    const gchar * format, ...) G_GNUC_PRINTF (3, 4);

static QsParseResult
qs_proto_parser_fail (QsProtoParser * parser, QsProtoError code,
    const gchar * format, ...)
{
  va_list args;

  va_start (args, format);
  g_free (parser->error_message);
  parser->error_message = g_strdup_vprintf (format, args);
  va_end (args);
  parser->error = code;
  qs_proto_parser_drop_data (parser);
  return QS_PARSE_ERROR;
}

/* What a non-qsound peer is, guessed from its first bytes. */
typedef enum
{
  PEER_UNKNOWN,                 /* nothing recognisable */
  PEER_NEED_MORE,               /* could still turn out to be one of the below */
  PEER_HTTP_REQUEST,
  PEER_HTTP_RESPONSE,
  PEER_TLS,
  PEER_SSH,
} PeerGuess;

static PeerGuess
guess_foreign_peer (const guint8 * p, gsize avail)
{
  static const struct
  {
    const gchar prefix[5];
    gsize len;
    PeerGuess guess;
  } known[] = {
    {"GET ", 4, PEER_HTTP_REQUEST},
    {"POST", 4, PEER_HTTP_REQUEST},
    {"PUT ", 4, PEER_HTTP_REQUEST},
    {"HEAD", 4, PEER_HTTP_REQUEST},
    {"OPTI", 4, PEER_HTTP_REQUEST},
    {"DELE", 4, PEER_HTTP_REQUEST},
    {"PATC", 4, PEER_HTTP_REQUEST},
    {"CONN", 4, PEER_HTTP_REQUEST},
    {"HTTP", 4, PEER_HTTP_RESPONSE},
    {"SSH-", 4, PEER_SSH},
    {"\x16\x03", 2, PEER_TLS},     /* TLS record: handshake, version 3.x */
  };
  gboolean could_be = FALSE;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (known); i++) {
    gsize n = MIN (avail, known[i].len);

    if (memcmp (p, known[i].prefix, n) != 0)
      continue;
    if (n == known[i].len)
      return known[i].guess;
    could_be = TRUE;
  }
  return could_be ? PEER_NEED_MORE : PEER_UNKNOWN;
}

static QsParseResult
qs_proto_parser_parse_hello (QsProtoParser * parser, QsMessage * msg)
{
  const guint8 *p = parser->data + parser->start;
  gsize avail = parser->end - parser->start;
  gsize i, n;

  /* Judge the magic on whatever has arrived: a foreign peer is reported at
   * its first wrong byte, except that a few bytes more are awaited when they
   * might be the start of a protocol we can name (HTTP, TLS, SSH). */
  n = MIN (avail, 4);
  for (i = 0; i < n; i++) {
    if (p[HELLO_OFF_MAGIC + i] != (guint8) QS_PROTO_MAGIC[i])
      break;
  }
  if (i < n) {
    switch (guess_foreign_peer (p, avail)) {
      case PEER_NEED_MORE:
        return QS_PARSE_NEED_MORE;
      case PEER_HTTP_REQUEST:
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_NOT_QSOUND,
            "the peer is not a qsound endpoint (it sent an HTTP request); "
            "check the host and port");
      case PEER_HTTP_RESPONSE:
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_NOT_QSOUND,
            "the peer is not a qsound endpoint (it sent an HTTP response); "
            "check the host and port");
      case PEER_TLS:
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_NOT_QSOUND,
            "the peer is not a qsound endpoint (it started a TLS handshake); "
            "check the host and port");
      case PEER_SSH:
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_NOT_QSOUND,
            "the peer is not a qsound endpoint (it is an SSH server); "
            "check the host and port");
      case PEER_UNKNOWN:
      default:
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_NOT_QSOUND,
            "the peer is not a qsound endpoint (its first bytes are not "
            "\"" QS_PROTO_MAGIC "\"); check the host and port");
    }
  }

  if (avail > HELLO_OFF_MAJOR && p[HELLO_OFF_MAJOR] != QS_PROTO_VERSION_MAJOR) {
    return qs_proto_parser_fail (parser, QS_PROTO_ERR_VERSION,
        "the peer speaks qsound protocol %u.x, this side speaks %u.x; "
        "install the same qsound version on both machines",
        p[HELLO_OFF_MAJOR], QS_PROTO_VERSION_MAJOR);
  }

  if (avail < QS_PROTO_HELLO_SIZE)
    return QS_PARSE_NEED_MORE;

  if (p[HELLO_OFF_ROLE] != QS_ROLE_SENDER && p[HELLO_OFF_ROLE] != QS_ROLE_RECEIVER) {
    return qs_proto_parser_fail (parser, QS_PROTO_ERR_ROLE,
        "the peer announced an unknown role (%u); "
        "install the same qsound version on both machines", p[HELLO_OFF_ROLE]);
  }

  /* Minor versions are compatible by definition; unknown flag bits and the
   * reserved bytes are left for them and ignored here. */
  msg->type = QS_MSG_HELLO;
  msg->version_major = p[HELLO_OFF_MAJOR];
  msg->version_minor = p[HELLO_OFF_MINOR];
  parser->peer_minor = msg->version_minor;
  msg->role = p[HELLO_OFF_ROLE];
  msg->hello_flags = p[HELLO_OFF_FLAGS] & HELLO_FLAGS_KNOWN;
  memcpy (msg->nonce, p + HELLO_OFF_NONCE, QS_PROTO_NONCE_SIZE);
  msg->payload = p;
  msg->payload_len = QS_PROTO_HELLO_SIZE;

  parser->start += QS_PROTO_HELLO_SIZE;
  parser->have_hello = TRUE;
  return QS_PARSE_MESSAGE;
}

/* Everything that can be judged from the 8-byte header alone, so that a bad
 * frame is refused before its payload is waited for or buffered. */
static QsParseResult
qs_proto_parser_check_header (QsProtoParser * parser, guint type, guint32 len)
{
  if (len > parser->max_frame_size) {
    return qs_proto_parser_fail (parser, QS_PROTO_ERR_FRAME_TOO_LARGE,
        "a frame of %" G_GUINT32_FORMAT " bytes exceeds max-frame-size "
        "(%" G_GUINT32_FORMAT " bytes); raise max-frame-size on the receiving "
        "side or send smaller buffers", len, parser->max_frame_size);
  }

  switch (type) {
    case QS_MSG_CAPS:
      if (len == 0) {
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_CAPS,
            "the peer sent empty caps; the sending side must describe its "
            "stream (check its pipeline)");
      }
      if (len > QS_PROTO_MAX_CAPS_SIZE) {
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_CAPS,
            "the peer sent caps of %" G_GUINT32_FORMAT " bytes, more than the "
            "limit of %u bytes; use a simpler format on the sending side",
            len, (guint) QS_PROTO_MAX_CAPS_SIZE);
      }
      break;
    case QS_MSG_BUFFER:
      if (len < QS_PROTO_BUFFER_HEADER_SIZE) {
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_FRAME,
            "the peer sent a BUFFER frame of %" G_GUINT32_FORMAT " bytes, "
            "shorter than its %u-byte header; the peer is broken or not a "
            "qsound endpoint", len, (guint) QS_PROTO_BUFFER_HEADER_SIZE);
      }
      break;
    case QS_MSG_EOS:
      if (len != 0) {
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_FRAME,
            "the peer sent an EOS frame with a %" G_GUINT32_FORMAT "-byte "
            "payload, where none is allowed; install the same qsound version "
            "on both machines", len);
      }
      break;
    case QS_MSG_HEARTBEAT:
      if (len != 0 && len != HEARTBEAT_TIME_SIZE
          && len != HEARTBEAT_TIMED_SIZE) {
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_FRAME,
            "the peer sent a HEARTBEAT frame of %" G_GUINT32_FORMAT " bytes "
            "(0, 8 or 24 are allowed); install the same qsound version on "
            "both machines", len);
      }
      break;
    case QS_MSG_ERROR:
      if (len < QS_PROTO_ERROR_HEADER_SIZE) {
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_FRAME,
            "the peer sent an ERROR frame of %" G_GUINT32_FORMAT " bytes, "
            "shorter than its %u-byte code; the peer is broken or not a "
            "qsound endpoint", len, (guint) QS_PROTO_ERROR_HEADER_SIZE);
      }
      if (len - QS_PROTO_ERROR_HEADER_SIZE > QS_PROTO_MAX_ERROR_TEXT) {
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_FRAME,
            "the peer sent an ERROR text of %" G_GUINT32_FORMAT " bytes, more "
            "than the limit of %u bytes; the peer is broken or not a qsound "
            "endpoint", len - QS_PROTO_ERROR_HEADER_SIZE,
            (guint) QS_PROTO_MAX_ERROR_TEXT);
      }
      break;
    case QS_MSG_AUTH:
      if (len != QS_PROTO_AUTH_SIZE) {
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_FRAME,
            "the peer sent an AUTH frame of %" G_GUINT32_FORMAT " bytes "
            "instead of %u; install the same qsound version on both machines",
            len, (guint) QS_PROTO_AUTH_SIZE);
      }
      if (parser->seen_auth || parser->seen_frame) {
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_UNEXPECTED,
            "the peer sent AUTH after other frames, where only one AUTH "
            "right after the HELLO is allowed; the peer is broken");
      }
      break;
    case QS_MSG_SEALED:
      /* a sealed frame is opened before this check: here it is one too many */
      return qs_proto_parser_fail (parser, QS_PROTO_ERR_UNEXPECTED,
          parser->sealed ? "the peer sealed a SEALED frame inside another; "
          "the peer is broken" : "the peer sent a SEALED frame although no "
          "key was agreed; the peer is broken");
    default:
      return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_FRAME,
          "the peer sent a frame of unknown type %u; install the same qsound "
          "version on both machines", type);
  }
  return QS_PARSE_MESSAGE;
}

static const gchar *
qs_proto_parser_copy_text (QsProtoParser * parser, const guint8 * p, gsize len)
{
  if (parser->text_alloc < len + 1) {
    parser->text_alloc = MAX (len + 1, 256);
    g_free (parser->text);
    parser->text = g_malloc (parser->text_alloc);
  }
  memcpy (parser->text, p, len);
  parser->text[len] = '\0';
  return parser->text;
}

/* Opens the SEALED frame at the read offset into parser->plain.  On success
 * *type, *payload and *len describe the frame inside, *consumed the bytes of
 * the SEALED frame. */
static QsParseResult
qs_proto_parser_open (QsProtoParser * parser, const guint8 * p, gsize avail,
    guint * type, const guint8 ** payload, guint32 * len, gsize * consumed)
{
  guint8 nonce[SEAL_NONCE_SIZE] = { 0, };
  guint outer_type = p[FRAME_OFF_TYPE];
  guint32 outer_len = get_be32 (p + FRAME_OFF_LENGTH);
  guint32 inner_size;

  if (outer_type != QS_MSG_SEALED) {
    return qs_proto_parser_fail (parser, QS_PROTO_ERR_ALTERED,
        "the stream was altered in transit (a frame of type %u came in clear "
        "where only sealed frames are allowed); check what sits between the "
        "two machines", outer_type);
  }
  if (outer_len < QS_PROTO_SEAL_OVERHEAD) {
    return qs_proto_parser_fail (parser, QS_PROTO_ERR_ALTERED,
        "the stream was altered in transit (a sealed frame of %"
        G_GUINT32_FORMAT " bytes is too short to hold a frame); check what "
        "sits between the two machines", outer_len);
  }
  if (outer_len - QS_PROTO_SEAL_OVERHEAD > parser->max_frame_size) {
    return qs_proto_parser_fail (parser, QS_PROTO_ERR_FRAME_TOO_LARGE,
        "a frame of %" G_GUINT32_FORMAT " bytes exceeds max-frame-size "
        "(%" G_GUINT32_FORMAT " bytes); raise max-frame-size on the receiving "
        "side or send smaller buffers", outer_len - QS_PROTO_SEAL_OVERHEAD,
        parser->max_frame_size);
  }
  if (avail - QS_PROTO_FRAME_HEADER_SIZE < outer_len)
    return QS_PARSE_NEED_MORE;

  inner_size = outer_len - QS_PROTO_SEAL_TAG_SIZE;
  if (parser->plain_alloc < inner_size) {
    g_free (parser->plain);
    parser->plain_alloc = MAX (inner_size, 256);
    parser->plain = g_malloc (parser->plain_alloc);
  }
  put_be64 (nonce + 4, parser->open_count);
  if ((parser->open_cipher == QS_PROTO_CIPHER_AES256_GCM ?
          crypto_aead_aes256gcm_decrypt_detached :
          crypto_aead_chacha20poly1305_ietf_decrypt_detached) (parser->plain,
          NULL, p + QS_PROTO_FRAME_HEADER_SIZE, inner_size,
          p + QS_PROTO_FRAME_HEADER_SIZE + inner_size, p,
          QS_PROTO_FRAME_HEADER_SIZE, nonce, parser->open_key) != 0) {
    return qs_proto_parser_fail (parser, QS_PROTO_ERR_ALTERED,
        "the stream was altered in transit (a sealed frame did not open); "
        "check what sits between the two machines");
  }
  parser->open_count++;

  *type = parser->plain[FRAME_OFF_TYPE];
  *len = get_be32 (parser->plain + FRAME_OFF_LENGTH);
  if (*len != inner_size - QS_PROTO_FRAME_HEADER_SIZE) {
    return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_FRAME,
        "the peer sealed a frame whose length field (%" G_GUINT32_FORMAT
        ") does not match its size (%" G_GUINT32_FORMAT "); the peer is "
        "broken", *len, inner_size - QS_PROTO_FRAME_HEADER_SIZE);
  }
  if (qs_proto_parser_check_header (parser, *type, *len) == QS_PARSE_ERROR)
    return QS_PARSE_ERROR;
  *payload = parser->plain + QS_PROTO_FRAME_HEADER_SIZE;
  *consumed = QS_PROTO_FRAME_HEADER_SIZE + (gsize) outer_len;
  return QS_PARSE_MESSAGE;
}

void
qs_proto_parser_set_open_key (QsProtoParser * parser,
    const guint8 key[QS_PROTO_KEY_SIZE], QsProtoCipher cipher)
{
  g_return_if_fail (parser != NULL);
  g_return_if_fail (key != NULL);
  g_return_if_fail (cipher != QS_PROTO_CIPHER_AES256_GCM
      || qs_proto_aes256gcm_available ());

  memcpy (parser->open_key, key, QS_PROTO_KEY_SIZE);
  parser->open_cipher = cipher;
  parser->open_count = 0;
  parser->sealed = TRUE;
  /* the AUTH frames are behind: one inside the sealed stream is out of place */
  parser->seen_auth = TRUE;
}

QsParseResult
qs_proto_parser_next (QsProtoParser * parser, QsMessage * msg)
{
  const guint8 *p, *payload = NULL;
  gsize avail, consumed = 0;
  guint type = 0;
  guint32 len = 0;
  QsParseResult r;

  g_return_val_if_fail (parser != NULL, QS_PARSE_ERROR);
  g_return_val_if_fail (msg != NULL, QS_PARSE_ERROR);

  memset (msg, 0, sizeof (*msg));
  msg->pts = msg->dts = msg->duration = QS_PROTO_TIME_NONE;
  msg->hb_origin = msg->hb_received = QS_PROTO_TIME_NONE;

  if (parser->error != QS_PROTO_OK)
    return QS_PARSE_ERROR;

  /* All consumed: start over at the front, for free. */
  if (parser->start == parser->end) {
    qs_proto_parser_drop_data (parser);
    return QS_PARSE_NEED_MORE;
  }

  if (!parser->have_hello)
    return qs_proto_parser_parse_hello (parser, msg);

  p = parser->data + parser->start;
  avail = parser->end - parser->start;
  if (avail < QS_PROTO_FRAME_HEADER_SIZE)
    return QS_PARSE_NEED_MORE;

  if (parser->sealed) {
    r = qs_proto_parser_open (parser, p, avail, &type, &payload, &len,
        &consumed);
    if (r != QS_PARSE_MESSAGE)
      return r;
  } else {
    /* The flags and reserved bytes are reserved for minor versions: ignored. */
    type = p[FRAME_OFF_TYPE];
    len = get_be32 (p + FRAME_OFF_LENGTH);
    if (qs_proto_parser_check_header (parser, type, len) == QS_PARSE_ERROR)
      return QS_PARSE_ERROR;
    if (avail - QS_PROTO_FRAME_HEADER_SIZE < len)
      return QS_PARSE_NEED_MORE;
    payload = p + QS_PROTO_FRAME_HEADER_SIZE;
    consumed = QS_PROTO_FRAME_HEADER_SIZE + (gsize) len;
  }

  msg->type = type;
  msg->payload = payload;
  msg->payload_len = len;

  switch (type) {
    case QS_MSG_CAPS:
      if (memchr (payload, '\0', len) != NULL) {
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_CAPS,
            "the peer sent caps containing a NUL byte; the peer is broken or "
            "not a qsound endpoint");
      }
      if (!g_utf8_validate ((const gchar *) payload, len, NULL)) {
        return qs_proto_parser_fail (parser, QS_PROTO_ERR_BAD_CAPS,
            "the peer sent caps that are not valid UTF-8; the peer is broken "
            "or not a qsound endpoint");
      }
      msg->text = qs_proto_parser_copy_text (parser, payload, len);
      break;
    case QS_MSG_BUFFER:{
      guint64 seq = get_be64 (payload + BUFFER_OFF_SEQ);

      msg->seq = seq;
      msg->pts = get_be64 (payload + BUFFER_OFF_PTS);
      msg->dts = get_be64 (payload + BUFFER_OFF_DTS);
      msg->duration = get_be64 (payload + BUFFER_OFF_DURATION);
      msg->buffer_flags = get_be32 (payload + BUFFER_OFF_FLAGS) & QS_BUF_FLAGS_KNOWN;
      msg->payload = payload + QS_PROTO_BUFFER_HEADER_SIZE;
      msg->payload_len = len - QS_PROTO_BUFFER_HEADER_SIZE;
      /* A gap counts the buffers missing in between; a sequence number that
       * goes backwards (or repeats) is a discontinuity too, reported as a gap
       * of 1, and counting resumes from it. */
      if (!parser->have_seq || seq == parser->next_seq)
        msg->seq_gap = 0;
      else if (seq > parser->next_seq)
        msg->seq_gap = seq - parser->next_seq;
      else
        msg->seq_gap = 1;
      parser->have_seq = TRUE;
      parser->next_seq = seq + 1;
      break;
    }
    case QS_MSG_EOS:
      break;
    case QS_MSG_HEARTBEAT:
      if (len >= HEARTBEAT_TIME_SIZE)
        msg->pts = get_be64 (payload);
      if (len == HEARTBEAT_TIMED_SIZE) {
        msg->hb_origin = get_be64 (payload + 8);
        msg->hb_received = get_be64 (payload + 16);
      }
      break;
    case QS_MSG_ERROR:{
      gsize text_len = len - QS_PROTO_ERROR_HEADER_SIZE;
      const gchar *end;
      gchar *t;
      gsize i;

      msg->error_code = get_be32 (payload);
      msg->payload = payload + QS_PROTO_ERROR_HEADER_SIZE;
      msg->payload_len = text_len;
      /* Only ever shown to a person: a broken text is repaired, not fatal. */
      t = (gchar *) qs_proto_parser_copy_text (parser, msg->payload, text_len);
      for (i = 0; i < text_len; i++) {
        if (t[i] == '\0')
          t[i] = '?';
      }
      for (i = 0; !g_utf8_validate (t + i, text_len - i, &end);) {
        i = end - t;
        t[i++] = '?';
      }
      msg->text = t;
      break;
    }
    case QS_MSG_AUTH:
      parser->seen_auth = TRUE;
      break;
    default:
      g_assert_not_reached ();
  }
  if (type != QS_MSG_AUTH)
    parser->seen_frame = TRUE;

  parser->start += consumed;
  return QS_PARSE_MESSAGE;
}

/* ------------------------------------------------------------------------ */
/* Writers                                                                  */

void
qs_proto_write_hello (guint8 out[QS_PROTO_HELLO_SIZE], QsRole role,
    guint8 hello_flags, const guint8 nonce[QS_PROTO_NONCE_SIZE])
{
  g_return_if_fail (out != NULL);
  g_return_if_fail (nonce != NULL);

  memcpy (out + HELLO_OFF_MAGIC, QS_PROTO_MAGIC, 4);
  out[HELLO_OFF_MAJOR] = QS_PROTO_VERSION_MAJOR;
  out[HELLO_OFF_MINOR] = QS_PROTO_VERSION_MINOR;
  out[HELLO_OFF_ROLE] = (guint8) role;
  out[HELLO_OFF_FLAGS] = hello_flags & HELLO_FLAGS_KNOWN;
  memcpy (out + HELLO_OFF_NONCE, nonce, QS_PROTO_NONCE_SIZE);
  memset (out + HELLO_OFF_RESERVED, 0, HELLO_RESERVED_SIZE);
}

void
qs_proto_write_frame_header (guint8 out[QS_PROTO_FRAME_HEADER_SIZE],
    QsMsgType type, guint32 payload_len)
{
  g_return_if_fail (out != NULL);

  out[FRAME_OFF_TYPE] = (guint8) type;
  out[FRAME_OFF_FLAGS] = 0;
  put_be16 (out + FRAME_OFF_RESERVED, 0);
  put_be32 (out + FRAME_OFF_LENGTH, payload_len);
}

void
qs_proto_write_buffer_header (guint8 out[QS_PROTO_BUFFER_HEADER_SIZE],
    guint64 seq, guint64 pts, guint64 dts, guint64 duration, guint32 flags)
{
  g_return_if_fail (out != NULL);

  put_be64 (out + BUFFER_OFF_SEQ, seq);
  put_be64 (out + BUFFER_OFF_PTS, pts);
  put_be64 (out + BUFFER_OFF_DTS, dts);
  put_be64 (out + BUFFER_OFF_DURATION, duration);
  put_be32 (out + BUFFER_OFF_FLAGS, flags & QS_BUF_FLAGS_KNOWN);
}

static GBytes *
build_frame (QsMsgType type, const guint8 * head, gsize head_len,
    const guint8 * body, gsize body_len)
{
  gsize len = head_len + body_len;
  guint8 *frame = g_malloc (QS_PROTO_FRAME_HEADER_SIZE + len);

  qs_proto_write_frame_header (frame, type, (guint32) len);
  if (head_len)
    memcpy (frame + QS_PROTO_FRAME_HEADER_SIZE, head, head_len);
  if (body_len)
    memcpy (frame + QS_PROTO_FRAME_HEADER_SIZE + head_len, body, body_len);
  return g_bytes_new_take (frame, QS_PROTO_FRAME_HEADER_SIZE + len);
}

GBytes *
qs_proto_build_caps (const gchar * caps)
{
  gsize len;

  g_return_val_if_fail (caps != NULL, NULL);
  len = strlen (caps);
  g_return_val_if_fail (len > 0 && len <= QS_PROTO_MAX_CAPS_SIZE, NULL);
  g_return_val_if_fail (g_utf8_validate (caps, len, NULL), NULL);

  return build_frame (QS_MSG_CAPS, NULL, 0, (const guint8 *) caps, len);
}

GBytes *
qs_proto_build_error (QsProtoError code, const gchar * text)
{
  guint8 head[QS_PROTO_ERROR_HEADER_SIZE];
  gchar *valid;
  gsize len;
  GBytes *frame;

  if (text == NULL)
    text = "";
  valid = g_utf8_make_valid (text, -1);
  len = strlen (valid);
  if (len > QS_PROTO_MAX_ERROR_TEXT) {
    /* cut at a character boundary */
    len = QS_PROTO_MAX_ERROR_TEXT;
    while (len > 0 && ((guint8) valid[len] & 0xc0) == 0x80)
      len--;
  }
  put_be32 (head, (guint32) code);
  frame = build_frame (QS_MSG_ERROR, head, sizeof (head), (const guint8 *) valid,
      len);
  g_free (valid);
  return frame;
}

GBytes *
qs_proto_build_heartbeat (guint64 sender_time_ns)
{
  guint8 body[HEARTBEAT_TIME_SIZE];

  if (sender_time_ns == QS_PROTO_TIME_NONE)
    return build_frame (QS_MSG_HEARTBEAT, NULL, 0, NULL, 0);
  put_be64 (body, sender_time_ns);
  return build_frame (QS_MSG_HEARTBEAT, NULL, 0, body, sizeof (body));
}

GBytes *
qs_proto_build_timed_heartbeat (guint64 transmit_ns, guint64 origin_ns,
    guint64 received_ns)
{
  guint8 body[HEARTBEAT_TIMED_SIZE];

  put_be64 (body, transmit_ns);
  put_be64 (body + 8, origin_ns);
  put_be64 (body + 16, received_ns);
  return build_frame (QS_MSG_HEARTBEAT, NULL, 0, body, sizeof (body));
}

GBytes *
qs_proto_build_eos (void)
{
  return build_frame (QS_MSG_EOS, NULL, 0, NULL, 0);
}

GBytes *
qs_proto_build_auth (const guint8 mac[QS_PROTO_AUTH_SIZE])
{
  g_return_val_if_fail (mac != NULL, NULL);

  return build_frame (QS_MSG_AUTH, NULL, 0, mac, QS_PROTO_AUTH_SIZE);
}

/* ------------------------------------------------------------------------ */
/* Sealing and keys                                                         */

struct _QsProtoSeal
{
  guint8 key[QS_PROTO_KEY_SIZE];
  QsProtoCipher cipher;
  guint64 count;
  guint8 *out;
  gsize out_alloc;
};

gboolean
qs_proto_aes256gcm_available (void)
{
  qs_proto_crypto_init ();
  return crypto_aead_aes256gcm_is_available () != 0;
}

QsProtoCipher
qs_proto_cipher_for (guint8 own_flags, guint8 peer_flags)
{
  return (own_flags & peer_flags & QS_HELLO_FLAG_AES256GCM) ?
      QS_PROTO_CIPHER_AES256_GCM : QS_PROTO_CIPHER_CHACHA20_POLY1305;
}

QsProtoSeal *
qs_proto_seal_new (const guint8 key[QS_PROTO_KEY_SIZE], QsProtoCipher cipher)
{
  QsProtoSeal *seal;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (cipher != QS_PROTO_CIPHER_AES256_GCM
      || qs_proto_aes256gcm_available (), NULL);
  qs_proto_crypto_init ();
  seal = g_new0 (QsProtoSeal, 1);
  memcpy (seal->key, key, QS_PROTO_KEY_SIZE);
  seal->cipher = cipher;
  return seal;
}

QsProtoCipher
qs_proto_seal_get_cipher (const QsProtoSeal * seal)
{
  return seal->cipher;
}

const gchar *
qs_proto_cipher_name (QsProtoCipher cipher)
{
  return cipher == QS_PROTO_CIPHER_AES256_GCM ? "aes-256-gcm" :
      "chacha20-poly1305";
}

void
qs_proto_seal_free (QsProtoSeal * seal)
{
  if (seal == NULL)
    return;
  sodium_memzero (seal->key, sizeof (seal->key));
  g_free (seal->out);
  g_free (seal);
}

const guint8 *
qs_proto_seal_frame (QsProtoSeal * seal, const guint8 * head, gsize head_len,
    const guint8 * body, gsize body_len, gsize * out_len)
{
  guint8 nonce[SEAL_NONCE_SIZE] = { 0, };
  gsize inner, total;

  g_return_val_if_fail (seal != NULL, NULL);
  g_return_val_if_fail (head != NULL && head_len >= QS_PROTO_FRAME_HEADER_SIZE,
      NULL);
  g_return_val_if_fail (body != NULL || body_len == 0, NULL);
  g_return_val_if_fail (out_len != NULL, NULL);
  g_return_val_if_fail (body_len <= QS_PROTO_MAX_MAX_FRAME_SIZE, NULL);
  /* 2^64 frames is out of reach; a nonce must never repeat all the same */
  g_return_val_if_fail (seal->count < G_MAXUINT64, NULL);

  inner = head_len + body_len;
  g_return_val_if_fail (inner <= QS_PROTO_MAX_MAX_FRAME_SIZE +
      QS_PROTO_FRAME_HEADER_SIZE + QS_PROTO_BUFFER_HEADER_SIZE, NULL);
  total = inner + QS_PROTO_SEAL_OVERHEAD;
  if (seal->out_alloc < total) {
    g_free (seal->out);
    seal->out_alloc = MAX (total, 4096);
    seal->out = g_malloc (seal->out_alloc);
  }
  qs_proto_write_frame_header (seal->out, QS_MSG_SEALED,
      (guint32) (inner + QS_PROTO_SEAL_TAG_SIZE));
  memcpy (seal->out + QS_PROTO_FRAME_HEADER_SIZE, head, head_len);
  if (body_len)
    memcpy (seal->out + QS_PROTO_FRAME_HEADER_SIZE + head_len, body, body_len);
  put_be64 (nonce + 4, seal->count);
  /* in place: libsodium's AEADs allow c == m */
  (seal->cipher == QS_PROTO_CIPHER_AES256_GCM ?
      crypto_aead_aes256gcm_encrypt_detached :
      crypto_aead_chacha20poly1305_ietf_encrypt_detached) (seal->out +
      QS_PROTO_FRAME_HEADER_SIZE, seal->out + QS_PROTO_FRAME_HEADER_SIZE +
      inner, NULL, seal->out + QS_PROTO_FRAME_HEADER_SIZE, inner, seal->out,
      QS_PROTO_FRAME_HEADER_SIZE, NULL, nonce, seal->key);
  seal->count++;
  *out_len = total;
  return seal->out;
}

gboolean
qs_proto_key_stretch (const gchar * passphrase, guint8 out[QS_PROTO_KEY_SIZE])
{
  g_return_val_if_fail (passphrase != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  qs_proto_crypto_init ();
  return crypto_pwhash (out, QS_PROTO_KEY_SIZE, passphrase, strlen (passphrase),
      (const guint8 *) QS_PROTO_KEY_SALT, QS_PROTO_KEY_OPSLIMIT,
      QS_PROTO_KEY_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) == 0;
}

/* BLAKE2b-256, keyed with the stretched key, over
 * "qsound-v2" || purpose || HELLO of the connecting end || HELLO of the listening end */
static void
qs_proto_kdf (const guint8 key[QS_PROTO_KEY_SIZE], guint8 purpose,
    const guint8 * hello_connector, const guint8 * hello_listener, guint8 * out)
{
  crypto_generichash_state st;

  crypto_generichash_init (&st, key, QS_PROTO_KEY_SIZE, 32);
  crypto_generichash_update (&st, (const guint8 *) KDF_LABEL, KDF_LABEL_SIZE);
  crypto_generichash_update (&st, &purpose, 1);
  crypto_generichash_update (&st, hello_connector, QS_PROTO_HELLO_SIZE);
  crypto_generichash_update (&st, hello_listener, QS_PROTO_HELLO_SIZE);
  crypto_generichash_final (&st, out, 32);
  sodium_memzero (&st, sizeof (st));
}

void
qs_proto_session_derive (const guint8 key[QS_PROTO_KEY_SIZE],
    const guint8 hello_connector[QS_PROTO_HELLO_SIZE],
    const guint8 hello_listener[QS_PROTO_HELLO_SIZE], QsProtoSession * out)
{
  g_return_if_fail (key != NULL && hello_connector != NULL);
  g_return_if_fail (hello_listener != NULL && out != NULL);

  qs_proto_crypto_init ();
  qs_proto_kdf (key, KDF_PROOF_CONNECTOR, hello_connector, hello_listener,
      out->proof_connector);
  qs_proto_kdf (key, KDF_PROOF_LISTENER, hello_connector, hello_listener,
      out->proof_listener);
  qs_proto_kdf (key, KDF_KEY_CONNECTOR, hello_connector, hello_listener,
      out->key_connector);
  qs_proto_kdf (key, KDF_KEY_LISTENER, hello_connector, hello_listener,
      out->key_listener);
}

gboolean
qs_proto_proof_equal (const guint8 a[QS_PROTO_AUTH_SIZE],
    const guint8 b[QS_PROTO_AUTH_SIZE])
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  return crypto_verify_32 (a, b) == 0;
}

void
qs_proto_wipe (gpointer p, gsize len)
{
  sodium_memzero (p, len);
}

void
qs_proto_random_nonce (guint8 out[QS_PROTO_NONCE_SIZE])
{
  g_return_if_fail (out != NULL);

  qs_proto_crypto_init ();
  randombytes_buf (out, QS_PROTO_NONCE_SIZE);
}

const gchar *
qs_proto_error_to_string (QsProtoError code)
{
  switch (code) {
    case QS_PROTO_OK:
      return "no error";
    case QS_PROTO_ERR_NOT_QSOUND:
      return "the peer is not a qsound endpoint";
    case QS_PROTO_ERR_VERSION:
      return "the peer speaks an incompatible protocol version";
    case QS_PROTO_ERR_ROLE:
      return "both ends have the same role (two senders or two receivers)";
    case QS_PROTO_ERR_AUTH:
      return "authentication failed";
    case QS_PROTO_ERR_FRAME_TOO_LARGE:
      return "a frame exceeds max-frame-size";
    case QS_PROTO_ERR_BAD_FRAME:
      return "malformed frame";
    case QS_PROTO_ERR_BAD_CAPS:
      return "invalid caps";
    case QS_PROTO_ERR_UNEXPECTED:
      return "message out of order";
    case QS_PROTO_ERR_PEER:
      return "the peer reported an error";
    case QS_PROTO_ERR_ALTERED:
      return "the stream was altered in transit";
  }
  return "unknown error";
}

gchar *
qs_proto_text_escape (const gchar * text)
{
  gchar *valid;
  GString *out;
  const gchar *p;

  if (text == NULL)
    return g_strdup ("");
  /* control characters (escape sequences, carriage returns, bidi
   * overrides) are escaped, so that a peer cannot write to a terminal */
  valid = g_utf8_make_valid (text, -1);
  out = g_string_sized_new (strlen (valid));
  for (p = valid; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)
        || (c >= 0x200e && c <= 0x200f) || (c >= 0x202a && c <= 0x202e)
        || (c >= 0x2066 && c <= 0x2069))
      g_string_append_printf (out, c < 0x100 ? "\\x%02x" : "\\u%04x", c);
    else
      g_string_append_unichar (out, c);
  }
  g_free (valid);
  return g_string_free (out, FALSE);
}
