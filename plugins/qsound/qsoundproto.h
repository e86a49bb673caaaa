/* qsound — the framed TCP wire protocol, as pure code (no sockets).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * docs/PROTOCOL.md is the normative description; this header mirrors it.
 *
 * A connection starts with one HELLO from each side (fixed 32 bytes, starting
 * with the magic "QSND").  With a key on both sides the connecting end then
 * sends an AUTH proof, the listening end checks it and only then answers with
 * its own, and every later frame travels sealed (ChaCha20-Poly1305 under
 * per-connection, per-direction keys, inside a SEALED frame).  Every frame is
 * an 8-byte header (type, flags, reserved, payload length) followed by the
 * payload.  All integers are big-endian.
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
#define QS_PROTO_VERSION_MAJOR    2
#define QS_PROTO_VERSION_MINOR    1
/* The first minor version that knows timed heartbeats (24 bytes): an end
 * sends them only to a peer whose HELLO announces at least this. */
#define QS_PROTO_MINOR_TIMED_HEARTBEAT 1

#define QS_PROTO_HELLO_SIZE       32
#define QS_PROTO_NONCE_SIZE       16
#define QS_PROTO_FRAME_HEADER_SIZE 8
#define QS_PROTO_BUFFER_HEADER_SIZE 36   /* seq u64, pts u64, dts u64, duration u64, flags u32 */
#define QS_PROTO_AUTH_SIZE        32     /* keyed BLAKE2b-256 proof */
#define QS_PROTO_KEY_SIZE         32     /* stretched key, session keys */
#define QS_PROTO_SEAL_TAG_SIZE    16     /* Poly1305 tag */
/* A SEALED frame adds its own 8-byte header and the tag to the frame inside. */
#define QS_PROTO_SEAL_OVERHEAD    (QS_PROTO_FRAME_HEADER_SIZE + QS_PROTO_SEAL_TAG_SIZE)

/* Argon2id stretching of a passphrase (libsodium crypto_pwhash, fixed here
 * because the result must be the same on both ends). */
#define QS_PROTO_KEY_SALT         "qsound-v2-argon2"     /* 16 bytes */
#define QS_PROTO_KEY_OPSLIMIT     2
#define QS_PROTO_KEY_MEMLIMIT     (64 * 1024 * 1024)
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
#define QS_HELLO_FLAG_AES256GCM   (1u << 1)      /* this side seals with AES-256-GCM
                                                  * (its CPU has AES instructions) */

typedef enum {
  QS_MSG_HELLO = 0,      /* never on the wire as a frame type; the fixed preamble */
  QS_MSG_CAPS = 1,
  QS_MSG_BUFFER = 2,
  QS_MSG_EOS = 3,
  QS_MSG_HEARTBEAT = 4,
  QS_MSG_ERROR = 5,
  QS_MSG_AUTH = 6,
  QS_MSG_SEALED = 7,     /* only on the wire: the parser opens it and returns the frame inside */
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
  QS_PROTO_ERR_ALTERED,           /* a sealed frame did not open, or a frame came in clear */
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

  /* QS_MSG_HEARTBEAT of 24 bytes (a timed exchange, 2.1): pts holds the
   * sending end's transmit time; origin echoes the transmit time of the last
   * timed heartbeat it received, received is when that one arrived on the
   * sending end's clock (both QS_PROTO_TIME_NONE when there was none, and
   * for the shorter forms) */
  guint64 hb_origin;
  guint64 hb_received;

  /* QS_MSG_HELLO: payload is the 32 raw bytes (they enter the key schedule)
   * QS_MSG_CAPS: the caps string (NUL-terminated copy, valid like payload)
   * QS_MSG_ERROR: the message text (NUL-terminated copy)
   * QS_MSG_AUTH: payload is the 32-byte MAC
   * QS_MSG_BUFFER: payload is the media data
   * QS_MSG_HEARTBEAT: payload is empty, 8 bytes of sender time (ns), or 24
   *   bytes of a timed exchange; the first time is decoded into pts
   *   (QS_PROTO_TIME_NONE when empty), the others into hb_origin and
   *   hb_received
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
/* The minor version of the peer's HELLO (0 before it has arrived). */
guint8          qs_proto_parser_get_peer_minor (QsProtoParser * parser);
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
/* A timed heartbeat (2.1; only to a peer of that minor or later): this end's
 * transmit time, the peer's last transmit time and when it arrived here. */
GBytes * qs_proto_build_timed_heartbeat (guint64 transmit_ns, guint64 origin_ns,
                                      guint64 received_ns);
GBytes * qs_proto_build_eos          (void);
GBytes * qs_proto_build_auth         (const guint8 mac[QS_PROTO_AUTH_SIZE]);

/* Sealing (with a key on both ends).  After the handshake every frame is
 * sent as a SEALED frame: header (type 7, length = inner frame + 16) in clear
 * as associated data, then the inner frame (its own 8-byte header and
 * payload) encrypted with ChaCha20-Poly1305 (IETF) or, when both HELLOs say
 * AES256GCM, with AES-256-GCM, the nonce being 4 zero bytes and a 64-bit
 * big-endian count of the frames sealed so far in that direction, then the
 * 16-byte tag. */
typedef struct _QsProtoSeal QsProtoSeal;

typedef enum {
  QS_PROTO_CIPHER_CHACHA20_POLY1305 = 0,
  QS_PROTO_CIPHER_AES256_GCM = 1,
} QsProtoCipher;

/* TRUE when this machine can seal with AES-256-GCM (libsodium needs AES-NI
 * and CLMUL for it): this end then says AES256GCM in its HELLO. */
gboolean      qs_proto_aes256gcm_available (void);
/* The cipher both ends use, from their HELLO flags (AES-256-GCM when both
 * can, the faster here; else ChaCha20-Poly1305). */
QsProtoCipher qs_proto_cipher_for    (guint8 own_flags, guint8 peer_flags);

QsProtoSeal * qs_proto_seal_new      (const guint8 key[QS_PROTO_KEY_SIZE],
                                      QsProtoCipher cipher);
void          qs_proto_seal_free     (QsProtoSeal * seal);
QsProtoCipher qs_proto_seal_get_cipher (const QsProtoSeal * seal);
/* "aes-256-gcm" or "chacha20-poly1305" (stats, benchmarks) */
const gchar * qs_proto_cipher_name   (QsProtoCipher cipher);
/* Seals one frame given as head (at least its 8-byte header) followed by
 * body; returns the bytes to send (out_len of them), owned by seal and valid
 * until the next call. */
const guint8 *qs_proto_seal_frame    (QsProtoSeal * seal, const guint8 * head, gsize head_len,
                                      const guint8 * body, gsize body_len, gsize * out_len);
/* From the next frame on, the parser accepts only SEALED frames and opens
 * them with key and cipher (counting from 0); it returns the frames inside. */
void          qs_proto_parser_set_open_key (QsProtoParser * parser,
                                            const guint8 key[QS_PROTO_KEY_SIZE],
                                            QsProtoCipher cipher);

/* Keys.  The passphrase is stretched once (Argon2id, slow on purpose: about
 * 64 MiB and a fraction of a second); returns FALSE when memory is short. */
gboolean qs_proto_key_stretch        (const gchar * passphrase, guint8 out[QS_PROTO_KEY_SIZE]);

/* Per connection: everything both ends said (the two HELLOs, in the order
 * connecting end, listening end) keyed with the stretched key gives the two
 * proofs and the two sealing keys. */
typedef struct {
  guint8 proof_connector[QS_PROTO_AUTH_SIZE];   /* sent first, by the end that connected */
  guint8 proof_listener[QS_PROTO_AUTH_SIZE];    /* sent only after checking the other */
  guint8 key_connector[QS_PROTO_KEY_SIZE];      /* seals what the connecting end sends */
  guint8 key_listener[QS_PROTO_KEY_SIZE];       /* seals what the listening end sends */
} QsProtoSession;

void     qs_proto_session_derive     (const guint8 key[QS_PROTO_KEY_SIZE],
                                      const guint8 hello_connector[QS_PROTO_HELLO_SIZE],
                                      const guint8 hello_listener[QS_PROTO_HELLO_SIZE],
                                      QsProtoSession * out);
/* Constant-time comparison of two proofs. */
gboolean qs_proto_proof_equal        (const guint8 a[QS_PROTO_AUTH_SIZE],
                                      const guint8 b[QS_PROTO_AUTH_SIZE]);
/* Wipes a session (or any key material). */
void     qs_proto_wipe               (gpointer p, gsize len);

void         qs_proto_random_nonce   (guint8 out[QS_PROTO_NONCE_SIZE]);
const gchar *qs_proto_error_to_string (QsProtoError code);

/* A peer's text (its ERROR, its caps) made safe for a log or a terminal:
 * control characters (C0, DEL, C1) and the bidirectional overrides escaped
 * as \xNN or \uNNNN, invalid UTF-8 replaced.  The launcher passes all it
 * prints from the bus through it too.  Newly allocated. */
gchar       *qs_proto_text_escape    (const gchar * text);

G_END_DECLS

#endif /* __QSOUND_PROTO_H__ */
