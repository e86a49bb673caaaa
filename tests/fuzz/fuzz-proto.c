/* qsound — libFuzzer target for the wire-protocol parser.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is a plain byte stream as a peer would send it (so the seed
 * corpus under tests/fuzz/corpus/ is made of real recordings).  The stream is
 * parsed three times: all at once, one byte at a time, and in pieces whose
 * sizes come from a generator seeded with the input's own hash.  All three
 * must yield the same messages and the same final error, every message must
 * satisfy the invariants of qsoundproto.h, and the parser must never hold
 * more than it was fed.  Any difference aborts, which libFuzzer reports.
 *
 * Version 2 seals frames after a keyed handshake, and random bytes never
 * open, so the input is also run sealed: its first 32 bytes as the HELLO,
 * then each frame as its header announces it (cut short at the end of the
 * input), sealed with a fixed key by the reference writer, and parsed by a
 * parser given that key after the HELLO, again three ways.  The cipher is
 * the one that HELLO asks for: AES-256-GCM when its flags byte (input byte
 * 7) has the AES256GCM bit and this CPU can (AES-NI and CLMUL), else
 * ChaCha20-Poly1305.  When the input
 * is whole frames and no AUTH or SEALED among them, the sealed parse must
 * yield exactly what the clear one did.  Then one bit of one sealed frame
 * (chosen by the input's hash) is flipped: nothing from that frame on may
 * come out.
 *
 * It also round-trips the input through the CAPS and ERROR builders.
 *
 * Build: see tests/fuzz/meson.build (clang -fsanitize=fuzzer,address,undefined).
 */
#include "qsoundproto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

#define CHECK(cond) \
  do { \
    if (!(cond)) { \
      fprintf (stderr, "fuzz-proto: check failed at line %d: %s\n", __LINE__, #cond); \
      abort (); \
    } \
  } while (0)

typedef struct
{
  const guint8 *open_key;       /* set on the parser right after the HELLO */
  QsProtoCipher open_cipher;    /* with this cipher */
  guint64 digest;               /* FNV-1a over every message, fields and payload */
  guint n_messages;
  QsParseResult last;
  QsProtoError error;
  gchar *error_message;
} Outcome;

static inline guint64
fnv (guint64 h, const void *data, gsize len)
{
  const guint8 *p = data;
  gsize i;

  for (i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

#define FNV_FIELD(h, f) ((h) = fnv ((h), &(f), sizeof (f)))

static void
check_message (const QsMessage * m, guint32 max_frame_size)
{
  switch (m->type) {
    case QS_MSG_HELLO:
      CHECK (m->version_major == QS_PROTO_VERSION_MAJOR);
      CHECK (m->role == QS_ROLE_SENDER || m->role == QS_ROLE_RECEIVER);
      CHECK ((m->hello_flags & ~(QS_HELLO_FLAG_KEY | QS_HELLO_FLAG_AES256GCM))
          == 0);
      /* the raw HELLO, for the key schedule */
      CHECK (m->payload != NULL && m->payload_len == QS_PROTO_HELLO_SIZE);
      CHECK (memcmp (m->payload, QS_PROTO_MAGIC, 4) == 0);
      CHECK (m->text == NULL);
      break;
    case QS_MSG_CAPS:
      CHECK (m->text != NULL);
      CHECK (m->payload_len > 0 && m->payload_len <= QS_PROTO_MAX_CAPS_SIZE);
      CHECK (strlen (m->text) == m->payload_len);
      CHECK (memcmp (m->text, m->payload, m->payload_len) == 0);
      CHECK (g_utf8_validate (m->text, -1, NULL));
      break;
    case QS_MSG_BUFFER:
      CHECK ((m->buffer_flags & ~QS_BUF_FLAGS_KNOWN) == 0);
      CHECK (m->payload_len + QS_PROTO_BUFFER_HEADER_SIZE <= max_frame_size);
      CHECK (m->text == NULL);
      break;
    case QS_MSG_EOS:
      CHECK (m->payload_len == 0);
      break;
    case QS_MSG_HEARTBEAT:
      CHECK (m->payload_len == 0 || m->payload_len == 8
          || m->payload_len == 24);
      CHECK (m->payload_len != 0 || m->pts == QS_PROTO_TIME_NONE);
      /* origin and received come only in a timed heartbeat */
      CHECK (m->payload_len == 24 || (m->hb_origin == QS_PROTO_TIME_NONE
              && m->hb_received == QS_PROTO_TIME_NONE));
      break;
    case QS_MSG_ERROR:
      CHECK (m->text != NULL);
      CHECK (m->payload_len <= QS_PROTO_MAX_ERROR_TEXT);
      CHECK (strlen (m->text) == m->payload_len);
      CHECK (g_utf8_validate (m->text, -1, NULL));
      break;
    case QS_MSG_AUTH:
      CHECK (m->payload_len == QS_PROTO_AUTH_SIZE);
      break;
    default:
      CHECK (!"unknown message type returned");
  }
}

static guint64
hash_message (guint64 h, const QsMessage * m)
{
  FNV_FIELD (h, m->type);
  FNV_FIELD (h, m->version_major);
  FNV_FIELD (h, m->version_minor);
  FNV_FIELD (h, m->role);
  FNV_FIELD (h, m->hello_flags);
  h = fnv (h, m->nonce, sizeof (m->nonce));
  FNV_FIELD (h, m->seq);
  FNV_FIELD (h, m->pts);
  FNV_FIELD (h, m->dts);
  FNV_FIELD (h, m->duration);
  FNV_FIELD (h, m->buffer_flags);
  FNV_FIELD (h, m->seq_gap);
  FNV_FIELD (h, m->error_code);
  FNV_FIELD (h, m->payload_len);
  /* reading every payload byte lets ASan vouch for the pointer */
  if (m->payload_len)
    h = fnv (h, m->payload, m->payload_len);
  if (m->text)
    h = fnv (h, m->text, strlen (m->text) + 1);
  return h;
}

/* Pull everything available after one feed. */
static void
pull (QsProtoParser * p, Outcome * o, guint32 max_frame_size, gsize fed)
{
  QsMessage m;
  QsParseResult r;

  CHECK (qs_proto_parser_pending (p) <= fed);
  while ((r = qs_proto_parser_next (p, &m)) == QS_PARSE_MESSAGE) {
    check_message (&m, max_frame_size);
    if (m.type == QS_MSG_HELLO && o->open_key)
      qs_proto_parser_set_open_key (p, o->open_key, o->open_cipher);
    o->digest = hash_message (o->digest, &m);
    o->n_messages++;
    CHECK (o->last != QS_PARSE_ERROR);
  }
  if (r == QS_PARSE_ERROR && o->last != QS_PARSE_ERROR) {
    const gchar *msg = NULL;

    o->error = qs_proto_parser_get_error (p, &msg);
    CHECK (o->error != QS_PROTO_OK);
    CHECK (msg != NULL && *msg != '\0' && strchr (msg, '\n') == NULL);
    o->error_message = g_strdup (msg);
  }
  if (o->last == QS_PARSE_ERROR)
    CHECK (r == QS_PARSE_ERROR);        /* sticky */
  o->last = r;
}

static void
run (QsProtoParser * p, const guint8 * data, gsize size, guint32 max_frame_size,
    gsize piece, guint64 seed, const guint8 * open_key, QsProtoCipher cipher,
    Outcome * o)
{
  gsize off = 0;

  memset (o, 0, sizeof (*o));
  o->open_key = open_key;
  o->open_cipher = cipher;
  o->digest = 0xcbf29ce484222325ull;
  o->last = QS_PARSE_NEED_MORE;
  while (off < size) {
    gsize n = piece;

    if (n == 0) {
      /* xorshift64: pieces of 1..512 bytes */
      seed ^= seed << 13;
      seed ^= seed >> 7;
      seed ^= seed << 17;
      n = 1 + (seed % 512);
    }
    n = MIN (n, size - off);
    qs_proto_parser_feed (p, data + off, n);
    off += n;
    pull (p, o, max_frame_size, off);
  }
  /* an empty feed changes nothing */
  qs_proto_parser_feed (p, data, 0);
  pull (p, o, max_frame_size, size);
}

static void
compare (const Outcome * a, const Outcome * b)
{
  CHECK (a->n_messages == b->n_messages);
  CHECK (a->digest == b->digest);
  CHECK (a->last == b->last);
  CHECK (a->error == b->error);
  CHECK (g_strcmp0 (a->error_message, b->error_message) == 0);
}

/* The builders' output parses back to what went in. */
static void
roundtrip_builders (const guint8 * data, gsize size)
{
  static const guint8 nonce[QS_PROTO_NONCE_SIZE] = { 0, };
  guint8 hello[QS_PROTO_HELLO_SIZE];
  gsize len = MIN (size, 2 * QS_PROTO_MAX_ERROR_TEXT);
  gchar *text = g_strndup ((const gchar *) data, len);
  QsProtoParser *p = qs_proto_parser_new (QS_PROTO_DEFAULT_MAX_FRAME_SIZE);
  GBytes *frame;
  QsMessage m;
  const guint8 *fd;
  gsize flen;

  qs_proto_write_hello (hello, QS_ROLE_SENDER, 0, nonce);
  qs_proto_parser_feed (p, hello, sizeof (hello));
  CHECK (qs_proto_parser_next (p, &m) == QS_PARSE_MESSAGE);

  frame = qs_proto_build_error (QS_PROTO_ERR_PEER, text);
  fd = g_bytes_get_data (frame, &flen);
  qs_proto_parser_feed (p, fd, flen);
  CHECK (qs_proto_parser_next (p, &m) == QS_PARSE_MESSAGE);
  CHECK (m.type == QS_MSG_ERROR && m.error_code == QS_PROTO_ERR_PEER);
  if (g_utf8_validate (text, -1, NULL) && strlen (text) <= QS_PROTO_MAX_ERROR_TEXT)
    CHECK (strcmp (m.text, text) == 0);
  g_bytes_unref (frame);

  if (*text && g_utf8_validate (text, -1, NULL)) {
    frame = qs_proto_build_caps (text);
    fd = g_bytes_get_data (frame, &flen);
    qs_proto_parser_feed (p, fd, flen);
    CHECK (qs_proto_parser_next (p, &m) == QS_PARSE_MESSAGE);
    CHECK (m.type == QS_MSG_CAPS && strcmp (m.text, text) == 0);
    g_bytes_unref (frame);
  }
  CHECK (qs_proto_parser_next (p, &m) == QS_PARSE_NEED_MORE);
  CHECK (qs_proto_parser_pending (p) == 0);

  qs_proto_parser_free (p);
  g_free (text);
}

static const guint8 fuzz_key[QS_PROTO_KEY_SIZE] = {
  0x71, 0x73, 0x6f, 0x75, 0x6e, 0x64, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d,
  0x6b, 0x65, 0x79, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
  0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11
};

/* Seals the frames of data after its first 32 bytes; returns the sealed
 * stream, the offset of each sealed frame in it (plus its end), and whether
 * the input was whole frames with no AUTH or SEALED among them. */
static GByteArray *
seal_input (const guint8 * data, gsize size, QsProtoCipher cipher,
    GArray * offsets, gboolean * comparable)
{
  QsProtoSeal *seal = qs_proto_seal_new (fuzz_key, cipher);
  GByteArray *out = g_byte_array_new ();
  gsize off = QS_PROTO_HELLO_SIZE;

  *comparable = TRUE;
  g_byte_array_append (out, data, QS_PROTO_HELLO_SIZE);
  while (off + QS_PROTO_FRAME_HEADER_SIZE <= size) {
    guint32 len = ((guint32) data[off + 4] << 24) | ((guint32) data[off + 5]
        << 16) | ((guint32) data[off + 6] << 8) | data[off + 7];
    gsize n = MIN ((gsize) len, size - off - QS_PROTO_FRAME_HEADER_SIZE);
    const guint8 *sealed;
    gsize sealed_len;

    if (n < len || data[off] == QS_MSG_AUTH || data[off] == QS_MSG_SEALED)
      *comparable = FALSE;
    sealed = qs_proto_seal_frame (seal, data + off, QS_PROTO_FRAME_HEADER_SIZE,
        data + off + QS_PROTO_FRAME_HEADER_SIZE, n, &sealed_len);
    CHECK (sealed != NULL && sealed_len == n + 32);
    g_array_append_val (offsets, out->len);
    g_byte_array_append (out, sealed, sealed_len);
    off += QS_PROTO_FRAME_HEADER_SIZE + n;
  }
  g_array_append_val (offsets, out->len);
  if (off < size) {
    /* a partial header: sent in clear, where only sealed frames belong */
    *comparable = FALSE;
    g_byte_array_append (out, data + off, size - off);
  }
  qs_proto_seal_free (seal);
  return out;
}

static void
run_sealed (const guint8 * data, gsize size, guint32 max_frame_size,
    guint64 h, const Outcome * clear)
{
  GArray *offsets = g_array_new (FALSE, FALSE, sizeof (guint));
  QsProtoParser *p = qs_proto_parser_new (max_frame_size);
  Outcome whole, bytewise, pieces, prefix, flipped;
  QsProtoCipher cipher;
  gboolean comparable;
  GByteArray *s;
  guint frames, f, start, end;

  if (size < QS_PROTO_HELLO_SIZE) {
    g_array_unref (offsets);
    qs_proto_parser_free (p);
    return;
  }
  /* the HELLO's flags byte picks the cipher, as it does between two ends */
  cipher = (data[7] & QS_HELLO_FLAG_AES256GCM)
      && qs_proto_aes256gcm_available ()? QS_PROTO_CIPHER_AES256_GCM :
      QS_PROTO_CIPHER_CHACHA20_POLY1305;
  s = seal_input (data, size, cipher, offsets, &comparable);

  run (p, s->data, s->len, max_frame_size, s->len, 0, fuzz_key, cipher,
      &whole);
  qs_proto_parser_reset (p);
  run (p, s->data, s->len, max_frame_size, 1, 0, fuzz_key, cipher,
      &bytewise);
  qs_proto_parser_reset (p);
  run (p, s->data, s->len, max_frame_size, 0, h | 1, fuzz_key, cipher,
      &pieces);
  compare (&whole, &bytewise);
  compare (&whole, &pieces);
  if (comparable)
    compare (&whole, clear);

  /* one flipped bit in one sealed frame */
  frames = offsets->len - 1;
  if (frames > 0) {
    f = (guint) ((h >> 8) % frames);
    start = g_array_index (offsets, guint, f);
    end = g_array_index (offsets, guint, f + 1);
    qs_proto_parser_reset (p);
    run (p, s->data, start, max_frame_size, start, 0, fuzz_key, cipher,
        &prefix);
    s->data[start + (h >> 16) % (end - start)] ^= 1u << ((h >> 40) % 8);
    qs_proto_parser_reset (p);
    run (p, s->data, s->len, max_frame_size, s->len, 0, fuzz_key, cipher,
        &flipped);
    CHECK (flipped.n_messages <= prefix.n_messages);
    g_free (prefix.error_message);
    g_free (flipped.error_message);
  }

  g_free (whole.error_message);
  g_free (bytewise.error_message);
  g_free (pieces.error_message);
  g_byte_array_unref (s);
  g_array_unref (offsets);
  qs_proto_parser_free (p);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  guint64 h = fnv (0xcbf29ce484222325ull, data, size);
  /* small limits make oversize frames reachable from small inputs */
  guint32 max_frame_size = (h & 1) ? QS_PROTO_MIN_MAX_FRAME_SIZE :
      QS_PROTO_DEFAULT_MAX_FRAME_SIZE;
  QsProtoParser *p = qs_proto_parser_new (max_frame_size);
  Outcome whole, bytewise, pieces;

  run (p, data, size, max_frame_size, size ? size : 1, 0, NULL,
      QS_PROTO_CIPHER_CHACHA20_POLY1305, &whole);
  qs_proto_parser_reset (p);
  run (p, data, size, max_frame_size, 1, 0, NULL,
      QS_PROTO_CIPHER_CHACHA20_POLY1305, &bytewise);
  qs_proto_parser_reset (p);
  run (p, data, size, max_frame_size, 0, h | 1, NULL,
      QS_PROTO_CIPHER_CHACHA20_POLY1305, &pieces);

  compare (&whole, &bytewise);
  compare (&whole, &pieces);
  run_sealed (data, size, max_frame_size, h, &whole);

  g_free (whole.error_message);
  g_free (bytewise.error_message);
  g_free (pieces.error_message);
  qs_proto_parser_free (p);

  roundtrip_builders (data, size);
  return 0;
}
