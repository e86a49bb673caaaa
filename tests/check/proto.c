/* qsound — unit tests for the wire protocol (plugins/qsound/qsoundproto.c).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The recorded stream and the other fuzz seeds under tests/fuzz/corpus/ are
 * built here with the writers and compared byte for byte with the checked-in
 * files.  After a deliberate protocol change, regenerate them with
 *   QSOUND_UPDATE_FIXTURES=1 meson test -C build proto
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "qsoundproto.h"

#include <sodium.h>

#define TEST_KEY "correct horse battery staple"

static const guint8 nonce_a[QS_PROTO_NONCE_SIZE] = {
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f
};

static const guint8 nonce_b[QS_PROTO_NONCE_SIZE] = {
  0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
  0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f
};

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static void
append_hello (GByteArray * s, QsRole role, guint8 flags, const guint8 * nonce)
{
  guint8 hello[QS_PROTO_HELLO_SIZE];

  qs_proto_write_hello (hello, role, flags, nonce);
  g_byte_array_append (s, hello, sizeof (hello));
}

static void
append_bytes (GByteArray * s, GBytes * b)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (b, &len);

  fail_unless (b != NULL);
  g_byte_array_append (s, data, len);
  g_bytes_unref (b);
}

static void
append_frame (GByteArray * s, guint type, const void *payload, guint32 len)
{
  guint8 header[QS_PROTO_FRAME_HEADER_SIZE];

  qs_proto_write_frame_header (header, type, len);
  g_byte_array_append (s, header, sizeof (header));
  if (len)
    g_byte_array_append (s, payload, len);
}

static void
fill_pattern (guint8 * data, gsize len, guint seed)
{
  gsize i;

  for (i = 0; i < len; i++)
    data[i] = (guint8) (i * 31 + seed * 7 + (i >> 8));
}

static void
append_buffer (GByteArray * s, guint64 seq, guint64 pts, guint64 dts,
    guint64 duration, guint32 flags, gsize size)
{
  guint8 header[QS_PROTO_FRAME_HEADER_SIZE];
  guint8 bheader[QS_PROTO_BUFFER_HEADER_SIZE];
  guint8 *data = g_malloc (size + 1);

  fill_pattern (data, size, (guint) seq);
  qs_proto_write_frame_header (header, QS_MSG_BUFFER,
      QS_PROTO_BUFFER_HEADER_SIZE + size);
  qs_proto_write_buffer_header (bheader, seq, pts, dts, duration, flags);
  g_byte_array_append (s, header, sizeof (header));
  g_byte_array_append (s, bheader, sizeof (bheader));
  g_byte_array_append (s, data, size);
  g_free (data);
}

/* One line describing every field of a message, payload included. */
static gchar *
describe (const QsMessage * m)
{
  gchar *sum = g_compute_checksum_for_data (G_CHECKSUM_SHA1,
      m->payload ? m->payload : (const guint8 *) "", m->payload_len);
  gchar *nonce = g_compute_checksum_for_data (G_CHECKSUM_SHA1, m->nonce,
      sizeof (m->nonce));
  gchar *d = g_strdup_printf ("type=%d v=%u.%u role=%u hf=%u nonce=%s "
      "seq=%" G_GUINT64_FORMAT " pts=%" G_GUINT64_FORMAT " dts=%"
      G_GUINT64_FORMAT " dur=%" G_GUINT64_FORMAT " bf=%u gap=%"
      G_GUINT64_FORMAT " code=%u len=%" G_GSIZE_FORMAT " sum=%s text=%s",
      m->type, m->version_major, m->version_minor, m->role, m->hello_flags,
      nonce, m->seq, m->pts, m->dts, m->duration, m->buffer_flags, m->seq_gap,
      m->error_code, m->payload_len, sum, m->text ? m->text : "(null)");

  g_free (sum);
  g_free (nonce);
  return d;
}

/* Pull every message now available; appends descriptions; returns the last
 * result (NEED_MORE or ERROR). */
static QsParseResult
pull_all (QsProtoParser * p, GPtrArray * out)
{
  QsMessage m;
  QsParseResult r;

  while ((r = qs_proto_parser_next (p, &m)) == QS_PARSE_MESSAGE)
    g_ptr_array_add (out, describe (&m));
  return r;
}

/* Feed data in pieces of the given sizes (cycled), pulling after each. */
static GPtrArray *
parse_in_splits (const guint8 * data, gsize len, GRand * rand, gsize fixed,
    QsParseResult * last)
{
  QsProtoParser *p = qs_proto_parser_new (QS_PROTO_DEFAULT_MAX_FRAME_SIZE);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  QsParseResult r = QS_PARSE_NEED_MORE;
  gsize off = 0;

  r = pull_all (p, out);
  while (off < len) {
    gsize n = fixed ? fixed : (gsize) g_rand_int_range (rand, 1, 300);

    n = MIN (n, len - off);
    qs_proto_parser_feed (p, data + off, n);
    off += n;
    r = pull_all (p, out);
    fail_unless (r != QS_PARSE_ERROR);
  }
  fail_unless_equals_int (qs_proto_parser_pending (p), 0);
  qs_proto_parser_free (p);
  *last = r;
  return out;
}

/* Parse one complete stream at once; returns the parser for inspection. */
static QsProtoParser *
parse_all (const guint8 * data, gsize len, guint32 max, GPtrArray * out,
    QsParseResult * last)
{
  QsProtoParser *p = qs_proto_parser_new (max);

  qs_proto_parser_feed (p, data, len);
  *last = pull_all (p, out);
  return p;
}

/* Expect exactly the given error after feeding data. */
static void
expect_error (const guint8 * data, gsize len, guint32 max, QsProtoError code,
    const gchar * needle)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  QsParseResult r;
  QsProtoParser *p = parse_all (data, len, max, out, &r);
  const gchar *msg = NULL;

  fail_unless_equals_int (r, QS_PARSE_ERROR);
  fail_unless_equals_int (qs_proto_parser_get_error (p, &msg), code);
  fail_unless (msg != NULL);
  if (needle && strstr (msg, needle) == NULL)
    fail ("error \"%s\" does not contain \"%s\"", msg, needle);
  /* one plain sentence */
  fail_if (strchr (msg, '\n') != NULL);
  qs_proto_parser_free (p);
  g_ptr_array_unref (out);
}

/* ------------------------------------------------------------------------ */
/* fixtures: the recorded stream and the fuzz seeds                         */

static GByteArray *
build_recorded_stream (void)
{
  GByteArray *s = g_byte_array_new ();

  /* a session in clear (no key); the sealed form is tested on its own */
  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  append_bytes (s, qs_proto_build_caps ("audio/mpeg, mpegversion=(int)1, "
          "layer=(int)3, rate=(int)48000, channels=(int)2, parsed=(boolean)true"));
  append_buffer (s, 100, 0, QS_PROTO_TIME_NONE, 24000000,
      QS_BUF_FLAG_DISCONT | QS_BUF_FLAG_HEADER, 417);
  append_buffer (s, 101, 24000000, QS_PROTO_TIME_NONE, 24000000, 0, 418);
  append_bytes (s, qs_proto_build_heartbeat (1234567890123ull));
  append_buffer (s, 102, 48000000, 47000000, 24000000, QS_BUF_FLAG_DELTA_UNIT,
      0);
  /* 103 dropped by a slow link */
  append_buffer (s, 104, 96000000, QS_PROTO_TIME_NONE, QS_PROTO_TIME_NONE,
      QS_BUF_FLAG_GAP | QS_BUF_FLAG_RESYNC, 1);
  append_bytes (s, qs_proto_build_caps ("audio/x-opus, rate=(int)48000, "
          "channels=(int)2, channel-mapping-family=(int)0"));
  append_buffer (s, 105, QS_PROTO_TIME_NONE, QS_PROTO_TIME_NONE,
      QS_PROTO_TIME_NONE, QS_BUF_FLAGS_KNOWN, 160);
  append_bytes (s, qs_proto_build_heartbeat (QS_PROTO_TIME_NONE));
  append_bytes (s, qs_proto_build_error (QS_PROTO_ERR_PEER,
          "the capture device went away; plug it back in — or pick another"));
  append_bytes (s, qs_proto_build_eos ());
  return s;
}

static GByteArray *
build_http_request (void)
{
  static const gchar req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n"
      "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
  GByteArray *s = g_byte_array_new ();

  g_byte_array_append (s, (const guint8 *) req, strlen (req));
  return s;
}

static GByteArray *
build_oversized_frame (void)
{
  GByteArray *s = g_byte_array_new ();
  guint8 header[QS_PROTO_FRAME_HEADER_SIZE];

  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  qs_proto_write_frame_header (header, QS_MSG_BUFFER, G_MAXUINT32);
  g_byte_array_append (s, header, sizeof (header));
  return s;
}

static GByteArray *
build_version1_hello (void)
{
  GByteArray *s = g_byte_array_new ();

  append_hello (s, QS_ROLE_RECEIVER, 0, nonce_b);
  s->data[4] = 1;
  s->data[5] = 3;
  return s;
}

static GByteArray *
build_receiver_session (void)
{
  GByteArray *s = g_byte_array_new ();

  append_hello (s, QS_ROLE_RECEIVER, 0, nonce_b);
  append_bytes (s, qs_proto_build_heartbeat (0));
  append_bytes (s, qs_proto_build_heartbeat (1000000000));
  append_bytes (s, qs_proto_build_heartbeat (QS_PROTO_TIME_NONE));
  /* 2.1: asking the sender's time */
  append_bytes (s, qs_proto_build_timed_heartbeat (1050000000,
          QS_PROTO_TIME_NONE, QS_PROTO_TIME_NONE));
  append_bytes (s, qs_proto_build_error (QS_PROTO_ERR_AUTH,
          "authentication failed"));
  return s;
}

static GByteArray *
build_bad_caps (void)
{
  static const gchar caps[] = "audio/x-raw\0, rate=(int)48000";
  GByteArray *s = g_byte_array_new ();

  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  append_frame (s, QS_MSG_CAPS, caps, sizeof (caps) - 1);
  return s;
}

static GByteArray *
build_short_buffer (void)
{
  guint8 payload[QS_PROTO_BUFFER_HEADER_SIZE - 1] = { 0, };
  GByteArray *s = g_byte_array_new ();

  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  append_bytes (s, qs_proto_build_caps ("audio/x-raw"));
  append_frame (s, QS_MSG_BUFFER, payload, sizeof (payload));
  return s;
}

static GByteArray *
build_seq_gaps (void)
{
  static const guint64 seqs[] = { 7, 8, 10, 9, 30, 31, G_MAXUINT64, 0 };
  GByteArray *s = g_byte_array_new ();
  guint i;

  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  append_bytes (s, qs_proto_build_caps ("audio/x-raw, format=(string)S16LE, "
          "layout=(string)interleaved, rate=(int)48000, channels=(int)2"));
  for (i = 0; i < G_N_ELEMENTS (seqs); i++)
    append_buffer (s, seqs[i], i * 10000000ull, QS_PROTO_TIME_NONE, 10000000,
        i == 0 ? QS_BUF_FLAG_DISCONT : 0, 16 * i);
  append_bytes (s, qs_proto_build_eos ());
  return s;
}

typedef struct
{
  const gchar *name;
  GByteArray *(*build) (void);
} Fixture;

static const Fixture fixtures[] = {
  {"recorded-stream.bin", build_recorded_stream},
  {"http-request.bin", build_http_request},
  {"oversized-frame.bin", build_oversized_frame},
  {"version1-hello.bin", build_version1_hello},
  {"receiver-session.bin", build_receiver_session},
  {"bad-caps-nul.bin", build_bad_caps},
  {"short-buffer.bin", build_short_buffer},
  {"seq-gaps.bin", build_seq_gaps},
};

static gchar *
corpus_path (const gchar * name)
{
  const gchar *root = g_getenv ("QSOUND_SOURCE_ROOT");

  fail_unless (root != NULL, "QSOUND_SOURCE_ROOT is not set; run via meson test");
  return g_build_filename (root, "tests", "fuzz", "corpus", name, NULL);
}

GST_START_TEST (test_fixtures_match_writers)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (fixtures); i++) {
    GByteArray *built = fixtures[i].build ();
    gchar *path = corpus_path (fixtures[i].name);
    gchar *contents = NULL;
    gsize len = 0;
    GError *err = NULL;

    if (g_getenv ("QSOUND_UPDATE_FIXTURES")) {
      fail_unless (g_file_set_contents (path, (const gchar *) built->data,
              built->len, &err), "%s", err ? err->message : "");
    }
    if (!g_file_get_contents (path, &contents, &len, &err))
      fail ("cannot read fixture %s: %s", path, err->message);
    fail_unless_equals_int (len, built->len);
    fail_unless (memcmp (contents, built->data, len) == 0,
        "fixture %s differs from what the writers produce", path);
    g_free (contents);
    g_free (path);
    g_byte_array_unref (built);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* round trips                                                              */

GST_START_TEST (test_hello_roundtrip)
{
  static const struct
  {
    QsRole role;
    guint8 flags_in, flags_out;
  } cases[] = {
    {QS_ROLE_SENDER, 0, 0},
    {QS_ROLE_SENDER, QS_HELLO_FLAG_KEY, QS_HELLO_FLAG_KEY},
    {QS_ROLE_RECEIVER, QS_HELLO_FLAG_KEY, QS_HELLO_FLAG_KEY},
    {QS_ROLE_RECEIVER, 0xfc, 0},        /* unknown bits masked */
    {QS_ROLE_SENDER, 0xfe, QS_HELLO_FLAG_AES256GCM},
    {QS_ROLE_RECEIVER, 0xff, QS_HELLO_FLAG_KEY | QS_HELLO_FLAG_AES256GCM},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    guint8 hello[QS_PROTO_HELLO_SIZE];
    QsProtoParser *p = qs_proto_parser_new (0);
    QsMessage m;

    qs_proto_write_hello (hello, cases[i].role, cases[i].flags_in, nonce_b);
    fail_unless (memcmp (hello, "QSND\x02\x01", 6) == 0);
    fail_unless_equals_int (hello[6], cases[i].role);
    fail_unless_equals_int (hello[7], cases[i].flags_out);
    fail_unless (memcmp (hello + 8, nonce_b, 16) == 0);
    fail_unless (memcmp (hello + 24, "\0\0\0\0\0\0\0\0", 8) == 0);

    qs_proto_parser_feed (p, hello, sizeof (hello));
    fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
    fail_unless_equals_int (m.type, QS_MSG_HELLO);
    fail_unless_equals_int (m.version_major, QS_PROTO_VERSION_MAJOR);
    fail_unless_equals_int (m.version_minor, QS_PROTO_VERSION_MINOR);
    fail_unless_equals_int (qs_proto_parser_get_peer_minor (p),
        QS_PROTO_VERSION_MINOR);
    fail_unless_equals_int (m.role, cases[i].role);
    fail_unless_equals_int (m.hello_flags, cases[i].flags_out);
    fail_unless (memcmp (m.nonce, nonce_b, QS_PROTO_NONCE_SIZE) == 0);
    fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_NEED_MORE);
    fail_unless_equals_int (qs_proto_parser_pending (p), 0);

    /* a newer minor version, unknown flags and reserved bytes: accepted */
    qs_proto_parser_reset (p);
    hello[5] = 9;
    hello[7] |= 0xf0;
    memset (hello + 24, 0xaa, 8);
    qs_proto_parser_feed (p, hello, sizeof (hello));
    fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
    fail_unless_equals_int (m.version_minor, 9);
    fail_unless_equals_int (m.hello_flags, cases[i].flags_out);
    qs_proto_parser_free (p);
  }
}

GST_END_TEST;

GST_START_TEST (test_frame_layout)
{
  guint8 h[QS_PROTO_FRAME_HEADER_SIZE];
  guint8 b[QS_PROTO_BUFFER_HEADER_SIZE];
  static const guint8 expect_b[QS_PROTO_BUFFER_HEADER_SIZE] = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x6e, 0x36, 0x00,
    0x00, 0x00, 0x00, 0x11
  };
  GBytes *f;
  const guint8 *d;
  gsize len;

  qs_proto_write_frame_header (h, QS_MSG_BUFFER, 0x01020304);
  fail_unless (memcmp (h, "\x02\x00\x00\x00\x01\x02\x03\x04", 8) == 0);

  /* unknown flag bits are not written */
  qs_proto_write_buffer_header (b, 0x0102030405060708ull, QS_PROTO_TIME_NONE,
      42, 24000000, 0xffffff00u | QS_BUF_FLAG_DISCONT | QS_BUF_FLAG_RESYNC);
  fail_unless (memcmp (b, expect_b, sizeof (b)) == 0);

  f = qs_proto_build_caps ("audio/x-raw");
  d = g_bytes_get_data (f, &len);
  fail_unless_equals_int (len, 8 + 11);
  fail_unless (memcmp (d, "\x01\x00\x00\x00\x00\x00\x00\x0b" "audio/x-raw",
          len) == 0);
  g_bytes_unref (f);

  f = qs_proto_build_eos ();
  d = g_bytes_get_data (f, &len);
  fail_unless_equals_int (len, 8);
  fail_unless (memcmp (d, "\x03\x00\x00\x00\x00\x00\x00\x00", 8) == 0);
  g_bytes_unref (f);

  f = qs_proto_build_heartbeat (0x1122334455667788ull);
  d = g_bytes_get_data (f, &len);
  fail_unless_equals_int (len, 16);
  fail_unless (memcmp (d, "\x04\x00\x00\x00\x00\x00\x00\x08"
          "\x11\x22\x33\x44\x55\x66\x77\x88", 16) == 0);
  g_bytes_unref (f);

  f = qs_proto_build_heartbeat (QS_PROTO_TIME_NONE);
  fail_unless_equals_int (g_bytes_get_size (f), 8);
  g_bytes_unref (f);

  /* 2.1's timed heartbeat: transmit, origin, received */
  f = qs_proto_build_timed_heartbeat (0x0102030405060708ull,
      QS_PROTO_TIME_NONE, 0x1112131415161718ull);
  d = g_bytes_get_data (f, &len);
  fail_unless_equals_int (len, 32);
  fail_unless (memcmp (d, "\x04\x00\x00\x00\x00\x00\x00\x18"
          "\x01\x02\x03\x04\x05\x06\x07\x08"
          "\xff\xff\xff\xff\xff\xff\xff\xff"
          "\x11\x12\x13\x14\x15\x16\x17\x18", 32) == 0);
  g_bytes_unref (f);

  f = qs_proto_build_error (QS_PROTO_ERR_AUTH, "authentication failed");
  d = g_bytes_get_data (f, &len);
  fail_unless_equals_int (len, 8 + 4 + 21);
  fail_unless (memcmp (d, "\x05\x00\x00\x00\x00\x00\x00\x19"
          "\x00\x00\x00\x04" "authentication failed", len) == 0);
  g_bytes_unref (f);

  f = qs_proto_build_auth ((const guint8 *) "0123456789abcdef0123456789abcdef");
  d = g_bytes_get_data (f, &len);
  fail_unless_equals_int (len, 8 + 32);
  fail_unless (memcmp (d, "\x06\x00\x00\x00\x00\x00\x00\x20"
          "0123456789abcdef0123456789abcdef", len) == 0);
  g_bytes_unref (f);
}

GST_END_TEST;

GST_START_TEST (test_buffer_roundtrip)
{
  static const struct
  {
    guint64 seq, pts, dts, duration;
    guint32 flags_in, flags_out;
    gsize size;
  } cases[] = {
    {0, 0, 0, 0, 0, 0, 0},
    {1, 1, 2, 3, QS_BUF_FLAG_DISCONT, QS_BUF_FLAG_DISCONT, 1},
    {2, 20000000, QS_PROTO_TIME_NONE, 20000000, QS_BUF_FLAG_DELTA_UNIT,
        QS_BUF_FLAG_DELTA_UNIT, 3840},
    {3, QS_PROTO_TIME_NONE, QS_PROTO_TIME_NONE, QS_PROTO_TIME_NONE,
        QS_BUF_FLAG_HEADER, QS_BUF_FLAG_HEADER, 5},
    {4, G_MAXUINT64 - 1, 1, G_MAXUINT64 - 1, QS_BUF_FLAG_GAP,
        QS_BUF_FLAG_GAP, 4096},
    {5, 7, 7, 7, QS_BUF_FLAG_RESYNC, QS_BUF_FLAG_RESYNC, 36},
    {6, 8, 8, 8, QS_BUF_FLAGS_KNOWN, QS_BUF_FLAGS_KNOWN, 100},
    {7, 9, 9, 9, 0xffffffffu, QS_BUF_FLAGS_KNOWN, 100},
    {8, 9, 9, 9, 0x80000020u, 0, 100},
  };
  guint i;
  QsProtoParser *p = qs_proto_parser_new (QS_PROTO_DEFAULT_MAX_FRAME_SIZE);
  GByteArray *s = g_byte_array_new ();
  QsMessage m;

  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    append_buffer (s, cases[i].seq, cases[i].pts, cases[i].dts,
        cases[i].duration, cases[i].flags_in, cases[i].size);
  /* unknown flag bits set on the wire by a newer peer are masked too */
  append_buffer (s, 9, 1, 2, 3, 0, 2);
  s->data[s->len - 2 - 4] = 0xff;
  s->data[s->len - 2 - 1] = 0xe0 | QS_BUF_FLAG_GAP;

  qs_proto_parser_feed (p, s->data, s->len);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.type, QS_MSG_HELLO);
  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    guint8 *expect = g_malloc (cases[i].size + 1);

    fill_pattern (expect, cases[i].size, (guint) cases[i].seq);
    fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
    fail_unless_equals_int (m.type, QS_MSG_BUFFER);
    fail_unless_equals_uint64 (m.seq, cases[i].seq);
    fail_unless_equals_uint64 (m.pts, cases[i].pts);
    fail_unless_equals_uint64 (m.dts, cases[i].dts);
    fail_unless_equals_uint64 (m.duration, cases[i].duration);
    fail_unless_equals_int (m.buffer_flags, cases[i].flags_out);
    fail_unless_equals_uint64 (m.seq_gap, 0);
    fail_unless_equals_int (m.payload_len, cases[i].size);
    fail_unless (cases[i].size == 0 || memcmp (m.payload, expect,
            cases[i].size) == 0);
    fail_unless (m.text == NULL);
    g_free (expect);
  }
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_uint64 (m.seq, 9);
  fail_unless_equals_int (m.buffer_flags, QS_BUF_FLAG_GAP);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_NEED_MORE);
  fail_unless_equals_int (qs_proto_parser_pending (p), 0);

  qs_proto_parser_free (p);
  g_byte_array_unref (s);
}

GST_END_TEST;

GST_START_TEST (test_other_frames_roundtrip)
{
  QsProtoParser *p = qs_proto_parser_new (QS_PROTO_DEFAULT_MAX_FRAME_SIZE);
  GByteArray *s = g_byte_array_new ();
  gchar *long_caps, *long_text;
  guint8 mac[QS_PROTO_AUTH_SIZE];
  QsMessage m;
  guint i;

  long_caps = g_malloc (QS_PROTO_MAX_CAPS_SIZE + 1);
  memset (long_caps, 'a', QS_PROTO_MAX_CAPS_SIZE);
  long_caps[QS_PROTO_MAX_CAPS_SIZE] = '\0';
  /* 400 three-byte characters: 1200 bytes, cut to 1023 at a boundary */
  long_text = g_malloc (1201);
  for (i = 0; i < 400; i++)
    memcpy (long_text + 3 * i, "\xe2\x82\xac", 3);      /* € */
  long_text[1200] = '\0';

  for (i = 0; i < QS_PROTO_AUTH_SIZE; i++)
    mac[i] = 255 - i;

  append_hello (s, QS_ROLE_SENDER, QS_HELLO_FLAG_KEY, nonce_a);
  append_bytes (s, qs_proto_build_auth (mac));
  append_bytes (s, qs_proto_build_caps ("audio/x-raw, format=(string)S16LE, "
          "rate=(int)48000, channels=(int)2, channel-mask=(bitmask)0x3, "
          "name=(string)\"h\\303\\251 \xc3\xa9\""));
  append_bytes (s, qs_proto_build_caps (long_caps));
  append_bytes (s, qs_proto_build_heartbeat (0));
  append_bytes (s, qs_proto_build_heartbeat (G_MAXUINT64 - 1));
  append_bytes (s, qs_proto_build_heartbeat (QS_PROTO_TIME_NONE));
  append_bytes (s, qs_proto_build_timed_heartbeat (5, 6, 7));
  for (i = 0; i <= QS_PROTO_ERR_PEER; i++)
    append_bytes (s, qs_proto_build_error (i, qs_proto_error_to_string (i)));
  append_bytes (s, qs_proto_build_error (1234, NULL));
  append_bytes (s, qs_proto_build_error (QS_PROTO_ERR_PEER, long_text));
  /* a broken text from a foreign writer is repaired, not fatal */
  append_frame (s, QS_MSG_ERROR, "\x00\x00\x00\x09" "a\0b\xff" "c\xe2\x82", 11);
  append_bytes (s, qs_proto_build_eos ());
  qs_proto_parser_feed (p, s->data, s->len);

  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.type, QS_MSG_HELLO);
  fail_unless_equals_int (m.hello_flags, QS_HELLO_FLAG_KEY);

  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.type, QS_MSG_AUTH);
  fail_unless_equals_int (m.payload_len, QS_PROTO_AUTH_SIZE);
  fail_unless (memcmp (m.payload, mac, QS_PROTO_AUTH_SIZE) == 0);

  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.type, QS_MSG_CAPS);
  fail_unless_equals_string (m.text, "audio/x-raw, format=(string)S16LE, "
      "rate=(int)48000, channels=(int)2, channel-mask=(bitmask)0x3, "
      "name=(string)\"h\\303\\251 \xc3\xa9\"");
  fail_unless_equals_int (m.payload_len, strlen (m.text));
  fail_unless (memcmp (m.payload, m.text, m.payload_len) == 0);

  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.type, QS_MSG_CAPS);
  fail_unless_equals_string (m.text, long_caps);

  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.type, QS_MSG_HEARTBEAT);
  fail_unless_equals_int (m.payload_len, 8);
  fail_unless_equals_uint64 (m.pts, 0);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.type, QS_MSG_HEARTBEAT);
  fail_unless_equals_uint64 (m.pts, G_MAXUINT64 - 1);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.type, QS_MSG_HEARTBEAT);
  fail_unless_equals_int (m.payload_len, 0);
  fail_unless_equals_uint64 (m.pts, QS_PROTO_TIME_NONE);
  fail_unless_equals_uint64 (m.hb_origin, QS_PROTO_TIME_NONE);
  fail_unless_equals_uint64 (m.hb_received, QS_PROTO_TIME_NONE);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.type, QS_MSG_HEARTBEAT);
  fail_unless_equals_int (m.payload_len, 24);
  fail_unless_equals_uint64 (m.pts, 5);
  fail_unless_equals_uint64 (m.hb_origin, 6);
  fail_unless_equals_uint64 (m.hb_received, 7);

  for (i = 0; i <= QS_PROTO_ERR_PEER; i++) {
    fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
    fail_unless_equals_int (m.type, QS_MSG_ERROR);
    fail_unless_equals_int (m.error_code, i);
    fail_unless_equals_string (m.text, qs_proto_error_to_string (i));
  }
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.error_code, 1234);
  fail_unless_equals_string (m.text, "");
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.error_code, QS_PROTO_ERR_PEER);
  fail_unless_equals_int (strlen (m.text), 1023);
  fail_unless (strncmp (m.text, long_text, 1023) == 0);
  fail_unless (g_utf8_validate (m.text, -1, NULL));
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.error_code, 9);
  fail_unless_equals_int (m.payload_len, 7);
  fail_unless_equals_string (m.text, "a?b?c??");

  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.type, QS_MSG_EOS);
  fail_unless_equals_int (m.payload_len, 0);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_NEED_MORE);

  g_free (long_caps);
  g_free (long_text);
  qs_proto_parser_free (p);
  g_byte_array_unref (s);
}

GST_END_TEST;

GST_START_TEST (test_reserved_header_bytes_ignored)
{
  QsProtoParser *p = qs_proto_parser_new (0);
  GByteArray *s = g_byte_array_new ();
  QsMessage m;

  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  append_bytes (s, qs_proto_build_caps ("audio/x-raw"));
  s->data[QS_PROTO_HELLO_SIZE + 1] = 0x80;      /* frame flags */
  s->data[QS_PROTO_HELLO_SIZE + 2] = 0x12;      /* reserved */
  s->data[QS_PROTO_HELLO_SIZE + 3] = 0x34;
  qs_proto_parser_feed (p, s->data, s->len);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.type, QS_MSG_CAPS);
  fail_unless_equals_string (m.text, "audio/x-raw");
  qs_proto_parser_free (p);
  g_byte_array_unref (s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* the recorded stream, fed in every way                                    */

GST_START_TEST (test_recorded_stream_splits)
{
  GByteArray *s = build_recorded_stream ();
  GPtrArray *ref = g_ptr_array_new_with_free_func (g_free);
  QsParseResult r;
  QsProtoParser *p = parse_all (s->data, s->len,
      QS_PROTO_DEFAULT_MAX_FRAME_SIZE, ref, &r);
  static const guint32 seeds[] = { 0x5eed, 1, 2, 3, 42, 1000, 65537, 0xdeadbeef };
  guint i, j;
  GPtrArray *got;

  fail_unless_equals_int (r, QS_PARSE_NEED_MORE);
  fail_unless_equals_int (qs_proto_parser_pending (p), 0);
  qs_proto_parser_free (p);
  /* HELLO CAPS BUF BUF HB BUF BUF CAPS BUF HB ERROR EOS */
  fail_unless_equals_int (ref->len, 12);
  fail_unless (g_str_has_prefix (g_ptr_array_index (ref, 0), "type=0 v=2.1 role=1 hf=0"));
  fail_unless (g_str_has_prefix (g_ptr_array_index (ref, 11), "type=3 "));
  fail_unless (strstr (g_ptr_array_index (ref, 5), "seq=102 ") != NULL);
  fail_unless (strstr (g_ptr_array_index (ref, 5), "gap=0 ") != NULL);
  fail_unless (strstr (g_ptr_array_index (ref, 6), "seq=104 ") != NULL);
  fail_unless (strstr (g_ptr_array_index (ref, 6), "gap=1 ") != NULL);
  fail_unless (strstr (g_ptr_array_index (ref, 10),
          "text=the capture device went away; plug it back in — or pick another")
      != NULL);

  /* one byte at a time */
  got = parse_in_splits (s->data, s->len, NULL, 1, &r);
  fail_unless_equals_int (got->len, ref->len);
  for (j = 0; j < ref->len; j++)
    fail_unless_equals_string (g_ptr_array_index (got, j),
        g_ptr_array_index (ref, j));
  g_ptr_array_unref (got);

  /* random splits, several fixed seeds */
  for (i = 0; i < G_N_ELEMENTS (seeds); i++) {
    GRand *rand = g_rand_new_with_seed (seeds[i]);

    got = parse_in_splits (s->data, s->len, rand, 0, &r);
    fail_unless_equals_int (got->len, ref->len);
    for (j = 0; j < ref->len; j++)
      fail_unless_equals_string (g_ptr_array_index (got, j),
          g_ptr_array_index (ref, j));
    g_ptr_array_unref (got);
    g_rand_free (rand);
  }

  /* every fixed piece size */
  for (i = 1; i < s->len; i++) {
    got = parse_in_splits (s->data, s->len, NULL, i, &r);
    fail_unless_equals_int (got->len, ref->len);
    fail_unless_equals_string (g_ptr_array_index (got, ref->len - 1),
        g_ptr_array_index (ref, ref->len - 1));
    g_ptr_array_unref (got);
  }

  g_ptr_array_unref (ref);
  g_byte_array_unref (s);
}

GST_END_TEST;

/* Many 4 KiB buffers through fixed-size reads, as the element sees them:
 * the parser holds at most one read plus one partial frame. */
GST_START_TEST (test_bounded_buffering)
{
  const gsize n_buffers = 2000, size = 4096, chunk = 65537;
  GByteArray *s = g_byte_array_new ();
  QsProtoParser *p = qs_proto_parser_new (QS_PROTO_DEFAULT_MAX_FRAME_SIZE);
  guint8 *expect = g_malloc (size);
  guint64 next_seq = 0;
  gsize off = 0, i;
  QsMessage m;
  QsParseResult r;

  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  for (i = 0; i < n_buffers; i++)
    append_buffer (s, i, i * 21333333, QS_PROTO_TIME_NONE, 21333333, 0, size);

  while (off < s->len) {
    gsize n = MIN (chunk, s->len - off);

    qs_proto_parser_feed (p, s->data + off, n);
    off += n;
    fail_unless (qs_proto_parser_pending (p) <= chunk + QS_PROTO_FRAME_HEADER_SIZE +
        QS_PROTO_BUFFER_HEADER_SIZE + size);
    while ((r = qs_proto_parser_next (p, &m)) == QS_PARSE_MESSAGE) {
      if (m.type != QS_MSG_BUFFER)
        continue;
      fail_unless_equals_uint64 (m.seq, next_seq);
      fail_unless_equals_uint64 (m.seq_gap, 0);
      fill_pattern (expect, size, (guint) m.seq);
      fail_unless_equals_int (m.payload_len, size);
      fail_unless (memcmp (m.payload, expect, size) == 0);
      next_seq++;
    }
    fail_unless_equals_int (r, QS_PARSE_NEED_MORE);
    /* what is left is less than one frame */
    fail_unless (qs_proto_parser_pending (p) < QS_PROTO_FRAME_HEADER_SIZE +
        QS_PROTO_BUFFER_HEADER_SIZE + size);
  }
  fail_unless_equals_uint64 (next_seq, n_buffers);
  fail_unless_equals_int (qs_proto_parser_pending (p), 0);

  g_free (expect);
  qs_proto_parser_free (p);
  g_byte_array_unref (s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* errors                                                                   */

GST_START_TEST (test_not_qsound)
{
  static const gchar *http[] = {
    "GET / HTTP/1.1\r\n\r\n", "POST /x HTTP/1.0\r\n", "PUT /a HTTP/1.1",
    "HEAD / HTTP/1.1", "OPTIONS * HTTP/1.1",
  };
  QsProtoParser *p;
  QsMessage m;
  const gchar *msg;
  guint i;

  /* garbage: refused at the very first byte */
  expect_error ((const guint8 *) "\x00", 1, 0, QS_PROTO_ERR_NOT_QSOUND,
      "the peer is not a qsound endpoint");
  expect_error ((const guint8 *) "X", 1, 0, QS_PROTO_ERR_NOT_QSOUND,
      "check the host and port");
  expect_error ((const guint8 *) "QSNX", 4, 0, QS_PROTO_ERR_NOT_QSOUND,
      "first bytes are not \"QSND\"");
  expect_error ((const guint8 *) "QSx", 3, 0, QS_PROTO_ERR_NOT_QSOUND, NULL);
  expect_error ((const guint8 *) "Gx", 2, 0, QS_PROTO_ERR_NOT_QSOUND,
      "first bytes are not");
  expect_error ((const guint8 *) "SSH-2.0-OpenSSH_9.2p1\r\n", 23, 0,
      QS_PROTO_ERR_NOT_QSOUND, "SSH");
  expect_error ((const guint8 *) "\x16\x03\x01\x02\x00", 5, 0,
      QS_PROTO_ERR_NOT_QSOUND, "TLS");

  for (i = 0; i < G_N_ELEMENTS (http); i++)
    expect_error ((const guint8 *) http[i], strlen (http[i]), 0,
        QS_PROTO_ERR_NOT_QSOUND,
        "the peer is not a qsound endpoint (it sent an HTTP request); "
        "check the host and port");
  expect_error ((const guint8 *) "HTTP/1.1 200 OK\r\n", 17, 0,
      QS_PROTO_ERR_NOT_QSOUND, "HTTP response");

  /* an HTTP request byte by byte: named as soon as 4 bytes are in */
  p = qs_proto_parser_new (0);
  for (i = 0; i < 3; i++) {
    qs_proto_parser_feed (p, (const guint8 *) "GET " + i, 1);
    fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_NEED_MORE);
  }
  qs_proto_parser_feed (p, (const guint8 *) " ", 1);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_ERROR);
  fail_unless_equals_int (qs_proto_parser_get_error (p, &msg),
      QS_PROTO_ERR_NOT_QSOUND);
  fail_unless (strstr (msg, "HTTP request") != NULL);
  qs_proto_parser_free (p);

  /* a good magic prefix is awaited */
  p = qs_proto_parser_new (0);
  qs_proto_parser_feed (p, (const guint8 *) "QSN", 3);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_NEED_MORE);
  qs_proto_parser_free (p);
}

GST_END_TEST;

GST_START_TEST (test_version_mismatch)
{
  GByteArray *s = build_version1_hello ();
  QsProtoParser *p;
  QsMessage m;
  const gchar *msg;

  expect_error (s->data, s->len, 0, QS_PROTO_ERR_VERSION,
      "the peer speaks qsound protocol 1.x, this side speaks 2.x; "
      "install the same qsound version on both machines");

  /* judged as soon as the version byte is in */
  p = qs_proto_parser_new (0);
  qs_proto_parser_feed (p, s->data, 4);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_NEED_MORE);
  qs_proto_parser_feed (p, s->data + 4, 1);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_ERROR);
  fail_unless_equals_int (qs_proto_parser_get_error (p, &msg),
      QS_PROTO_ERR_VERSION);
  qs_proto_parser_free (p);

  s->data[4] = 0;
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_VERSION, "protocol 0.x");
  s->data[4] = 255;
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_VERSION, "protocol 255.x");

  /* unknown role */
  s->data[4] = QS_PROTO_VERSION_MAJOR;
  s->data[6] = 3;
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_ROLE, "unknown role (3)");
  s->data[6] = 0;
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_ROLE, "unknown role (0)");
  g_byte_array_unref (s);
}

GST_END_TEST;

GST_START_TEST (test_oversized_frame)
{
  GByteArray *s = build_oversized_frame ();
  QsProtoParser *p = qs_proto_parser_new (QS_PROTO_DEFAULT_MAX_FRAME_SIZE);
  QsMessage m;
  const gchar *msg;
  guint8 header[QS_PROTO_FRAME_HEADER_SIZE];
  guint8 *payload;

  /* the header alone (no payload fed) is refused at once, nothing held */
  qs_proto_parser_feed (p, s->data, s->len);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_ERROR);
  fail_unless_equals_int (qs_proto_parser_get_error (p, &msg),
      QS_PROTO_ERR_FRAME_TOO_LARGE);
  fail_unless_equals_string (msg, "a frame of 4294967295 bytes exceeds "
      "max-frame-size (1048576 bytes); raise max-frame-size on the receiving "
      "side or send smaller buffers");
  fail_unless (qs_proto_parser_pending (p) <= QS_PROTO_FRAME_HEADER_SIZE);
  /* more bytes claimed by that frame are not kept */
  payload = g_malloc0 (1 << 20);
  qs_proto_parser_feed (p, payload, 1 << 20);
  fail_unless (qs_proto_parser_pending (p) <= QS_PROTO_FRAME_HEADER_SIZE);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_ERROR);
  qs_proto_parser_free (p);

  /* limits: exactly max passes, max + 1 fails; the constructor clamps */
  p = qs_proto_parser_new (0);
  qs_proto_parser_feed (p, s->data, QS_PROTO_HELLO_SIZE);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  qs_proto_write_frame_header (header, QS_MSG_BUFFER, QS_PROTO_MIN_MAX_FRAME_SIZE);
  qs_proto_parser_feed (p, header, sizeof (header));
  qs_proto_parser_feed (p, payload, QS_PROTO_MIN_MAX_FRAME_SIZE);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (m.payload_len,
      QS_PROTO_MIN_MAX_FRAME_SIZE - QS_PROTO_BUFFER_HEADER_SIZE);
  qs_proto_write_frame_header (header, QS_MSG_BUFFER,
      QS_PROTO_MIN_MAX_FRAME_SIZE + 1);
  qs_proto_parser_feed (p, header, sizeof (header));
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_ERROR);
  fail_unless_equals_int (qs_proto_parser_get_error (p, &msg),
      QS_PROTO_ERR_FRAME_TOO_LARGE);
  fail_unless (strstr (msg, "(1024 bytes)") != NULL);
  qs_proto_parser_free (p);

  p = qs_proto_parser_new (G_MAXUINT32);
  qs_proto_parser_feed (p, s->data, QS_PROTO_HELLO_SIZE);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  qs_proto_write_frame_header (header, QS_MSG_BUFFER,
      QS_PROTO_MAX_MAX_FRAME_SIZE + 1);
  qs_proto_parser_feed (p, header, sizeof (header));
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_ERROR);
  fail_unless_equals_int (qs_proto_parser_get_error (p, &msg),
      QS_PROTO_ERR_FRAME_TOO_LARGE);
  fail_unless (strstr (msg, "(67108864 bytes)") != NULL);
  qs_proto_parser_free (p);

  g_free (payload);
  g_byte_array_unref (s);
}

GST_END_TEST;

GST_START_TEST (test_truncated_is_need_more)
{
  GByteArray *s = g_byte_array_new ();
  QsProtoParser *p = qs_proto_parser_new (0);
  QsMessage m;
  guint i;

  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  append_buffer (s, 1, 2, 3, 4, 0, 100);
  for (i = 0; i < s->len; i++) {
    qs_proto_parser_feed (p, s->data + i, 1);
    if (i == QS_PROTO_HELLO_SIZE - 1) {
      fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
      fail_unless_equals_int (m.type, QS_MSG_HELLO);
    } else if (i == s->len - 1) {
      fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
      fail_unless_equals_int (m.type, QS_MSG_BUFFER);
    } else {
      /* a partial hello, header or payload is not an error */
      fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_NEED_MORE);
      fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_NEED_MORE);
    }
  }
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_NEED_MORE);
  qs_proto_parser_free (p);
  g_byte_array_unref (s);
}

GST_END_TEST;

static GByteArray *
hello_then (void)
{
  GByteArray *s = g_byte_array_new ();

  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  return s;
}

GST_START_TEST (test_bad_frames)
{
  static const guint bad_types[] = { 0, 8, 9, 0x42, 255 };
  GByteArray *s;
  guint8 zeros[64] = { 0, };
  guint8 header[QS_PROTO_FRAME_HEADER_SIZE];
  guint i;

  /* unknown types: refused from the header alone */
  for (i = 0; i < G_N_ELEMENTS (bad_types); i++) {
    gchar *needle = g_strdup_printf ("unknown type %u", bad_types[i]);

    s = hello_then ();
    qs_proto_write_frame_header (header, bad_types[i], 1000);
    g_byte_array_append (s, header, sizeof (header));
    expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_FRAME, needle);
    g_byte_array_unref (s);
    g_free (needle);
  }

  /* BUFFER shorter than its header */
  for (i = 0; i < QS_PROTO_BUFFER_HEADER_SIZE; i++) {
    s = hello_then ();
    append_frame (s, QS_MSG_BUFFER, zeros, i);
    expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_FRAME,
        "shorter than its 36-byte header");
    g_byte_array_unref (s);
  }
  /* ... refused before its payload arrives */
  s = hello_then ();
  qs_proto_write_frame_header (header, QS_MSG_BUFFER, 35);
  g_byte_array_append (s, header, sizeof (header));
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_FRAME, "BUFFER");
  g_byte_array_unref (s);

  /* AUTH: exactly 32 */
  s = hello_then ();
  append_frame (s, QS_MSG_AUTH, zeros, 31);
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_FRAME, "AUTH frame of 31");
  g_byte_array_unref (s);
  s = hello_then ();
  append_frame (s, QS_MSG_AUTH, zeros, 33);
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_FRAME, "AUTH frame of 33");
  g_byte_array_unref (s);

  /* AUTH only once, right after the HELLO */
  s = hello_then ();
  append_bytes (s, qs_proto_build_caps ("audio/x-raw"));
  append_frame (s, QS_MSG_AUTH, zeros, 32);
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_UNEXPECTED, "AUTH");
  g_byte_array_unref (s);
  s = hello_then ();
  append_frame (s, QS_MSG_AUTH, zeros, 32);
  append_frame (s, QS_MSG_AUTH, zeros, 32);
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_UNEXPECTED, "AUTH");
  g_byte_array_unref (s);

  /* HEARTBEAT: 0, 8 or 24 */
  for (i = 1; i < 32; i++) {
    if (i == 8 || i == 24)
      continue;
    s = hello_then ();
    append_frame (s, QS_MSG_HEARTBEAT, zeros, i);
    expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_FRAME, "HEARTBEAT");
    g_byte_array_unref (s);
  }

  /* EOS: empty */
  s = hello_then ();
  append_frame (s, QS_MSG_EOS, zeros, 1);
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_FRAME, "EOS");
  g_byte_array_unref (s);

  /* ERROR: code present, text bounded */
  s = hello_then ();
  append_frame (s, QS_MSG_ERROR, zeros, 3);
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_FRAME, "ERROR frame of 3");
  g_byte_array_unref (s);
  s = hello_then ();
  qs_proto_write_frame_header (header, QS_MSG_ERROR,
      QS_PROTO_ERROR_HEADER_SIZE + QS_PROTO_MAX_ERROR_TEXT + 1);
  g_byte_array_append (s, header, sizeof (header));
  expect_error (s->data, s->len, QS_PROTO_DEFAULT_MAX_FRAME_SIZE,
      QS_PROTO_ERR_BAD_FRAME, "ERROR text of 1025 bytes");
  g_byte_array_unref (s);
}

GST_END_TEST;

GST_START_TEST (test_bad_caps)
{
  GByteArray *s;
  guint8 header[QS_PROTO_FRAME_HEADER_SIZE];

  s = build_bad_caps ();
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_CAPS, "NUL");
  g_byte_array_unref (s);

  s = hello_then ();
  append_frame (s, QS_MSG_CAPS, "audio/x-raw\0", 12);
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_CAPS, "NUL");
  g_byte_array_unref (s);

  s = hello_then ();
  append_frame (s, QS_MSG_CAPS, "audio/x-raw, a=(string)\xc3\x28", 25);
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_CAPS, "not valid UTF-8");
  g_byte_array_unref (s);

  s = hello_then ();
  append_frame (s, QS_MSG_CAPS, "audio/\xe2\x82", 8);
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_CAPS, "UTF-8");
  g_byte_array_unref (s);

  s = hello_then ();
  append_frame (s, QS_MSG_CAPS, "", 0);
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_BAD_CAPS, "empty caps");
  g_byte_array_unref (s);

  /* too long: refused from the header, below max-frame-size */
  s = hello_then ();
  qs_proto_write_frame_header (header, QS_MSG_CAPS, QS_PROTO_MAX_CAPS_SIZE + 1);
  g_byte_array_append (s, header, sizeof (header));
  expect_error (s->data, s->len, QS_PROTO_DEFAULT_MAX_FRAME_SIZE,
      QS_PROTO_ERR_BAD_CAPS, "caps of 65537 bytes");
  g_byte_array_unref (s);
}

GST_END_TEST;

GST_START_TEST (test_sticky_error_and_reset)
{
  QsProtoParser *p = qs_proto_parser_new (0);
  GByteArray *good = build_recorded_stream ();
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  const gchar *msg, *msg2;
  gchar *first;
  QsMessage m;
  guint i;

  fail_unless_equals_int (qs_proto_parser_get_error (p, &msg), QS_PROTO_OK);

  qs_proto_parser_feed (p, (const guint8 *) "GET / HTTP/1.1\r\n", 16);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_ERROR);
  fail_unless_equals_int (qs_proto_parser_get_error (p, &msg),
      QS_PROTO_ERR_NOT_QSOUND);
  first = g_strdup (msg);

  /* valid bytes after the failure change nothing */
  for (i = 0; i < 3; i++) {
    qs_proto_parser_feed (p, good->data, good->len);
    fail_unless_equals_int (qs_proto_parser_pending (p), 0);
    fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_ERROR);
    fail_unless_equals_int (m.type, 0);
    fail_unless (m.payload == NULL);
    fail_unless_equals_int (qs_proto_parser_get_error (p, &msg2),
        QS_PROTO_ERR_NOT_QSOUND);
    fail_unless_equals_string (msg2, first);
  }

  /* reset: a new connection parses from scratch */
  qs_proto_parser_reset (p);
  fail_unless_equals_int (qs_proto_parser_get_error (p, &msg), QS_PROTO_OK);
  qs_proto_parser_feed (p, good->data, good->len);
  fail_unless_equals_int (pull_all (p, out), QS_PARSE_NEED_MORE);
  fail_unless_equals_int (out->len, 12);

  /* reset mid-frame forgets the partial frame and the sequence */
  qs_proto_parser_reset (p);
  qs_proto_parser_feed (p, good->data, 40);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_NEED_MORE);
  qs_proto_parser_reset (p);
  fail_unless_equals_int (qs_proto_parser_pending (p), 0);
  qs_proto_parser_feed (p, good->data, good->len);
  g_ptr_array_set_size (out, 0);
  fail_unless_equals_int (pull_all (p, out), QS_PARSE_NEED_MORE);
  fail_unless_equals_int (out->len, 12);
  fail_unless (strstr (g_ptr_array_index (out, 2), "seq=100 ") != NULL);
  fail_unless (strstr (g_ptr_array_index (out, 2), "gap=0 ") != NULL);

  g_free (first);
  g_ptr_array_unref (out);
  g_byte_array_unref (good);
  qs_proto_parser_free (p);
}

GST_END_TEST;

GST_START_TEST (test_sequence_gaps)
{
  static const struct
  {
    guint64 seq, gap;
  } expect[] = {
    {7, 0}, {8, 0}, {10, 1}, {9, 1}, {30, 20}, {31, 0}, {G_MAXUINT64, G_MAXUINT64 - 32},
    {0, 0},                     /* wraps */
  };
  GByteArray *s = build_seq_gaps ();
  QsProtoParser *p = qs_proto_parser_new (0);
  QsMessage m;
  guint i, n = 0, round;

  for (round = 0; round < 2; round++) {
    qs_proto_parser_feed (p, s->data, s->len);
    n = 0;
    while (qs_proto_parser_next (p, &m) == QS_PARSE_MESSAGE) {
      if (m.type != QS_MSG_BUFFER)
        continue;
      fail_unless (n < G_N_ELEMENTS (expect));
      fail_unless_equals_uint64 (m.seq, expect[n].seq);
      fail_unless_equals_uint64 (m.seq_gap, expect[n].gap);
      fail_unless_equals_int (m.payload_len, 16 * n);
      n++;
    }
    fail_unless_equals_int (n, G_N_ELEMENTS (expect));
    /* the first buffer after a reset has no gap, whatever came before */
    qs_proto_parser_reset (p);
  }

  /* a large jump */
  g_byte_array_set_size (s, 0);
  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  append_buffer (s, 1000, 0, 0, 0, 0, 0);
  append_buffer (s, 1001, 0, 0, 0, 0, 0);
  append_buffer (s, 1500, 0, 0, 0, 0, 0);
  append_buffer (s, 1000, 0, 0, 0, 0, 0);
  append_buffer (s, 1001, 0, 0, 0, 0, 0);
  qs_proto_parser_feed (p, s->data, s->len);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  {
    static const guint64 gaps[] = { 0, 0, 498, 1, 0 };
    for (i = 0; i < G_N_ELEMENTS (gaps); i++) {
      fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
      fail_unless_equals_uint64 (m.seq_gap, gaps[i]);
    }
  }
  qs_proto_parser_free (p);
  g_byte_array_unref (s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* keys and sealing                                                         */

static const guint8 test_key[QS_PROTO_KEY_SIZE] = {
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
  0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f
};

static gchar *
to_hex (const guint8 * d, gsize len)
{
  GString *h = g_string_new (NULL);
  gsize i;

  for (i = 0; i < len; i++)
    g_string_append_printf (h, "%02x", d[i]);
  return g_string_free (h, FALSE);
}

GST_START_TEST (test_key_stretch)
{
  guint8 a[QS_PROTO_KEY_SIZE], b[QS_PROTO_KEY_SIZE], c[QS_PROTO_KEY_SIZE];
  guint8 d[QS_PROTO_KEY_SIZE];
  gchar *hex;

  fail_unless (qs_proto_key_stretch ("secret", a));
  fail_unless (qs_proto_key_stretch ("secret", b));
  fail_unless (qs_proto_key_stretch ("secreT", c));
  fail_unless (memcmp (a, b, sizeof (a)) == 0);
  fail_if (memcmp (a, c, sizeof (a)) == 0);
  /* the construction docs/PROTOCOL.md gives, by libsodium's own call */
  fail_unless (crypto_pwhash (d, sizeof (d), "secret", 6,
          (const guint8 *) "qsound-v2-argon2", 2, 64 * 1024 * 1024,
          crypto_pwhash_ALG_ARGON2ID13) == 0);
  fail_unless (memcmp (a, d, sizeof (a)) == 0);
  /* and the value printed there */
  hex = to_hex (a, sizeof (a));
  fail_unless_equals_string (hex,
      "06c818e8614e12407e46ffc83413bb82dc5f922305e5d27a6e47b28e503f4ea6");
  g_free (hex);
}

GST_END_TEST;

GST_START_TEST (test_session_keys)
{
  guint8 hc[QS_PROTO_HELLO_SIZE], hl[QS_PROTO_HELLO_SIZE];
  guint8 other_key[QS_PROTO_KEY_SIZE];
  QsProtoSession s, again, swapped, other, changed;
  guint8 msg[9 + 1 + 64], out[32];
  const guint8 *parts[4];
  guint i;

  qs_proto_write_hello (hc, QS_ROLE_SENDER, QS_HELLO_FLAG_KEY, nonce_a);
  qs_proto_write_hello (hl, QS_ROLE_RECEIVER, QS_HELLO_FLAG_KEY, nonce_b);
  qs_proto_session_derive (test_key, hc, hl, &s);
  qs_proto_session_derive (test_key, hc, hl, &again);
  fail_unless (memcmp (&s, &again, sizeof (s)) == 0);

  /* four different values */
  parts[0] = s.proof_connector;
  parts[1] = s.proof_listener;
  parts[2] = s.key_connector;
  parts[3] = s.key_listener;
  for (i = 0; i < 4; i++) {
    guint j;

    for (j = i + 1; j < 4; j++)
      fail_if (memcmp (parts[i], parts[j], 32) == 0);
  }

  /* which end listened is bound: swapping the HELLOs changes everything */
  qs_proto_session_derive (test_key, hl, hc, &swapped);
  fail_if (qs_proto_proof_equal (s.proof_connector, swapped.proof_connector));
  fail_if (qs_proto_proof_equal (s.proof_listener, swapped.proof_listener));
  fail_if (memcmp (s.key_connector, swapped.key_connector, 32) == 0);
  /* a proof is never the other direction's proof */
  fail_if (qs_proto_proof_equal (s.proof_connector, swapped.proof_listener));

  /* another key */
  memcpy (other_key, test_key, sizeof (other_key));
  other_key[31] ^= 1;
  qs_proto_session_derive (other_key, hc, hl, &other);
  fail_if (qs_proto_proof_equal (s.proof_connector, other.proof_connector));

  /* every byte of both HELLOs is bound (roles, flags, nonces, reserved) */
  for (i = 0; i < 2 * QS_PROTO_HELLO_SIZE; i++) {
    guint8 c[QS_PROTO_HELLO_SIZE], l[QS_PROTO_HELLO_SIZE];

    memcpy (c, hc, sizeof (c));
    memcpy (l, hl, sizeof (l));
    if (i < QS_PROTO_HELLO_SIZE)
      c[i] ^= 0x80;
    else
      l[i - QS_PROTO_HELLO_SIZE] ^= 0x80;
    qs_proto_session_derive (test_key, c, l, &changed);
    fail_if (qs_proto_proof_equal (s.proof_connector, changed.proof_connector));
    fail_if (qs_proto_proof_equal (s.proof_listener, changed.proof_listener));
  }

  /* the construction docs/PROTOCOL.md gives: keyed BLAKE2b-256 over
   * "qsound-v2" || purpose || HELLO of the connecting end || of the listening end */
  memcpy (msg, "qsound-v2", 9);
  memcpy (msg + 10, hc, 32);
  memcpy (msg + 42, hl, 32);
  for (i = 1; i <= 4; i++) {
    msg[9] = i;
    crypto_generichash (out, 32, msg, sizeof (msg), test_key, 32);
    fail_unless (memcmp (out, parts[i - 1], 32) == 0, "purpose %u", i);
  }

  /* constant-time comparison is still a comparison */
  fail_unless (qs_proto_proof_equal (s.proof_connector, again.proof_connector));
  for (i = 0; i < 32 * 8; i++) {
    guint8 bad[32];

    memcpy (bad, s.proof_connector, 32);
    bad[i / 8] ^= 1u << (i % 8);
    fail_if (qs_proto_proof_equal (s.proof_connector, bad));
  }
}

GST_END_TEST;

/* A clear stream of frames (after a HELLO) and the same frames sealed. */
static void
build_sealed_pair (GByteArray * clear, GByteArray * sealed,
    GArray * frame_offsets)
{
  QsProtoSeal *seal = qs_proto_seal_new (test_key,
      QS_PROTO_CIPHER_CHACHA20_POLY1305);
  GByteArray *frames = g_byte_array_new ();
  gsize off = 0;

  append_hello (clear, QS_ROLE_SENDER, QS_HELLO_FLAG_KEY, nonce_a);
  append_hello (sealed, QS_ROLE_SENDER, QS_HELLO_FLAG_KEY, nonce_a);
  append_bytes (frames, qs_proto_build_caps ("audio/x-opus, rate=(int)48000, "
          "channels=(int)2"));
  append_buffer (frames, 5, 0, QS_PROTO_TIME_NONE, 5000000,
      QS_BUF_FLAG_DISCONT, 120);
  append_buffer (frames, 6, 5000000, QS_PROTO_TIME_NONE, 5000000, 0, 0);
  append_bytes (frames, qs_proto_build_heartbeat (42));
  append_buffer (frames, 8, 15000000, QS_PROTO_TIME_NONE, 5000000, 0, 3000);
  append_bytes (frames, qs_proto_build_error (QS_PROTO_ERR_PEER, "bye"));
  append_bytes (frames, qs_proto_build_eos ());
  g_byte_array_append (clear, frames->data, frames->len);

  while (off < frames->len) {
    guint32 len = GST_READ_UINT32_BE (frames->data + off + 4);
    gsize out_len;
    const guint8 *out;

    out = qs_proto_seal_frame (seal, frames->data + off, 8,
        frames->data + off + 8, len, &out_len);
    fail_unless_equals_int (out_len, 8 + len + 8 + 16);
    fail_unless_equals_int (out[0], QS_MSG_SEALED);
    /* nothing of the frame is left in clear */
    fail_if (memcmp (out + 8, frames->data + off, 8 + MIN (len, 8)) == 0);
    if (frame_offsets)
      g_array_append_val (frame_offsets, sealed->len);
    g_byte_array_append (sealed, out, out_len);
    off += 8 + len;
  }
  g_byte_array_unref (frames);
  qs_proto_seal_free (seal);
}

static QsProtoParser *
sealed_parser (const guint8 * hello)
{
  QsProtoParser *p = qs_proto_parser_new (QS_PROTO_DEFAULT_MAX_FRAME_SIZE);
  QsMessage m;

  qs_proto_parser_feed (p, hello, QS_PROTO_HELLO_SIZE);
  fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
  qs_proto_parser_set_open_key (p, test_key,
      QS_PROTO_CIPHER_CHACHA20_POLY1305);
  return p;
}

/* AES-256-GCM when both HELLOs say so, else ChaCha20-Poly1305; a frame
 * sealed with one does not open with the other. */
GST_START_TEST (test_seal_cipher_choice)
{
  const guint8 both = QS_HELLO_FLAG_KEY | QS_HELLO_FLAG_AES256GCM;
  const QsProtoCipher ciphers[] = { QS_PROTO_CIPHER_CHACHA20_POLY1305,
    QS_PROTO_CIPHER_AES256_GCM
  };
  guint i, j, n = qs_proto_aes256gcm_available ()? 2 : 1;

  fail_unless_equals_int (qs_proto_cipher_for (both, both),
      QS_PROTO_CIPHER_AES256_GCM);
  fail_unless_equals_int (qs_proto_cipher_for (both, QS_HELLO_FLAG_KEY),
      QS_PROTO_CIPHER_CHACHA20_POLY1305);
  fail_unless_equals_int (qs_proto_cipher_for (QS_HELLO_FLAG_KEY, both),
      QS_PROTO_CIPHER_CHACHA20_POLY1305);
  if (n == 1)
    g_print ("no AES-256-GCM on this CPU: only ChaCha20-Poly1305 checked\n");
  for (i = 0; i < n; i++) {
    QsProtoSeal *seal = qs_proto_seal_new (test_key, ciphers[i]);
    GBytes *eos = qs_proto_build_eos ();
    gsize len, out_len;
    const guint8 *f = g_bytes_get_data (eos, &len);
    const guint8 *out = qs_proto_seal_frame (seal, f, 8, f + 8, len - 8,
        &out_len);

    for (j = 0; j < n; j++) {
      guint8 hello[QS_PROTO_HELLO_SIZE];
      QsProtoParser *p = qs_proto_parser_new (QS_PROTO_DEFAULT_MAX_FRAME_SIZE);
      QsMessage m;

      qs_proto_write_hello (hello, QS_ROLE_SENDER, both, nonce_a);
      qs_proto_parser_feed (p, hello, sizeof (hello));
      fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
      fail_unless_equals_int (m.hello_flags, both);
      qs_proto_parser_set_open_key (p, test_key, ciphers[j]);
      qs_proto_parser_feed (p, out, out_len);
      if (i == j) {
        fail_unless_equals_int (qs_proto_parser_next (p, &m),
            QS_PARSE_MESSAGE);
        fail_unless_equals_int (m.type, QS_MSG_EOS);
      } else {
        fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_ERROR);
      }
      qs_proto_parser_free (p);
    }
    g_bytes_unref (eos);
    qs_proto_seal_free (seal);
  }
}

GST_END_TEST;

GST_START_TEST (test_seal_roundtrip)
{
  GByteArray *clear = g_byte_array_new (), *sealed = g_byte_array_new ();
  GPtrArray *ref = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *got;
  QsParseResult r;
  QsProtoParser *p;
  gsize piece;

  build_sealed_pair (clear, sealed, NULL);
  p = parse_all (clear->data, clear->len, QS_PROTO_DEFAULT_MAX_FRAME_SIZE,
      ref, &r);
  fail_unless_equals_int (r, QS_PARSE_NEED_MORE);
  fail_unless_equals_int (ref->len, 8);
  qs_proto_parser_free (p);

  /* the same messages, whatever the pieces the sealed stream comes in */
  for (piece = 1; piece <= 97; piece += 6) {
    gsize off = QS_PROTO_HELLO_SIZE;
    guint j;

    p = sealed_parser (sealed->data);
    got = g_ptr_array_new_with_free_func (g_free);
    g_ptr_array_add (got, g_strdup (g_ptr_array_index (ref, 0)));
    while (off < sealed->len) {
      gsize n = MIN (piece, sealed->len - off);

      qs_proto_parser_feed (p, sealed->data + off, n);
      off += n;
      fail_unless (pull_all (p, got) == QS_PARSE_NEED_MORE);
    }
    fail_unless_equals_int (got->len, ref->len);
    for (j = 0; j < ref->len; j++)
      fail_unless_equals_string (g_ptr_array_index (got, j),
          g_ptr_array_index (ref, j));
    fail_unless_equals_int (qs_proto_parser_pending (p), 0);
    g_ptr_array_unref (got);
    qs_proto_parser_free (p);
  }

  g_ptr_array_unref (ref);
  g_byte_array_unref (clear);
  g_byte_array_unref (sealed);
}

GST_END_TEST;

/* Parses a sealed stream; returns how many messages came out after the HELLO. */
static guint
parse_sealed (const guint8 * data, gsize len, QsParseResult * last,
    QsProtoError * code, const gchar ** text, QsProtoParser ** keep)
{
  QsProtoParser *p = sealed_parser (data);
  GPtrArray *got = g_ptr_array_new_with_free_func (g_free);
  guint n;

  qs_proto_parser_feed (p, data + QS_PROTO_HELLO_SIZE,
      len - QS_PROTO_HELLO_SIZE);
  *last = pull_all (p, got);
  *code = qs_proto_parser_get_error (p, text);
  n = got->len;
  g_ptr_array_unref (got);
  *keep = p;
  return n;
}

GST_START_TEST (test_seal_refuses_alterations)
{
  GByteArray *clear = g_byte_array_new (), *sealed = g_byte_array_new ();
  GArray *offs = g_array_new (FALSE, FALSE, sizeof (guint));
  QsParseResult r;
  QsProtoError code;
  const gchar *text;
  QsProtoParser *p;
  GByteArray *s;
  guint i, n, f;

  build_sealed_pair (clear, sealed, offs);
  g_array_append_val (offs, sealed->len);

  /* any single flipped bit: nothing from that frame on comes out, and the
   * error says the stream was altered (or, for a length bit, that the frame
   * is too large or still incomplete) */
  for (i = QS_PROTO_HELLO_SIZE; i < sealed->len; i++) {
    guint bit = i % 8;

    for (f = 0; g_array_index (offs, guint, f + 1) <= i; f++);
    sealed->data[i] ^= 1u << bit;
    n = parse_sealed (sealed->data, sealed->len, &r, &code, &text, &p);
    sealed->data[i] ^= 1u << bit;
    fail_unless (n <= f, "byte %u: %u messages, frame %u", i, n, f);
    if (r == QS_PARSE_ERROR) {
      fail_unless (code == QS_PROTO_ERR_ALTERED
          || code == QS_PROTO_ERR_FRAME_TOO_LARGE, "byte %u: %s", i, text);
      if (code == QS_PROTO_ERR_ALTERED)
        fail_unless (g_str_has_prefix (text,
                "the stream was altered in transit"));
    } else {
      fail_unless_equals_int (r, QS_PARSE_NEED_MORE);
      fail_unless (qs_proto_parser_pending (p) > 0);
    }
    qs_proto_parser_free (p);
  }

  /* a frame dropped, or two swapped: the count no longer fits */
  s = g_byte_array_new ();
  g_byte_array_append (s, sealed->data, g_array_index (offs, guint, 1));
  g_byte_array_append (s, sealed->data + g_array_index (offs, guint, 2),
      sealed->len - g_array_index (offs, guint, 2));
  n = parse_sealed (s->data, s->len, &r, &code, &text, &p);
  fail_unless_equals_int (n, 1);
  fail_unless_equals_int (code, QS_PROTO_ERR_ALTERED);
  qs_proto_parser_free (p);
  g_byte_array_unref (s);

  s = g_byte_array_new ();
  g_byte_array_append (s, sealed->data, g_array_index (offs, guint, 1));
  g_byte_array_append (s, sealed->data + g_array_index (offs, guint, 2),
      g_array_index (offs, guint, 3) - g_array_index (offs, guint, 2));
  g_byte_array_append (s, sealed->data + g_array_index (offs, guint, 1),
      g_array_index (offs, guint, 2) - g_array_index (offs, guint, 1));
  n = parse_sealed (s->data, s->len, &r, &code, &text, &p);
  fail_unless_equals_int (n, 1);
  fail_unless_equals_int (code, QS_PROTO_ERR_ALTERED);
  qs_proto_parser_free (p);
  g_byte_array_unref (s);

  /* a frame in clear where sealed ones are due (a forged EOS, say) */
  s = g_byte_array_new ();
  g_byte_array_append (s, sealed->data, g_array_index (offs, guint, 2));
  append_bytes (s, qs_proto_build_eos ());
  n = parse_sealed (s->data, s->len, &r, &code, &text, &p);
  fail_unless_equals_int (n, 2);
  fail_unless_equals_int (code, QS_PROTO_ERR_ALTERED);
  fail_unless (strstr (text, "came in clear") != NULL);
  qs_proto_parser_free (p);
  g_byte_array_unref (s);

  /* the other direction's key, or the right key from another connection */
  p = qs_proto_parser_new (0);
  qs_proto_parser_feed (p, sealed->data, sealed->len);
  {
    QsMessage m;
    guint8 wrong[QS_PROTO_KEY_SIZE];

    fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_MESSAGE);
    memcpy (wrong, test_key, sizeof (wrong));
    wrong[0] ^= 0x01;
    qs_proto_parser_set_open_key (p, wrong,
      QS_PROTO_CIPHER_CHACHA20_POLY1305);
    fail_unless_equals_int (qs_proto_parser_next (p, &m), QS_PARSE_ERROR);
    fail_unless_equals_int (qs_proto_parser_get_error (p, NULL),
        QS_PROTO_ERR_ALTERED);
  }
  qs_proto_parser_free (p);

  /* a SEALED frame where no key was agreed */
  s = g_byte_array_new ();
  append_hello (s, QS_ROLE_SENDER, 0, nonce_a);
  g_byte_array_append (s, sealed->data + QS_PROTO_HELLO_SIZE, 40);
  expect_error (s->data, s->len, 0, QS_PROTO_ERR_UNEXPECTED, "SEALED");
  g_byte_array_unref (s);

  /* an AUTH inside the sealed stream */
  {
    QsProtoSeal *seal = qs_proto_seal_new (test_key,
      QS_PROTO_CIPHER_CHACHA20_POLY1305);
    GBytes *auth = qs_proto_build_auth (test_key);
    gsize out_len;
    const guint8 *out = qs_proto_seal_frame (seal, g_bytes_get_data (auth,
            NULL), g_bytes_get_size (auth), NULL, 0, &out_len);

    s = g_byte_array_new ();
    append_hello (s, QS_ROLE_SENDER, QS_HELLO_FLAG_KEY, nonce_a);
    g_byte_array_append (s, out, out_len);
    n = parse_sealed (s->data, s->len, &r, &code, &text, &p);
    fail_unless_equals_int (n, 0);
    fail_unless_equals_int (code, QS_PROTO_ERR_UNEXPECTED);
    qs_proto_parser_free (p);
    g_byte_array_unref (s);
    g_bytes_unref (auth);
    qs_proto_seal_free (seal);
  }

  /* a sealed length beyond max-frame-size is refused from its header */
  s = g_byte_array_new ();
  append_hello (s, QS_ROLE_SENDER, QS_HELLO_FLAG_KEY, nonce_a);
  append_frame (s, QS_MSG_SEALED, NULL, 0);
  s->data[s->len - 4] = 0x7f;
  n = parse_sealed (s->data, s->len, &r, &code, &text, &p);
  fail_unless_equals_int (code, QS_PROTO_ERR_FRAME_TOO_LARGE);
  qs_proto_parser_free (p);
  g_byte_array_unref (s);

  g_array_unref (offs);
  g_byte_array_unref (clear);
  g_byte_array_unref (sealed);
}

GST_END_TEST;

GST_START_TEST (test_random_nonce)
{
  guint8 a[QS_PROTO_NONCE_SIZE], b[QS_PROTO_NONCE_SIZE];
  guint8 zero[QS_PROTO_NONCE_SIZE] = { 0, };

  qs_proto_random_nonce (a);
  qs_proto_random_nonce (b);
  fail_unless (memcmp (a, b, sizeof (a)) != 0);
  fail_unless (memcmp (a, zero, sizeof (a)) != 0);
}

GST_END_TEST;

GST_START_TEST (test_error_strings)
{
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
  guint i;

  for (i = QS_PROTO_OK; i <= QS_PROTO_ERR_ALTERED; i++) {
    const gchar *s = qs_proto_error_to_string (i);

    fail_unless (s != NULL && *s != '\0');
    fail_if (g_hash_table_contains (seen, s), "duplicate string for %u", i);
    fail_if (strcmp (s, "unknown error") == 0, "code %u has no string", i);
    g_hash_table_add (seen, (gpointer) s);
  }
  fail_unless_equals_string (qs_proto_error_to_string (QS_PROTO_ERR_AUTH),
      "authentication failed");
  fail_unless_equals_string (qs_proto_error_to_string (99), "unknown error");
  g_hash_table_unref (seen);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* docs/PROTOCOL.md: the annotated example session is real                  */

/* Appends the leading two-digit hex tokens of an indented line. */
static void
parse_hex_line (const gchar * line, GByteArray * out)
{
  gchar **tok = g_strsplit_set (line, " ", -1);
  guint i;

  for (i = 0; tok[i]; i++) {
    if (*tok[i] == '\0')
      continue;
    if (strlen (tok[i]) != 2 || !g_ascii_isxdigit (tok[i][0]) ||
        !g_ascii_isxdigit (tok[i][1]))
      break;
    g_byte_array_append (out, (guint8[]) {
        (guint8) g_ascii_strtoull (tok[i], NULL, 16)}, 1);
  }
  g_strfreev (tok);
}

static void
pull_n (QsProtoParser * p, QsMessage * m, guint n, const QsMsgType * types)
{
  guint i;

  for (i = 0; i < n; i++) {
    fail_unless_equals_int (qs_proto_parser_next (p, &m[i]), QS_PARSE_MESSAGE);
    fail_unless_equals_int (m[i].type, types[i]);
  }
}

/* Checks one example session of docs/PROTOCOL.md, section (its text up
 * to the next one): its HELLOs carry flags, its frames are sealed with
 * cipher; with_refusal: it ends with the ERROR sent had the keys
 * differed. */
static void
check_doc_example (const gchar * section, guint8 flags, QsProtoCipher cipher,
    gboolean with_refusal)
{
  static const QsMsgType hello_auth[] = { QS_MSG_HELLO, QS_MSG_AUTH };
  static const QsMsgType s_types[] = { QS_MSG_CAPS, QS_MSG_BUFFER, QS_MSG_EOS };
  static const QsMsgType r_types[] = { QS_MSG_HEARTBEAT };
  static const QsMsgType x_types[] = { QS_MSG_HELLO, QS_MSG_ERROR };
  gchar **lines;
  GByteArray *s_bytes = g_byte_array_new (), *r_bytes = g_byte_array_new ();
  GByteArray *x_bytes = g_byte_array_new ();
  GByteArray *cur = NULL;
  QsProtoParser *ps = qs_proto_parser_new (0), *pr = qs_proto_parser_new (0);
  QsProtoParser *px = qs_proto_parser_new (0);
  QsMessage sm[4], rm[4], xm[2], m;
  guint8 hello_s[QS_PROTO_HELLO_SIZE], hello_r[QS_PROTO_HELLO_SIZE];
  guint8 k[QS_PROTO_KEY_SIZE];
  QsProtoSession session;
  gboolean para_start = TRUE;
  guint i;

  lines = g_strsplit (section, "\n", -1);
  /* the first line of each paragraph says whose bytes the block after it holds */
  for (i = 0; lines[i]; i++) {
    gchar *lower;

    if (g_str_has_prefix (lines[i], "    ")) {
      if (cur)
        parse_hex_line (lines[i], cur);
      para_start = TRUE;
      continue;
    }
    if (*lines[i] == '\0') {
      para_start = TRUE;
      continue;
    }
    if (!para_start)
      continue;
    para_start = FALSE;
    lower = g_ascii_strdown (lines[i], -1);
    if (strstr (lower, "had the keys differed"))
      cur = x_bytes;
    else if (strstr (lower, "sender → receiver"))
      cur = s_bytes;
    else if (strstr (lower, "receiver → sender"))
      cur = r_bytes;
    else
      cur = NULL;
    g_free (lower);
  }

  qs_proto_parser_feed (ps, s_bytes->data, s_bytes->len);
  pull_n (ps, sm, 2, hello_auth);
  qs_proto_parser_feed (pr, r_bytes->data, r_bytes->len);
  pull_n (pr, rm, 2, hello_auth);
  memcpy (hello_s, sm[0].payload, sizeof (hello_s));
  memcpy (hello_r, rm[0].payload, sizeof (hello_r));
  fail_unless_equals_int (sm[0].role, QS_ROLE_SENDER);
  fail_unless_equals_int (sm[0].hello_flags, flags);
  fail_unless_equals_int (rm[0].role, QS_ROLE_RECEIVER);
  fail_unless_equals_int (rm[0].hello_flags, flags);
  fail_unless_equals_int (qs_proto_cipher_for (sm[0].hello_flags,
          rm[0].hello_flags), cipher);

  /* the receiver connected: its HELLO first */
  fail_unless (qs_proto_key_stretch ("secret", k));
  qs_proto_session_derive (k, hello_r, hello_s, &session);
  fail_unless (qs_proto_proof_equal (rm[1].payload, session.proof_connector));
  fail_unless (qs_proto_proof_equal (sm[1].payload, session.proof_listener));
  qs_proto_parser_set_open_key (ps, session.key_listener, cipher);
  qs_proto_parser_set_open_key (pr, session.key_connector, cipher);
  pull_n (ps, sm, 3, s_types);
  fail_unless_equals_int (qs_proto_parser_next (ps, &m), QS_PARSE_NEED_MORE);
  fail_unless_equals_int (qs_proto_parser_pending (ps), 0);
  pull_n (pr, rm, 1, r_types);
  fail_unless_equals_int (qs_proto_parser_next (pr, &m), QS_PARSE_NEED_MORE);
  fail_unless_equals_int (qs_proto_parser_pending (pr), 0);

  fail_unless_equals_string (sm[0].text,
      "audio/x-opus, rate=(int)48000, channels=(int)2");
  fail_unless_equals_uint64 (sm[1].seq, 7);
  fail_unless_equals_uint64 (sm[1].pts, 20000000);
  fail_unless_equals_uint64 (sm[1].dts, QS_PROTO_TIME_NONE);
  fail_unless_equals_uint64 (sm[1].duration, 20000000);
  fail_unless_equals_int (sm[1].buffer_flags, QS_BUF_FLAG_DISCONT);
  fail_unless_equals_int (sm[1].payload_len, 3);
  fail_unless (memcmp (sm[1].payload, "\xaa\xbb\xcc", 3) == 0);
  fail_unless_equals_uint64 (rm[0].pts, 1500000000);

  /* the refusal, after the sender's HELLO */
  fail_unless_equals_int (x_bytes->len > 0, with_refusal);
  if (with_refusal) {
    qs_proto_parser_feed (px, hello_s, sizeof (hello_s));
    qs_proto_parser_feed (px, x_bytes->data, x_bytes->len);
    pull_n (px, xm, 2, x_types);
    fail_unless_equals_int (xm[1].error_code, QS_PROTO_ERR_AUTH);
    fail_unless_equals_string (xm[1].text, "Authentication failed");
  }

  g_strfreev (lines);
  g_byte_array_unref (s_bytes);
  g_byte_array_unref (r_bytes);
  g_byte_array_unref (x_bytes);
  qs_proto_parser_free (ps);
  qs_proto_parser_free (pr);
  qs_proto_parser_free (px);
}

GST_START_TEST (test_protocol_doc_example)
{
  const gchar *root = g_getenv ("QSOUND_SOURCE_ROOT");
  const gchar *aes_title = "\n### The same session with AES-256-GCM";
  gchar *path, *doc, *section, *aes;

  fail_unless (root != NULL);
  path = g_build_filename (root, "docs", "PROTOCOL.md", NULL);
  fail_unless (g_file_get_contents (path, &doc, NULL, NULL), "cannot read %s",
      path);
  section = strstr (doc, "\n## Example session");
  fail_unless (section != NULL);
  aes = strstr (section, aes_title);
  fail_unless (aes != NULL, "no section '%s'", aes_title + 1);
  *aes = '\0';
  aes++;

  /* ChaCha20-Poly1305: the HELLOs say KEY only */
  check_doc_example (section, QS_HELLO_FLAG_KEY,
      QS_PROTO_CIPHER_CHACHA20_POLY1305, TRUE);
  /* AES-256-GCM: libsodium has it only with AES-NI and CLMUL */
  if (qs_proto_aes256gcm_available ())
    check_doc_example (aes, QS_HELLO_FLAG_KEY | QS_HELLO_FLAG_AES256GCM,
        QS_PROTO_CIPHER_AES256_GCM, FALSE);
  else
    g_printerr ("proto: this CPU cannot do AES-256-GCM; the AES example "
        "session of docs/PROTOCOL.md is not checked\n");

  g_free (doc);
  g_free (path);
}

GST_END_TEST;

static Suite *
proto_suite (void)
{
  Suite *s = suite_create ("proto");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_fixtures_match_writers);
  tcase_add_test (tc, test_hello_roundtrip);
  tcase_add_test (tc, test_frame_layout);
  tcase_add_test (tc, test_buffer_roundtrip);
  tcase_add_test (tc, test_other_frames_roundtrip);
  tcase_add_test (tc, test_reserved_header_bytes_ignored);
  tcase_add_test (tc, test_recorded_stream_splits);
  tcase_add_test (tc, test_bounded_buffering);
  tcase_add_test (tc, test_not_qsound);
  tcase_add_test (tc, test_version_mismatch);
  tcase_add_test (tc, test_oversized_frame);
  tcase_add_test (tc, test_truncated_is_need_more);
  tcase_add_test (tc, test_bad_frames);
  tcase_add_test (tc, test_bad_caps);
  tcase_add_test (tc, test_sticky_error_and_reset);
  tcase_add_test (tc, test_sequence_gaps);
  tcase_add_test (tc, test_key_stretch);
  tcase_add_test (tc, test_session_keys);
  tcase_add_test (tc, test_seal_roundtrip);
  tcase_add_test (tc, test_seal_cipher_choice);
  tcase_add_test (tc, test_seal_refuses_alterations);
  tcase_add_test (tc, test_random_nonce);
  tcase_add_test (tc, test_error_strings);
  tcase_add_test (tc, test_protocol_doc_example);
  return s;
}

GST_CHECK_MAIN (proto);
