/* qsound — the framed TCP wire protocol, as pure code (no sockets).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * docs/PROTOCOL.md is the normative description; this header mirrors it.
 *
 * A connection starts with one HELLO from each side (fixed 32 bytes, starting
 * with the magic "QSND"), then, if either side has a key, one AUTH frame from
 * each side, then frames.  Every frame is an 8-byte header (type, flags,
 * reserved, payload length) followed by the payload.  All integers are
 * big-endian.
 *
 * The parser is incremental: feed it bytes as they arrive, then pull messages
 * until it answers "need more".  Errors are sticky: once the parser has failed
 * it keeps answering the same error.  Every length is checked against a bound
 * before anything is allocated.
 */
#ifndef __QSOUND_PROTO_H__
#define __QSOUND_PROTO_H__

#include <glib.h>

G_BEGIN_DECLS

#define QS_PROTO_MAGIC            "QSND"
#define QS_PROTO_VERSION_MAJOR    1
#define QS_PROTO_VERSION_MINOR    0

#define QS_PROTO_HELLO_SIZE       32
#define QS_PROTO_NONCE_SIZE       16
#define QS_PROTO_FRAME_HEADER_SIZE 8
#define QS_PROTO_BUFFER_HEADER_SIZE 36   /* seq u64, pts u64, dts u64, duration u64, flags u32 */
#define QS_PROTO_AUTH_SIZE        32     /* HMAC-SHA256 */
#define QS_PROTO_ERROR_HEADER_SIZE 4     /* code u32, then UTF-8 text */

#define QS_PROTO_DEFAULT_MAX_FRAME_SIZE (1024 * 1024)
#define QS_PROTO_MIN_MAX_FRAME_SIZE     1024
#define QS_PROTO_MAX_MAX_FRAME_SIZE     (64 * 1024 * 1024)
#define QS_PROTO_MAX_CAPS_SIZE          (64 * 1024)
#define QS_PROTO_MAX_ERROR_TEXT         1024

/* "no timestamp" on the wire (GST_CLOCK_TIME_NONE) */
#define QS_PROTO_TIME_NONE        G_MAXUINT64

typedef enum {
  QS_ROLE_SENDER = 1,
  QS_ROLE_RECEIVER = 2,
} QsRole;

/* HELLO flags */
#define QS_HELLO_FLAG_KEY         (1u << 0)      /* this side has a pre-shared key */

typedef enum {
  QS_MSG_HELLO = 0,      /* never on the wire as a frame type; the fixed preamble */
  QS_MSG_CAPS = 1,
  QS_MSG_BUFFER = 2,
  QS_MSG_EOS = 3,
  QS_MSG_HEARTBEAT = 4,
  QS_MSG_ERROR = 5,
  QS_MSG_AUTH = 6,
} QsMsgType;

/* Buffer flags on the wire (a stable subset, independent of GstBufferFlags) */
#define QS_BUF_FLAG_DISCONT       (1u << 0)
#define QS_BUF_FLAG_DELTA_UNIT    (1u << 1)
#define QS_BUF_FLAG_HEADER        (1u << 2)
#define QS_BUF_FLAG_GAP           (1u << 3)
#define QS_BUF_FLAG_RESYNC        (1u << 4)
#define QS_BUF_FLAGS_KNOWN        0x1fu

/* Codes carried by ERROR frames and returned by the parser */
typedef enum {
  QS_PROTO_OK = 0,
  QS_PROTO_ERR_NOT_QSOUND,        /* first bytes are not the magic */
  QS_PROTO_ERR_VERSION,           /* unknown major version */
  QS_PROTO_ERR_ROLE,              /* both ends have the same role */
  QS_PROTO_ERR_AUTH,              /* authentication failed */
  QS_PROTO_ERR_FRAME_TOO_LARGE,   /* length above max-frame-size */
  QS_PROTO_ERR_BAD_FRAME,         /* unknown type, short payload, bad field */
  QS_PROTO_ERR_BAD_CAPS,          /* caps text is not valid */
  QS_PROTO_ERR_UNEXPECTED,        /* message out of order (e.g. AUTH after media) */
  QS_PROTO_ERR_PEER,              /* the peer sent an ERROR frame */
} QsProtoError;

typedef struct {
  QsMsgType type;

  /* QS_MSG_HELLO */
  guint8 version_major;
  guint8 version_minor;
  guint8 role;                    /* QsRole */
  guint8 hello_flags;             /* QS_HELLO_FLAG_* */
  guint8 nonce[QS_PROTO_NONCE_SIZE];

  /* QS_MSG_BUFFER */
  guint64 seq;
  guint64 pts;                    /* QS_PROTO_TIME_NONE if unset */
  guint64 dts;
  guint64 duration;
  guint32 buffer_flags;           /* QS_BUF_FLAG_* (unknown bits are masked off) */
  guint64 seq_gap;                /* sequence numbers missing before this buffer, 0 if none */

  /* QS_MSG_ERROR */
  guint32 error_code;             /* QsProtoError */

  /* QS_MSG_CAPS: the caps string (NUL-terminated copy, valid like payload)
   * QS_MSG_ERROR: the message text (NUL-terminated copy)
   * QS_MSG_AUTH: payload is the 32-byte MAC
   * QS_MSG_BUFFER: payload is the media data
   * QS_MSG_HEARTBEAT: payload is empty or 8 bytes of sender time (ns),
   *   also decoded into pts (QS_PROTO_TIME_NONE when empty)
   * Valid until the next call to qs_proto_parser_feed() or _next(). */
  const guint8 *payload;
  gsize payload_len;
  const gchar *text;
} QsMessage;

typedef enum {
  QS_PARSE_MESSAGE,               /* *msg is filled */
  QS_PARSE_NEED_MORE,             /* feed more bytes */
  QS_PARSE_ERROR,                 /* sticky; see qs_proto_parser_get_error() */
} QsParseResult;

typedef struct _QsProtoParser QsProtoParser;

/* max_frame_size bounds a frame's payload length; it is clamped to
 * [QS_PROTO_MIN_MAX_FRAME_SIZE, QS_PROTO_MAX_MAX_FRAME_SIZE]. */
QsProtoParser * qs_proto_parser_new        (guint32 max_frame_size);
void            qs_proto_parser_free       (QsProtoParser * parser);
/* Forget everything (a new connection): expects a HELLO next. */
void            qs_proto_parser_reset      (QsProtoParser * parser);
void            qs_proto_parser_feed       (QsProtoParser * parser, const guint8 * data, gsize len);
QsParseResult   qs_proto_parser_next       (QsProtoParser * parser, QsMessage * msg);
/* The error code and a plain sentence naming the cause (owned by the parser). */
QsProtoError    qs_proto_parser_get_error  (QsProtoParser * parser, const gchar ** message);
/* Bytes fed but not yet consumed (for bounding and tests). */
gsize           qs_proto_parser_pending    (QsProtoParser * parser);

/* Writers: fill caller-provided fixed-size headers. */
void   qs_proto_write_hello          (guint8 out[QS_PROTO_HELLO_SIZE], QsRole role,
                                      guint8 hello_flags, const guint8 nonce[QS_PROTO_NONCE_SIZE]);
void   qs_proto_write_frame_header   (guint8 out[QS_PROTO_FRAME_HEADER_SIZE], QsMsgType type,
                                      guint32 payload_len);
void   qs_proto_write_buffer_header  (guint8 out[QS_PROTO_BUFFER_HEADER_SIZE], guint64 seq,
                                      guint64 pts, guint64 dts, guint64 duration, guint32 flags);
/* Whole small frames, newly allocated: */
GBytes * qs_proto_build_caps         (const gchar * caps);
GBytes * qs_proto_build_error        (QsProtoError code, const gchar * text);
GBytes * qs_proto_build_heartbeat    (guint64 sender_time_ns);
GBytes * qs_proto_build_eos          (void);
GBytes * qs_proto_build_auth         (const guint8 mac[QS_PROTO_AUTH_SIZE]);

/* Authentication: MAC = HMAC-SHA256(key, "qsound-auth-v1" || role || nonce_self || nonce_peer).
 * Each side sends the MAC over its own role and nonce first; the other side
 * recomputes it with the roles and nonces swapped. */
void     qs_proto_auth_compute       (const gchar * key, QsRole role,
                                      const guint8 nonce_self[QS_PROTO_NONCE_SIZE],
                                      const guint8 nonce_peer[QS_PROTO_NONCE_SIZE],
                                      guint8 out[QS_PROTO_AUTH_SIZE]);
/* Constant-time check of the peer's MAC. */
gboolean qs_proto_auth_verify        (const gchar * key, QsRole peer_role,
                                      const guint8 nonce_peer[QS_PROTO_NONCE_SIZE],
                                      const guint8 nonce_self[QS_PROTO_NONCE_SIZE],
                                      const guint8 mac[QS_PROTO_AUTH_SIZE]);

void         qs_proto_random_nonce   (guint8 out[QS_PROTO_NONCE_SIZE]);
const gchar *qs_proto_error_to_string (QsProtoError code);

G_END_DECLS

#endif /* __QSOUND_PROTO_H__ */
