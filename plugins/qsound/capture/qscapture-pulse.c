/* qsound — PulseAudio / PipeWire (pulse protocol) capture backend.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Records the monitor source of a sink (the sound that output is playing),
 * or a source named by device (an input such as a microphone, or a monitor
 * named itself), with libpulse's asynchronous API.  pa_threaded_mainloop runs its own
 * thread; every callback below runs there.  The read callback only copies
 * what the server delivers into the ring (principle 1: capture never waits),
 * so a consumer that falls behind costs nothing here; the ring counts what
 * it has to overwrite.
 *
 * Wall-clock gaps: while the stream cannot deliver (the source is
 * suspended, or we are moving to a new default output) a 10 ms timer writes
 * silence on the system clock, so that frames captured + frames filled keep
 * up with the time that passed; the first frame after a gap is marked
 * DISCONT.  Holes the server reports in the stream are filled the same way.
 *
 * Following the default: with no device given we subscribe to server
 * events; when the default sink changes we disconnect from the old monitor
 * and connect to the new one (same sample spec: the server converts if the
 * new sink's native format differs, so the consumer's format never changes
 * under it).
 *
 * Losing the server: the silence timer keeps the timeline going while a
 * fresh context tries to connect every 0.5 s; back on, we capture the same
 * output (or the new default) again.  After 10 s without a server the
 * reader gets an error naming the cause.
 *
 * Plain C: no GLib or GStreamer types (see qscapture.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qscapture-private.h"

#include <pulse/pulseaudio.h>
#include <pulse/rtclock.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QS_PULSE_RING_SECONDS 2         /* what a held-up consumer may lag */
#define QS_PULSE_FRAGMENT_USEC 5000     /* one read period */
#define QS_PULSE_NAME_LEN 256
#define QS_PULSE_RECONNECT_USEC 500000          /* between attempts */
#define QS_PULSE_RECONNECT_GIVE_UP_USEC 10000000 /* then it is an error */

typedef struct
{
  QsCapture *cap;
  pa_threaded_mainloop *ml;
  pa_context *ctx;
  pa_stream *stream;                    /* the current record stream */

  pa_sample_spec spec;
  pa_channel_map map;
  size_t bpf;

  int follow_default;                   /* device was empty */
  int opened;                           /* open completed; errors go to the ring */
  int closing;
  char sink[QS_PULSE_NAME_LEN];         /* output captured ("play") */
  char want_sink[QS_PULSE_NAME_LEN];    /* output we are switching to */
  char source_fixed[QS_PULSE_NAME_LEN]; /* device named a source: a monitor
                                         * or an input, captured directly */

  /* reconnecting after the server went away, all in the mainloop thread */
  int reconnecting;
  int ctx_connecting;                   /* a new context is connecting */
  int resolving;                        /* looking up what to capture */
  pa_usec_t reconnect_deadline;
  pa_time_event *reconnect_timer;
  pa_context *dead_ctx;                 /* unref'd outside its callbacks */
  pa_stream *dead_stream;

  /* wall-clock gap filling, all in the mainloop thread */
  int in_gap;
  pa_usec_t gap_anchor;                 /* time of the last data before the gap */
  uint64_t gap_filled;                  /* silence frames written in this gap */
  pa_time_event *gap_timer;
  pa_usec_t last_data;                  /* arrival time of the last data */
  unsigned next_flags;                  /* flags for the next ring write */

  /* open-time lookups */
  char found_monitor[QS_PULSE_NAME_LEN];
  char found_name[QS_PULSE_NAME_LEN];
  int found;
  char sink_list[512];
  char source_list[512];                /* the inputs (no monitors) */
  pa_sample_spec found_spec;
  pa_channel_map found_map;
} QsPulse;

static void qs_pulse_err (char *err, size_t errlen, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
qs_pulse_err (char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  if (!err || errlen == 0)
    return;
  va_start (ap, fmt);
  vsnprintf (err, errlen, fmt, ap);
  va_end (ap);
}

/* Where libpulse looks for a server when none is reachable, for the error
 * message: PULSE_SERVER if set, else the per-user and the system socket. */
static void
qs_pulse_describe_server (char *buf, size_t len)
{
  const char *env = getenv ("PULSE_SERVER");
  const char *rt = getenv ("PULSE_RUNTIME_PATH");
  const char *xdg = getenv ("XDG_RUNTIME_DIR");

  if (env && *env)
    snprintf (buf, len, "PULSE_SERVER=%s", env);
  else if (rt && *rt)
    snprintf (buf, len, "%s/native and /var/run/pulse/native", rt);
  else if (xdg && *xdg)
    snprintf (buf, len, "%s/pulse/native and /var/run/pulse/native", xdg);
  else
    snprintf (buf, len, "~/.config/pulse/<machine-id>-runtime/native and "
        "/var/run/pulse/native (XDG_RUNTIME_DIR is not set)");
}

/* ---- channel layout ---------------------------------------------------- */

static uint64_t
qs_pulse_position_bit (pa_channel_position_t pos)
{
  switch (pos) {
    case PA_CHANNEL_POSITION_FRONT_LEFT: return 0x1;
    case PA_CHANNEL_POSITION_FRONT_RIGHT: return 0x2;
    case PA_CHANNEL_POSITION_FRONT_CENTER: return 0x4;
    case PA_CHANNEL_POSITION_LFE: return 0x8;
    case PA_CHANNEL_POSITION_REAR_LEFT: return 0x10;
    case PA_CHANNEL_POSITION_REAR_RIGHT: return 0x20;
    case PA_CHANNEL_POSITION_FRONT_LEFT_OF_CENTER: return 0x40;
    case PA_CHANNEL_POSITION_FRONT_RIGHT_OF_CENTER: return 0x80;
    case PA_CHANNEL_POSITION_REAR_CENTER: return 0x100;
    case PA_CHANNEL_POSITION_SIDE_LEFT: return 0x200;
    case PA_CHANNEL_POSITION_SIDE_RIGHT: return 0x400;
    case PA_CHANNEL_POSITION_TOP_CENTER: return 0x800;
    case PA_CHANNEL_POSITION_TOP_FRONT_LEFT: return 0x1000;
    case PA_CHANNEL_POSITION_TOP_FRONT_CENTER: return 0x2000;
    case PA_CHANNEL_POSITION_TOP_FRONT_RIGHT: return 0x4000;
    case PA_CHANNEL_POSITION_TOP_REAR_LEFT: return 0x8000;
    case PA_CHANNEL_POSITION_TOP_REAR_CENTER: return 0x10000;
    case PA_CHANNEL_POSITION_TOP_REAR_RIGHT: return 0x20000;
    default: return 0;
  }
}

/* Chooses the channel map to record with and its WAVEFORMATEXTENSIBLE mask:
 * the source's own positions in mask (ascending bit) order when they all
 * have a bit, else the WAVEEX layout for that many channels. */
static uint64_t
qs_pulse_choose_map (const pa_channel_map * src, pa_channel_map * out)
{
  uint64_t mask = 0;
  unsigned i, n = 0;

  if (src->channels == 1) {
    pa_channel_map_init_mono (out);
    return 0;
  }
  for (i = 0; i < src->channels; i++) {
    uint64_t bit = qs_pulse_position_bit (src->map[i]);

    if (bit == 0 || (mask & bit)) {
      mask = 0;
      break;
    }
    mask |= bit;
  }
  if (mask) {
    pa_channel_map_init (out);
    out->channels = src->channels;
    for (i = 0; i < 32 && n < src->channels; i++) {
      unsigned c;

      if (!(mask & ((uint64_t) 1 << i)))
        continue;
      for (c = 0; c < src->channels; c++)
        if (qs_pulse_position_bit (src->map[c]) == ((uint64_t) 1 << i))
          out->map[n++] = src->map[c];
    }
    return mask;
  }
  if (src->channels <= 18
      && pa_channel_map_init_extend (out, src->channels, PA_CHANNEL_MAP_WAVEEX))
    return (((uint64_t) 1) << src->channels) - 1;
  pa_channel_map_init_extend (out, src->channels, PA_CHANNEL_MAP_AUX);
  return 0;
}

static QsSampleFormat
qs_pulse_choose_format (pa_sample_spec * spec)
{
  switch (spec->format) {
    case PA_SAMPLE_S16LE:
      return QS_SAMPLE_S16LE;
    case PA_SAMPLE_S32LE:
      return QS_SAMPLE_S32LE;
    case PA_SAMPLE_S24_32LE:
      return QS_SAMPLE_S24_32LE;
    case PA_SAMPLE_FLOAT32LE:
      return QS_SAMPLE_F32LE;
    default:
      /* anything else (big-endian, 24-bit packed, u8, alaw...): let the
       * server convert to float at the native rate and channels */
      spec->format = PA_SAMPLE_FLOAT32LE;
      return QS_SAMPLE_F32LE;
  }
}

/* ---- gap filling (mainloop thread) ------------------------------------- */

static uint64_t
qs_pulse_usec_to_frames (const QsPulse * p, pa_usec_t usec)
{
  return (uint64_t) usec * p->spec.rate / 1000000u;
}

/* Writes silence so that the gap holds (now - anchor) minus reserve frames. */
static void
qs_pulse_gap_fill (QsPulse * p, pa_usec_t now, uint64_t reserve)
{
  uint64_t due;

  if (now <= p->gap_anchor)
    return;
  due = qs_pulse_usec_to_frames (p, now - p->gap_anchor);
  due = due > reserve ? due - reserve : 0;
  if (due > p->gap_filled) {
    qs_ring_write (p->cap->ring, NULL, (size_t) (due - p->gap_filled),
        p->next_flags);
    p->next_flags = 0;
    p->gap_filled = due;
  }
}

static void
qs_pulse_gap_tick (pa_mainloop_api * api, pa_time_event * e,
    const struct timeval *tv, void *userdata)
{
  QsPulse *p = userdata;
  pa_usec_t now = pa_rtclock_now ();

  /* keep one fragment in reserve: the first data after the gap covers it */
  qs_pulse_gap_fill (p, now, qs_pulse_usec_to_frames (p, QS_PULSE_FRAGMENT_USEC));
  pa_context_rttime_restart (p->ctx, e, now + QS_PULSE_FRAGMENT_USEC);
}

/* The stream stopped delivering (suspend, switch, loss of the output):
 * fill silence on the wall clock from the last data on. */
static void
qs_pulse_gap_begin (QsPulse * p)
{
  pa_usec_t now = pa_rtclock_now ();

  p->next_flags |= QS_CAPTURE_DISCONT;
  if (p->in_gap)
    return;
  p->in_gap = 1;
  /* no data yet (the first stream is still starting): nothing to fill */
  p->gap_anchor = p->last_data ? p->last_data : now;
  p->gap_filled = 0;
  if (!p->gap_timer)
    p->gap_timer = pa_context_rttime_new (p->ctx, now + QS_PULSE_FRAGMENT_USEC,
        qs_pulse_gap_tick, p);
}

static void
qs_pulse_gap_end (QsPulse * p, pa_usec_t now, uint64_t frames_arriving)
{
  if (!p->in_gap)
    return;
  qs_pulse_gap_fill (p, now, frames_arriving);
  p->in_gap = 0;
  if (p->gap_timer) {
    pa_mainloop_api *api = pa_threaded_mainloop_get_api (p->ml);

    api->time_free (p->gap_timer);
    p->gap_timer = NULL;
  }
}

/* ---- the record stream ------------------------------------------------- */

static void
qs_pulse_fail (QsPulse * p, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
qs_pulse_fail (QsPulse * p, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof (msg), fmt, ap);
  va_end (ap);
  qs_ring_set_error (p->cap->ring, msg);
}

static void
qs_pulse_read_cb (pa_stream * s, size_t nbytes, void *userdata)
{
  QsPulse *p = userdata;
  int wrote = 0;

  if (s != p->stream)
    return;
  /* all the server hands over now goes to the ring before the reader is
   * woken, so that it reads one buffer, not one per piece */
  for (;;) {
    const void *data = NULL;
    size_t n = 0;
    size_t frames;
    pa_usec_t now;

    if (pa_stream_peek (s, &data, &n) < 0) {
      qs_pulse_fail (p, "reading from the audio output '%s' failed (%s); "
          "restart the pipeline", p->sink,
          pa_strerror (pa_context_errno (p->ctx)));
      return;
    }
    if (n == 0)
      break;                    /* nothing more queued */
    frames = n / p->bpf;
    now = pa_rtclock_now ();
    qs_pulse_gap_end (p, now, frames);
    if (data == NULL) {
      /* a hole in the stream: the server had nothing for this span */
      p->next_flags |= QS_CAPTURE_DISCONT;
      qs_ring_write_more (p->cap->ring, NULL, frames, p->next_flags);
    } else {
      qs_ring_write_more (p->cap->ring, data, frames, p->next_flags);
    }
    wrote = 1;
    p->next_flags = 0;
    p->last_data = now;
    pa_stream_drop (s);
    /* data still on its way when the output was suspended ends no gap: the
     * silence goes on from it (else the suspension would leave a hole in
     * the timeline, as seen once: 2 frames filled for 1.5 s) */
    if (pa_stream_is_suspended (s) == 1)
      qs_pulse_gap_begin (p);
  }
  if (wrote)
    qs_ring_wake (p->cap->ring);
}

static void
qs_pulse_suspended_cb (pa_stream * s, void *userdata)
{
  QsPulse *p = userdata;

  if (s != p->stream)
    return;
  if (pa_stream_is_suspended (s) == 1)
    qs_pulse_gap_begin (p);
  /* on resume the next data ends the gap */
}

static void qs_pulse_reconnect_done (QsPulse * p);

static void
qs_pulse_stream_state_cb (pa_stream * s, void *userdata)
{
  QsPulse *p = userdata;

  switch (pa_stream_get_state (s)) {
    case PA_STREAM_READY:
    case PA_STREAM_FAILED:
    case PA_STREAM_TERMINATED:
      pa_threaded_mainloop_signal (p->ml, 0);
      break;
    default:
      return;
  }
  if (!p->opened || p->closing || s != p->stream)
    return;
  if (pa_stream_get_state (s) == PA_STREAM_READY) {
    if (p->reconnecting)
      qs_pulse_reconnect_done (p);
    return;
  }
  if (pa_context_get_state (p->ctx) != PA_CONTEXT_READY) {
    /* the whole connection is gone: the context callback reconnects */
  } else if (p->reconnecting) {
    /* a stream made while reconnecting failed: the next tick retries */
    if (!p->dead_stream) {
      p->dead_stream = s;
      p->stream = NULL;
    }
    p->resolving = 0;
  } else if (p->follow_default) {
    /* the output went away; the server picks a new default and tells us */
    qs_pulse_gap_begin (p);
  } else {
    qs_pulse_fail (p, "the audio output '%s' went away while it was being "
        "captured; reconnect it or set device to another output", p->sink);
  }
}

static pa_stream *
qs_pulse_stream_new (QsPulse * p, const char *source)
{
  pa_buffer_attr attr;
  pa_stream *s;

  s = pa_stream_new (p->ctx, "qsound loopback capture", &p->spec, &p->map);
  if (!s)
    return NULL;
  pa_stream_set_state_callback (s, qs_pulse_stream_state_cb, p);
  pa_stream_set_read_callback (s, qs_pulse_read_cb, p);
  pa_stream_set_suspended_callback (s, qs_pulse_suspended_cb, p);

  memset (&attr, 0xff, sizeof (attr));  /* (uint32_t) -1: server default */
  attr.fragsize = (uint32_t) pa_usec_to_bytes (QS_PULSE_FRAGMENT_USEC, &p->spec);
  /* DONT_MOVE: if the output disappears we decide where to go (the new
   * default, or an error), instead of being moved to a microphone */
  if (pa_stream_connect_record (s, source, &attr,
          PA_STREAM_ADJUST_LATENCY | PA_STREAM_DONT_MOVE) < 0) {
    pa_stream_unref (s);
    return NULL;
  }
  return s;
}

static void
qs_pulse_stream_drop (pa_stream * s)
{
  if (!s)
    return;
  pa_stream_set_state_callback (s, NULL, NULL);
  pa_stream_set_read_callback (s, NULL, NULL);
  pa_stream_set_suspended_callback (s, NULL, NULL);
  pa_stream_disconnect (s);
  pa_stream_unref (s);
}

/* ---- following the default output -------------------------------------- */

static void
qs_pulse_switch_sink_cb (pa_context * c, const pa_sink_info * info, int eol,
    void *userdata)
{
  QsPulse *p = userdata;
  pa_stream *s;

  if (eol != 0 || !info || p->closing || !p->follow_default)
    return;
  /* a newer change may have superseded this one */
  if (strcmp (info->name, p->want_sink) != 0 || strcmp (info->name, p->sink) == 0)
    return;

  qs_pulse_gap_begin (p);
  qs_pulse_stream_drop (p->stream);
  p->stream = NULL;
  s = qs_pulse_stream_new (p, info->monitor_source_name);
  if (!s) {
    qs_pulse_fail (p, "could not capture the new default output '%s' (%s); "
        "restart the pipeline", info->name,
        pa_strerror (pa_context_errno (p->ctx)));
    return;
  }
  p->stream = s;
  snprintf (p->sink, sizeof (p->sink), "%s", info->name);
  qs_capture_set_device (p->cap, p->sink);
  qs_ring_count_switch (p->cap->ring);
}

static void
qs_pulse_server_info_cb (pa_context * c, const pa_server_info * info,
    void *userdata)
{
  QsPulse *p = userdata;
  pa_operation *o;

  if (!info || p->closing || !p->follow_default || !info->default_sink_name)
    return;
  if (strcmp (info->default_sink_name, p->sink) == 0) {
    p->want_sink[0] = '\0';
    return;
  }
  if (strcmp (info->default_sink_name, p->want_sink) == 0)
    return;                     /* already on its way */
  snprintf (p->want_sink, sizeof (p->want_sink), "%s", info->default_sink_name);
  o = pa_context_get_sink_info_by_name (c, info->default_sink_name,
      qs_pulse_switch_sink_cb, p);
  if (o)
    pa_operation_unref (o);
}

static void
qs_pulse_subscribe_cb (pa_context * c, pa_subscription_event_type_t t,
    uint32_t idx, void *userdata)
{
  QsPulse *p = userdata;
  pa_operation *o;

  if (p->closing)
    return;
  if ((t & PA_SUBSCRIPTION_EVENT_FACILITY_MASK) != PA_SUBSCRIPTION_EVENT_SERVER)
    return;
  o = pa_context_get_server_info (c, qs_pulse_server_info_cb, p);
  if (o)
    pa_operation_unref (o);
}

/* ---- the context ------------------------------------------------------- */

/* ---- reconnecting ------------------------------------------------------ */

static void qs_pulse_context_state_cb (pa_context * c, void *userdata);
static void qs_pulse_subscribe_cb (pa_context * c,
    pa_subscription_event_type_t t, uint32_t idx, void *userdata);

static void
qs_pulse_reconnect_to (QsPulse * p, const char *sink, const char *source)
{
  pa_stream *s = qs_pulse_stream_new (p, source);

  if (!s) {
    p->resolving = 0;           /* the next tick tries again */
    return;
  }
  p->stream = s;
  if (strcmp (sink, p->sink) != 0) {
    /* following the default, and the server came back with another one */
    snprintf (p->sink, sizeof (p->sink), "%s", sink);
    qs_capture_set_device (p->cap, p->sink);
    qs_ring_count_switch (p->cap->ring);
  }
}

static void
qs_pulse_reconnect_sink_cb (pa_context * c, const pa_sink_info * info, int eol,
    void *userdata)
{
  QsPulse *p = userdata;

  if (p->closing || !p->reconnecting || c != p->ctx)
    return;
  if (eol == 0 && info && !p->stream)
    qs_pulse_reconnect_to (p, info->name, info->monitor_source_name);
  else if (eol != 0 && !p->stream)
    p->resolving = 0;           /* not there (yet): the next tick tries again */
}

static void
qs_pulse_reconnect_server_cb (pa_context * c, const pa_server_info * info,
    void *userdata)
{
  QsPulse *p = userdata;
  pa_operation *o;

  if (p->closing || !p->reconnecting || c != p->ctx)
    return;
  if (!info || !info->default_sink_name || !info->default_sink_name[0]) {
    p->resolving = 0;
    return;
  }
  o = pa_context_get_sink_info_by_name (c, info->default_sink_name,
      qs_pulse_reconnect_sink_cb, p);
  if (o)
    pa_operation_unref (o);
  else
    p->resolving = 0;
}

/* Every QS_PULSE_RECONNECT_USEC while reconnecting: one step further. */
static void
qs_pulse_reconnect_tick (pa_mainloop_api * api, pa_time_event * e,
    const struct timeval *tv, void *userdata)
{
  QsPulse *p = userdata;
  pa_usec_t now = pa_rtclock_now ();
  pa_operation *o = NULL;

  if (p->dead_stream) {
    qs_pulse_stream_drop (p->dead_stream);
    p->dead_stream = NULL;
  }
  if (p->dead_ctx) {
    pa_context_set_state_callback (p->dead_ctx, NULL, NULL);
    pa_context_set_subscribe_callback (p->dead_ctx, NULL, NULL);
    pa_context_disconnect (p->dead_ctx);
    pa_context_unref (p->dead_ctx);
    p->dead_ctx = NULL;
  }
  if (now > p->reconnect_deadline) {
    qs_pulse_fail (p, "the connection to the sound server was lost and it did "
        "not come back within %u s; restart PulseAudio or PipeWire and then "
        "the pipeline", (unsigned) (QS_PULSE_RECONNECT_GIVE_UP_USEC / 1000000));
    p->reconnecting = 0;
    api->time_free (e);
    p->reconnect_timer = NULL;
    return;
  }

  if (!p->ctx_connecting && pa_context_get_state (p->ctx) != PA_CONTEXT_READY) {
    /* a fresh context (the old one cannot reconnect) */
    pa_context *c = pa_context_new (api, "qsound");

    if (c) {
      p->dead_ctx = p->ctx;
      p->ctx = c;
      pa_context_set_state_callback (c, qs_pulse_context_state_cb, p);
      if (pa_context_connect (c, NULL, PA_CONTEXT_NOAUTOSPAWN, NULL) >= 0)
        p->ctx_connecting = 1;
    }
  } else if (!p->ctx_connecting && !p->resolving && !p->stream) {
    p->resolving = 1;
    if (p->source_fixed[0]) {
      qs_pulse_reconnect_to (p, p->sink, p->source_fixed);
    } else if (p->follow_default) {
      o = pa_context_get_server_info (p->ctx, qs_pulse_reconnect_server_cb, p);
      if (!o)
        p->resolving = 0;
    } else {
      o = pa_context_get_sink_info_by_name (p->ctx, p->sink,
          qs_pulse_reconnect_sink_cb, p);
      if (!o)
        p->resolving = 0;
    }
    if (o)
      pa_operation_unref (o);
  }
  pa_context_rttime_restart (p->ctx, e, now + QS_PULSE_RECONNECT_USEC);
}

/* The server went away: fill silence and try to get it back. */
static void
qs_pulse_reconnect_begin (QsPulse * p)
{
  pa_usec_t now = pa_rtclock_now ();

  qs_pulse_gap_begin (p);
  if (p->stream) {
    p->dead_stream = p->stream;
    p->stream = NULL;
  }
  p->resolving = 0;
  p->ctx_connecting = 0;
  if (!p->reconnecting) {
    p->reconnecting = 1;
    p->reconnect_deadline = now + QS_PULSE_RECONNECT_GIVE_UP_USEC;
  }
  if (!p->reconnect_timer)
    p->reconnect_timer = pa_context_rttime_new (p->ctx,
        now + QS_PULSE_RECONNECT_USEC, qs_pulse_reconnect_tick, p);
}

static void
qs_pulse_reconnect_done (QsPulse * p)
{
  p->reconnecting = 0;
  p->resolving = 0;
  if (p->reconnect_timer) {
    pa_threaded_mainloop_get_api (p->ml)->time_free (p->reconnect_timer);
    p->reconnect_timer = NULL;
  }
  if (p->follow_default) {
    pa_operation *o;

    pa_context_set_subscribe_callback (p->ctx, qs_pulse_subscribe_cb, p);
    o = pa_context_subscribe (p->ctx, PA_SUBSCRIPTION_MASK_SERVER, NULL, NULL);
    if (o)
      pa_operation_unref (o);
  }
  /* the gap ends with the first data */
}

/* ---- the context ------------------------------------------------------- */

static void
qs_pulse_context_state_cb (pa_context * c, void *userdata)
{
  QsPulse *p = userdata;
  pa_context_state_t state = pa_context_get_state (c);

  if (state != PA_CONTEXT_READY && state != PA_CONTEXT_FAILED
      && state != PA_CONTEXT_TERMINATED)
    return;
  pa_threaded_mainloop_signal (p->ml, 0);
  if (!p->opened || p->closing || c != p->ctx)
    return;
  if (p->reconnecting) {
    /* a reconnection attempt ended; the next tick goes on from here */
    p->ctx_connecting = 0;
    return;
  }
  if (state != PA_CONTEXT_READY)
    qs_pulse_reconnect_begin (p);
}

/* Waits (mainloop locked) until o is done or the context fails. */
static int
qs_pulse_wait_op (QsPulse * p, pa_operation * o)
{
  int ok;

  if (!o)
    return 0;
  while (pa_operation_get_state (o) == PA_OPERATION_RUNNING
      && pa_context_get_state (p->ctx) == PA_CONTEXT_READY)
    pa_threaded_mainloop_wait (p->ml);
  ok = pa_operation_get_state (o) == PA_OPERATION_DONE;
  pa_operation_unref (o);
  return ok;
}

static void
qs_pulse_open_server_cb (pa_context * c, const pa_server_info * info,
    void *userdata)
{
  QsPulse *p = userdata;

  if (info && info->default_sink_name) {
    snprintf (p->found_name, sizeof (p->found_name), "%s",
        info->default_sink_name);
    p->found = 1;
  }
  pa_threaded_mainloop_signal (p->ml, 0);
}

static void
qs_pulse_open_sink_cb (pa_context * c, const pa_sink_info * info, int eol,
    void *userdata)
{
  QsPulse *p = userdata;

  if (eol == 0 && info) {
    snprintf (p->found_name, sizeof (p->found_name), "%s", info->name);
    snprintf (p->found_monitor, sizeof (p->found_monitor), "%s",
        info->monitor_source_name);
    p->found = 1;
  }
  if (eol != 0)
    pa_threaded_mainloop_signal (p->ml, 0);
}

static void
qs_pulse_open_source_cb (pa_context * c, const pa_source_info * info, int eol,
    void *userdata)
{
  QsPulse *p = userdata;

  if (eol == 0 && info) {
    p->found_spec = info->sample_spec;
    p->found_map = info->channel_map;
    if (info->monitor_of_sink_name) {
      /* report the output, not its monitor */
      snprintf (p->found_name, sizeof (p->found_name), "%s",
          info->monitor_of_sink_name);
    }
    p->found = 1;
  }
  if (eol != 0)
    pa_threaded_mainloop_signal (p->ml, 0);
}

static void
qs_pulse_list_sources_cb (pa_context * c, const pa_source_info * info,
    int eol, void *userdata)
{
  QsPulse *p = userdata;
  size_t len;

  if (eol == 0 && info && !info->monitor_of_sink_name) {
    len = strlen (p->source_list);
    snprintf (p->source_list + len, sizeof (p->source_list) - len, "%s%s",
        len ? ", " : "", info->name);
  }
  if (eol != 0)
    pa_threaded_mainloop_signal (p->ml, 0);
}

static void
qs_pulse_list_sinks_cb (pa_context * c, const pa_sink_info * info, int eol,
    void *userdata)
{
  QsPulse *p = userdata;
  size_t len;

  if (eol == 0 && info) {
    len = strlen (p->sink_list);
    snprintf (p->sink_list + len, sizeof (p->sink_list) - len, "%s%s",
        len ? ", " : "", info->name);
  }
  if (eol != 0)
    pa_threaded_mainloop_signal (p->ml, 0);
}

/* Frees everything; the mainloop must not be locked by the caller. */
static void
qs_pulse_destroy (QsPulse * p)
{
  if (!p)
    return;
  if (p->ml) {
    pa_threaded_mainloop_lock (p->ml);
    p->closing = 1;
    if (p->gap_timer) {
      pa_threaded_mainloop_get_api (p->ml)->time_free (p->gap_timer);
      p->gap_timer = NULL;
    }
    if (p->reconnect_timer) {
      pa_threaded_mainloop_get_api (p->ml)->time_free (p->reconnect_timer);
      p->reconnect_timer = NULL;
    }
    qs_pulse_stream_drop (p->stream);
    p->stream = NULL;
    qs_pulse_stream_drop (p->dead_stream);
    p->dead_stream = NULL;
    if (p->dead_ctx) {
      pa_context_set_state_callback (p->dead_ctx, NULL, NULL);
      pa_context_set_subscribe_callback (p->dead_ctx, NULL, NULL);
      pa_context_disconnect (p->dead_ctx);
      pa_context_unref (p->dead_ctx);
      p->dead_ctx = NULL;
    }
    if (p->ctx) {
      pa_context_set_state_callback (p->ctx, NULL, NULL);
      pa_context_set_subscribe_callback (p->ctx, NULL, NULL);
      pa_context_disconnect (p->ctx);
    }
    pa_threaded_mainloop_unlock (p->ml);
    pa_threaded_mainloop_stop (p->ml);
    if (p->ctx)
      pa_context_unref (p->ctx);
    pa_threaded_mainloop_free (p->ml);
  }
  free (p);
}

static void
qs_pulse_close (QsCapture * cap)
{
  qs_pulse_destroy (cap->priv);
  cap->priv = NULL;
}

static int
qs_pulse_ends_with (const char *s, const char *suffix)
{
  size_t a = strlen (s), b = strlen (suffix);

  return a >= b && strcmp (s + a - b, suffix) == 0;
}

/* Runs the open sequence with the mainloop locked; 0 on failure (err set). */
static int
qs_pulse_open_locked (QsPulse * p, const char *device, QsCaptureFormat * fmt,
    char *err, size_t errlen)
{
  char source[QS_PULSE_NAME_LEN];
  char want[QS_PULSE_NAME_LEN];
  pa_stream_state_t sstate;
  pa_operation *o;

  /* 1. the server */
  if (pa_context_connect (p->ctx, NULL, PA_CONTEXT_NOAUTOSPAWN, NULL) < 0)
    goto no_server;
  while (pa_context_get_state (p->ctx) != PA_CONTEXT_READY) {
    pa_context_state_t st = pa_context_get_state (p->ctx);

    if (st == PA_CONTEXT_FAILED || st == PA_CONTEXT_TERMINATED)
      goto no_server;
    pa_threaded_mainloop_wait (p->ml);
  }

  /* 2. which output */
  if (p->follow_default) {
    p->found = 0;
    if (!qs_pulse_wait_op (p, pa_context_get_server_info (p->ctx,
                qs_pulse_open_server_cb, p)) || !p->found || !p->found_name[0]) {
      qs_pulse_err (err, errlen, "the sound server has no default audio "
          "output to capture; add an output (a sink) or set device");
      return 0;
    }
    snprintf (want, sizeof (want), "%s", p->found_name);
  } else {
    snprintf (want, sizeof (want), "%s", device);
  }

  if (qs_pulse_ends_with (want, ".monitor")) {
    snprintf (source, sizeof (source), "%s", want);
    snprintf (p->source_fixed, sizeof (p->source_fixed), "%s", want);
    want[strlen (want) - strlen (".monitor")] = '\0';
  } else {
    p->found = 0;
    qs_pulse_wait_op (p, pa_context_get_sink_info_by_name (p->ctx, want,
            qs_pulse_open_sink_cb, p));
    if (p->found) {
      snprintf (source, sizeof (source), "%s", p->found_monitor);
    } else {
      /* not an output: an input (a source) is captured directly */
      p->found = 0;
      qs_pulse_wait_op (p, pa_context_get_source_info_by_name (p->ctx, want,
              qs_pulse_open_source_cb, p));
      if (!p->found)
        goto no_such_output;
      snprintf (source, sizeof (source), "%s", want);
      snprintf (p->source_fixed, sizeof (p->source_fixed), "%s", want);
    }
  }
  snprintf (p->sink, sizeof (p->sink), "%s", want);

  /* 3. its native format */
  p->found = 0;
  p->found_name[0] = '\0';
  qs_pulse_wait_op (p, pa_context_get_source_info_by_name (p->ctx, source,
          qs_pulse_open_source_cb, p));
  if (!p->found)
    goto no_such_output;
  if (p->found_name[0])
    snprintf (p->sink, sizeof (p->sink), "%s", p->found_name);
  p->spec = p->found_spec;
  fmt->format = qs_pulse_choose_format (&p->spec);
  fmt->rate = p->spec.rate;
  fmt->channels = p->spec.channels;
  fmt->channel_mask = qs_pulse_choose_map (&p->found_map, &p->map);
  p->bpf = pa_frame_size (&p->spec);
  if (p->bpf != qs_capture_bytes_per_frame (fmt)) {
    qs_pulse_err (err, errlen, "the audio output '%s' has a sample format "
        "qsound cannot capture; report this as a bug", p->sink);
    return 0;
  }

  p->cap->ring = qs_ring_new ((size_t) fmt->rate * QS_PULSE_RING_SECONDS, p->bpf);
  if (!p->cap->ring) {
    qs_pulse_err (err, errlen, "out of memory for the capture buffer");
    return 0;
  }
  qs_capture_set_format (p->cap, fmt);
  p->cap->format_changed = 0;
  qs_capture_set_device (p->cap, p->sink);

  /* 4. the record stream */
  p->stream = qs_pulse_stream_new (p, source);
  if (!p->stream)
    goto stream_failed;
  while ((sstate = pa_stream_get_state (p->stream)) != PA_STREAM_READY) {
    if (sstate == PA_STREAM_FAILED || sstate == PA_STREAM_TERMINATED)
      goto stream_failed;
    pa_threaded_mainloop_wait (p->ml);
  }

  /* 5. follow the default output */
  if (p->follow_default) {
    pa_context_set_subscribe_callback (p->ctx, qs_pulse_subscribe_cb, p);
    o = pa_context_subscribe (p->ctx, PA_SUBSCRIPTION_MASK_SERVER, NULL, NULL);
    if (o)
      pa_operation_unref (o);
    /* the default may have changed while we were connecting */
    o = pa_context_get_server_info (p->ctx, qs_pulse_server_info_cb, p);
    if (o)
      pa_operation_unref (o);
  }
  p->opened = 1;
  return 1;

no_server:
  {
    char tried[400];
    int e = pa_context_errno (p->ctx);

    qs_pulse_describe_server (tried, sizeof (tried));
    if (e == PA_ERR_ACCESS || e == PA_ERR_AUTHKEY || e == PA_ERR_VERSION
        || e == PA_ERR_PROTOCOL)
      /* a server answered but would not let us in */
      qs_pulse_err (err, errlen, "the sound server (tried %s) refused the "
          "connection (%s); check that this user may use it", tried,
          pa_strerror (e));
    else
      qs_pulse_err (err, errlen, "no PulseAudio or PipeWire server is running "
          "(tried %s); start one, or set PULSE_SERVER to a running server",
          tried);
    return 0;
  }
no_such_output:
  p->sink_list[0] = '\0';
  p->source_list[0] = '\0';
  qs_pulse_wait_op (p, pa_context_get_sink_info_list (p->ctx,
          qs_pulse_list_sinks_cb, p));
  qs_pulse_wait_op (p, pa_context_get_source_info_list (p->ctx,
          qs_pulse_list_sources_cb, p));
  if (p->sink_list[0] || p->source_list[0])
    qs_pulse_err (err, errlen, "there is no audio output or input named "
        "'%s'; set device to one of the outputs (%s) or inputs (%s), or "
        "leave it empty for the default output", want,
        p->sink_list[0] ? p->sink_list : "none",
        p->source_list[0] ? p->source_list : "none");
  else
    qs_pulse_err (err, errlen, "there is no audio output or input named "
        "'%s', and the sound server has none at all; add one or leave "
        "device empty", want);
  return 0;
stream_failed:
  qs_pulse_err (err, errlen, "could not capture the audio output '%s' (%s); "
      "check that it exists and that the sound server allows recording",
      p->sink, pa_strerror (pa_context_errno (p->ctx)));
  return 0;
}

QsCapture *
qs_capture_pulse_open (const char *device, QsCaptureFormat * out_format,
    char *err, size_t errlen)
{
  QsCaptureFormat fmt;
  QsCapture *cap;
  QsPulse *p;
  pa_proplist *props;
  int ok;

  memset (&fmt, 0, sizeof (fmt));
  cap = qs_capture_alloc ();
  p = calloc (1, sizeof (QsPulse));
  if (!cap || !p) {
    free (p);
    qs_capture_close (cap);
    qs_pulse_err (err, errlen, "out of memory opening the capture");
    return NULL;
  }
  p->cap = cap;
  p->follow_default = device == NULL || device[0] == '\0';
  if (!p->follow_default && strlen (device) >= QS_PULSE_NAME_LEN - 1) {
    free (p);
    qs_capture_close (cap);
    qs_pulse_err (err, errlen, "the device name is too long; use the name "
        "`pactl list short sinks` shows");
    return NULL;
  }

  p->ml = pa_threaded_mainloop_new ();
  if (!p->ml)
    goto oom;
  pa_threaded_mainloop_set_name (p->ml, "qsound-pulse");
  props = pa_proplist_new ();
  pa_proplist_sets (props, PA_PROP_APPLICATION_NAME, "qsound");
  pa_proplist_sets (props, PA_PROP_APPLICATION_ID, "org.qsound.loopbacksrc");
  pa_proplist_sets (props, PA_PROP_MEDIA_ROLE, "production");
  p->ctx = pa_context_new_with_proplist (pa_threaded_mainloop_get_api (p->ml),
      "qsound", props);
  pa_proplist_free (props);
  if (!p->ctx)
    goto oom;
  pa_context_set_state_callback (p->ctx, qs_pulse_context_state_cb, p);
  if (pa_threaded_mainloop_start (p->ml) < 0)
    goto oom;

  pa_threaded_mainloop_lock (p->ml);
  ok = qs_pulse_open_locked (p, device, &fmt, err, errlen);
  pa_threaded_mainloop_unlock (p->ml);
  if (!ok) {
    qs_pulse_destroy (p);
    qs_capture_close (cap);
    return NULL;
  }
  cap->priv = p;
  cap->close = qs_pulse_close;
  if (out_format)
    *out_format = fmt;
  return cap;

oom:
  qs_pulse_destroy (p);
  qs_capture_close (cap);
  qs_pulse_err (err, errlen, "could not start the PulseAudio client "
      "(out of memory or threads)");
  return NULL;
}
