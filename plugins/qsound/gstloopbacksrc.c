/* qsound — loopbacksrc: the sound a machine is playing, as a live source.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-loopbacksrc
 * @title: loopbacksrc
 *
 * loopbacksrc captures what an audio output is playing (the "loopback" or
 * "monitor" of the output) and pushes it as live raw audio in the output's
 * native rate, channels and sample format.  With #GstLoopbackSrc:device
 * empty it captures the current default output and follows it when the user
 * switches outputs; otherwise it captures the named output, or the named
 * input (a microphone or line-in), which it records directly.
 *
 * Capture runs on the backend's own thread, which only copies into a ring
 * buffer of about two seconds and never waits for the pipeline, so a busy
 * encoder downstream costs no audio.  What cannot be captured is accounted
 * for in #GstLoopbackSrc:stats: silence filled for wall-clock gaps (a
 * suspended output, a switch to another output, a sound server that
 * restarted), frames lost when the pipeline fell more than the ring behind,
 * and the DISCONT buffers issued.  Buffers carry about 5 ms; their offsets
 * count samples on the capture clock (lost ones included) and their
 * timestamps follow from the offsets, starting at the running time of the
 * first capture.
 *
 * It provides a clock, the device's: the monotonic clock plus how far the
 * device's frames, at the nominal rate, run ahead of it, slewed without
 * steps.  A pipeline with no audio sink (a transmitter) runs on it, so its
 * running time keeps pace with the timestamps, which count samples: what
 * a framedtcpsink answers timed heartbeats with is then the card's time, so
 * receivers that follow it play at the card's pace.
 *
 * Backends: `pulse` (PulseAudio, or PipeWire's pulse server; Linux) records
 * the output's monitor source, or the named source; `wasapi` (Windows) uses
 * shared-mode loopback on the render endpoint, or records the named capture
 * endpoint.  A name is looked up among the outputs first, then the inputs.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 loopbacksrc ! audioconvert ! lamemp3enc ! framedtcpsink port=5000
 * ]| Sends what this machine plays, as mp3, to a framedtcpsrc that connects
 * to port 5000; the other end is
 * `gst-launch-1.0 framedtcpsrc host=<this machine> port=5000 ! mpegaudioparse ! mpg123audiodec ! audioconvert ! autoaudiosink`.
 * |[
 * gst-launch-1.0 loopbacksrc device=play ! audioconvert ! wavenc ! filesink location=play.wav
 * ]| Records what the output named `play` plays (on PulseAudio the names are
 * those `pactl list short sinks` shows; `play.monitor` works too).
 * |[
 * gst-launch-1.0 loopbacksrc device="Microphone (USB Audio)" ! audioconvert ! opusenc ! framedtcpsink port=5000
 * ]| Sends a microphone instead (on Windows the names are those of the
 * Sound settings' recording devices; on PulseAudio those
 * `pactl list short sources` shows).
 * |[
 * gst-launch-1.0 -m loopbacksrc ! fakesink sync=false
 * ]| Captures the default output; read the stats with
 * `g_object_get (src, "stats", &s, NULL)`.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gst/audio/audio.h>

#include "gstloopbacksrc.h"
#include "qsoundelements.h"
#include "capture/qscapture.h"

GST_DEBUG_CATEGORY_STATIC (gst_loopbacksrc_debug);
#define GST_CAT_DEFAULT gst_loopbacksrc_debug

#define DEFAULT_DEVICE ""
#define DEFAULT_BACKEND GST_LOOPBACKSRC_BACKEND_AUTO

/* one read period: buffers of about 5 ms */
#define LOOPBACKSRC_PERIOD_MS 5
/* the backends' rings hold at least this much (QS_*_RING_SECONDS) */
#define LOOPBACKSRC_RING_TIME (2 * GST_SECOND)
/* how long one blocking read waits before looking again */
#define LOOPBACKSRC_READ_TIMEOUT_MS 200

#define MAX_CHANNELS 64

enum
{
  PROP_0,
  PROP_DEVICE,
  PROP_BACKEND,
  PROP_STATS,
};

struct _GstLoopbackSrc
{
  GstPushSrc parent;

  /* properties, under the object lock */
  gchar *device;
  GstLoopbackSrcBackend backend;

  /* the open capture; the pointer is changed under the object lock (start,
   * stop) and read under it by unlock and the stats getter */
  QsCapture *cap;

  /* streaming thread */
  QsCaptureFormat format;
  GstAudioInfo info;
  gboolean reorder;
  GstAudioChannelPosition from[MAX_CHANNELS];
  GstAudioChannelPosition to[MAX_CHANNELS];
  gboolean have_base;
  GstClockTime base;            /* running time of sample base_sample */
  guint64 base_sample;
  guint64 next_sample;          /* samples since start, lost ones included */
  gint resume;                  /* atomic; set on PLAYING -> PAUSED */
  guint64 lost_seen;
  guint64 lost_unwarned;        /* lost since the last warning */
  gint64 warned_at;             /* monotonic time of the last warning */

  /* stats kept after stop, under the object lock */
  QsCaptureStats last_stats;
  gchar *last_device;

  /* the capture clock it provides (gst_loopbacksrc_clock_note) */
  GstClock *clock;
  GMutex clk_lock;              /* guards the slew, read by the clock */
  gdouble slew_from, slew_to;   /* the device's time less the monotonic
                                 * clock (us), slewed from one to the other
                                 * ... */
  guint64 slew_start;           /* ... from then on (qs_capture_now_us) */
  /* streaming thread */
  gboolean clk_have_origin;
  gdouble clk_origin;           /* the device's time of frame 0, us */
  guint clk_rate;
  guint64 clk_last_at;          /* the last position's time */
  guint64 clk_bin_start;
  gdouble clk_bin_max;          /* the stretch's least delayed position */
};

/* The capture clock: the monotonic clock plus how far the device's own
 * time (its frames at the nominal rate) is ahead of it.  Each stretch of
 * CLOCK_BIN_US, the position delivered soonest (the most ahead) is taken,
 * as delivery only ever adds delay; the clock then slews to a quarter of
 * the way from where it stood to it over the next stretch, so it never
 * steps and follows the device's rate within a few seconds. */
#define CLOCK_BIN_US    500000
#define CLOCK_GAIN      0.25

#define FORMATS "{ F32LE, S16LE, S32LE, S24_32LE }"

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) " FORMATS ", "
        "layout = (string) interleaved, rate = (int) [ 1, MAX ], "
        "channels = (int) [ 1, MAX ]"));

#define gst_loopbacksrc_parent_class parent_class
G_DEFINE_TYPE (GstLoopbackSrc, gst_loopbacksrc, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (loopbacksrc, "loopbacksrc",
    GST_RANK_NONE, GST_TYPE_LOOPBACKSRC,
    GST_DEBUG_CATEGORY_INIT (gst_loopbacksrc_debug, "loopbacksrc", 0,
        "qsound loopback capture"));

GType
gst_loopbacksrc_backend_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_LOOPBACKSRC_BACKEND_AUTO,
        "The platform's own: pulse on Linux, wasapi on Windows", "auto"},
    {GST_LOOPBACKSRC_BACKEND_PULSE,
        "PulseAudio or PipeWire's pulse server (libpulse)", "pulse"},
    {GST_LOOPBACKSRC_BACKEND_WASAPI,
        "WASAPI shared-mode loopback (Windows only)", "wasapi"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstLoopbackSrcBackend", values);

    g_once_init_leave (&type, t);
  }
  return type;
}

/* ---- format helpers ---------------------------------------------------- */

static GstAudioFormat
gst_loopbacksrc_audio_format (QsSampleFormat f)
{
  switch (f) {
    case QS_SAMPLE_S16LE:
      return GST_AUDIO_FORMAT_S16LE;
    case QS_SAMPLE_S24_32LE:
      return GST_AUDIO_FORMAT_S24_32LE;
    case QS_SAMPLE_S32LE:
      return GST_AUDIO_FORMAT_S32LE;
    case QS_SAMPLE_F32LE:
      return GST_AUDIO_FORMAT_F32LE;
    default:
      return GST_AUDIO_FORMAT_UNKNOWN;
  }
}

/* WAVEFORMATEXTENSIBLE speaker bits, in bit order */
static const GstAudioChannelPosition wave_positions[] = {
  GST_AUDIO_CHANNEL_POSITION_FRONT_LEFT,
  GST_AUDIO_CHANNEL_POSITION_FRONT_RIGHT,
  GST_AUDIO_CHANNEL_POSITION_FRONT_CENTER,
  GST_AUDIO_CHANNEL_POSITION_LFE1,
  GST_AUDIO_CHANNEL_POSITION_REAR_LEFT,
  GST_AUDIO_CHANNEL_POSITION_REAR_RIGHT,
  GST_AUDIO_CHANNEL_POSITION_FRONT_LEFT_OF_CENTER,
  GST_AUDIO_CHANNEL_POSITION_FRONT_RIGHT_OF_CENTER,
  GST_AUDIO_CHANNEL_POSITION_REAR_CENTER,
  GST_AUDIO_CHANNEL_POSITION_SIDE_LEFT,
  GST_AUDIO_CHANNEL_POSITION_SIDE_RIGHT,
  GST_AUDIO_CHANNEL_POSITION_TOP_CENTER,
  GST_AUDIO_CHANNEL_POSITION_TOP_FRONT_LEFT,
  GST_AUDIO_CHANNEL_POSITION_TOP_FRONT_CENTER,
  GST_AUDIO_CHANNEL_POSITION_TOP_FRONT_RIGHT,
  GST_AUDIO_CHANNEL_POSITION_TOP_REAR_LEFT,
  GST_AUDIO_CHANNEL_POSITION_TOP_REAR_CENTER,
  GST_AUDIO_CHANNEL_POSITION_TOP_REAR_RIGHT,
};

/* Fills src->info (and the reorder tables) from a backend format; the
 * backend delivers channels in speaker-mask bit order. */
static gboolean
gst_loopbacksrc_set_info (GstLoopbackSrc * src, const QsCaptureFormat * f)
{
  GstAudioFormat fmt = gst_loopbacksrc_audio_format (f->format);
  guint ch = f->channels, i, n = 0;
  guint64 mask = f->channel_mask;

  if (fmt == GST_AUDIO_FORMAT_UNKNOWN || ch == 0 || ch > MAX_CHANNELS
      || f->rate == 0)
    return FALSE;

  if (ch == 1) {
    src->from[0] = GST_AUDIO_CHANNEL_POSITION_MONO;
  } else {
    /* a mask that does not describe exactly ch speakers is useless */
    if (mask >> G_N_ELEMENTS (wave_positions)
        || (guint) __builtin_popcountll (mask) != ch)
      mask = 0;
    if (mask == 0 && ch <= G_N_ELEMENTS (wave_positions))
      mask = (G_GUINT64_CONSTANT (1) << ch) - 1;        /* WAVE's default */
    for (i = 0; i < G_N_ELEMENTS (wave_positions) && n < ch; i++)
      if (mask & (G_GUINT64_CONSTANT (1) << i))
        src->from[n++] = wave_positions[i];
    if (n != ch) {
      for (i = 0; i < ch; i++)
        src->from[i] = GST_AUDIO_CHANNEL_POSITION_NONE;
    }
  }
  memcpy (src->to, src->from, ch * sizeof (GstAudioChannelPosition));
  if (src->to[0] != GST_AUDIO_CHANNEL_POSITION_NONE
      && !gst_audio_channel_positions_to_valid_order (src->to, ch))
    return FALSE;
  src->reorder = memcmp (src->to, src->from,
      ch * sizeof (GstAudioChannelPosition)) != 0;
  gst_audio_info_set_format (&src->info, fmt, f->rate, ch, src->to);
  src->format = *f;
  return TRUE;
}

/* ---- properties -------------------------------------------------------- */

static GstStructure *
gst_loopbacksrc_make_stats (GstLoopbackSrc * src)
{
  QsCaptureStats st;
  const gchar *device;

  GST_OBJECT_LOCK (src);
  if (src->cap) {
    qs_capture_get_stats (src->cap, &st);
    device = qs_capture_get_device (src->cap);
  } else {
    st = src->last_stats;
    device = src->last_device;
  }
  /* the structure copies the string before the lock is released */
  {
    GstStructure *s = gst_structure_new ("loopbacksrc-stats",
        "frames-captured", G_TYPE_UINT64, (guint64) st.frames_captured,
        "frames-silence", G_TYPE_UINT64, (guint64) st.frames_silence,
        "frames-lost", G_TYPE_UINT64, (guint64) st.frames_lost,
        "discontinuities", G_TYPE_UINT64, (guint64) st.discontinuities,
        "device-switches", G_TYPE_UINT64, (guint64) st.device_switches,
        "device", G_TYPE_STRING, device ? device : "",
        NULL);
    GST_OBJECT_UNLOCK (src);
    return s;
  }
}

static void
gst_loopbacksrc_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (object);

  switch (prop_id) {
    case PROP_DEVICE:
      GST_OBJECT_LOCK (src);
      g_free (src->device);
      src->device = g_value_dup_string (value);
      if (!src->device)
        src->device = g_strdup (DEFAULT_DEVICE);
      GST_OBJECT_UNLOCK (src);
      break;
    case PROP_BACKEND:
      GST_OBJECT_LOCK (src);
      src->backend = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (src);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_loopbacksrc_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (object);

  switch (prop_id) {
    case PROP_DEVICE:
      GST_OBJECT_LOCK (src);
      g_value_set_string (value, src->device);
      GST_OBJECT_UNLOCK (src);
      break;
    case PROP_BACKEND:
      GST_OBJECT_LOCK (src);
      g_value_set_enum (value, src->backend);
      GST_OBJECT_UNLOCK (src);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, gst_loopbacksrc_make_stats (src));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* ---- GstBaseSrc -------------------------------------------------------- */

static gboolean
gst_loopbacksrc_start (GstBaseSrc * bsrc)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (bsrc);
  QsCaptureFormat fmt;
  QsBackendKind kind;
  QsCapture *cap;
  gchar *device;
  gchar err[512] = "";

  GST_OBJECT_LOCK (src);
  device = g_strdup (src->device);
  switch (src->backend) {
    case GST_LOOPBACKSRC_BACKEND_PULSE:
      kind = QS_BACKEND_PULSE;
      break;
    case GST_LOOPBACKSRC_BACKEND_WASAPI:
      kind = QS_BACKEND_WASAPI;
      break;
    default:
      kind = QS_BACKEND_AUTO;
      break;
  }
  GST_OBJECT_UNLOCK (src);

  memset (&fmt, 0, sizeof (fmt));
  cap = qs_capture_open (kind, device, &fmt, err, sizeof (err));
  g_free (device);
  if (!cap) {
    GST_ELEMENT_ERROR (src, RESOURCE, OPEN_READ, ("%s", err[0] ? err :
            "could not open the audio output for capture"), (NULL));
    return FALSE;
  }
  if (!gst_loopbacksrc_set_info (src, &fmt)) {
    qs_capture_close (cap);
    GST_ELEMENT_ERROR (src, RESOURCE, OPEN_READ,
        ("the audio output delivers a format loopbacksrc cannot describe "
            "(%u channels at %u Hz); report this as a bug", fmt.channels,
            fmt.rate), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (src, "capturing %s: %u Hz, %u channels, format %d, mask "
      "0x%" G_GINT64_MODIFIER "x", qs_capture_get_device (cap), fmt.rate,
      fmt.channels, fmt.format, (guint64) fmt.channel_mask);

  src->have_base = FALSE;
  src->clk_have_origin = FALSE;       /* a new capture counts from 0 */
  src->clk_last_at = 0;
  g_atomic_int_set (&src->resume, FALSE);
  src->base_sample = 0;
  src->next_sample = 0;
  src->lost_seen = 0;
  src->lost_unwarned = 0;
  src->warned_at = 0;
  GST_OBJECT_LOCK (src);
  src->cap = cap;
  GST_OBJECT_UNLOCK (src);
  return TRUE;
}

static gboolean
gst_loopbacksrc_stop (GstBaseSrc * bsrc)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (bsrc);
  QsCapture *cap;

  GST_OBJECT_LOCK (src);
  cap = src->cap;
  if (cap) {
    qs_capture_get_stats (cap, &src->last_stats);
    g_free (src->last_device);
    src->last_device = g_strdup (qs_capture_get_device (cap));
  }
  src->cap = NULL;
  GST_OBJECT_UNLOCK (src);
  /* joins the capture thread; nothing else uses cap any more */
  qs_capture_close (cap);
  gst_audio_info_init (&src->info);
  return TRUE;
}

static gboolean
gst_loopbacksrc_unlock (GstBaseSrc * bsrc)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (bsrc);

  GST_OBJECT_LOCK (src);
  if (src->cap)
    qs_capture_interrupt (src->cap);
  GST_OBJECT_UNLOCK (src);
  return TRUE;
}

static gboolean
gst_loopbacksrc_unlock_stop (GstBaseSrc * bsrc)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (bsrc);

  GST_OBJECT_LOCK (src);
  if (src->cap)
    qs_capture_clear_interrupt (src->cap);
  GST_OBJECT_UNLOCK (src);
  return TRUE;
}

static GstCaps *
gst_loopbacksrc_get_caps (GstBaseSrc * bsrc, GstCaps * filter)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (bsrc);
  GstCaps *caps;
  gboolean open;

  GST_OBJECT_LOCK (src);
  open = src->cap != NULL;
  GST_OBJECT_UNLOCK (src);

  /* src->info is written by start and by the streaming thread */
  if (open && GST_AUDIO_INFO_FORMAT (&src->info) != GST_AUDIO_FORMAT_UNKNOWN)
    caps = gst_audio_info_to_caps (&src->info);
  else
    caps = gst_pad_get_pad_template_caps (GST_BASE_SRC_PAD (bsrc));

  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);

    gst_caps_unref (caps);
    caps = tmp;
  }
  return caps;
}

static gboolean
gst_loopbacksrc_query (GstBaseSrc * bsrc, GstQuery * query)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (bsrc);

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gboolean open;

    GST_OBJECT_LOCK (src);
    open = src->cap != NULL;
    GST_OBJECT_UNLOCK (src);
    if (!open)
      return FALSE;
    /* a sample is at most one read period old when it is pushed; the ring
     * lets downstream hold us up by its length without loss */
    gst_query_set_latency (query, TRUE,
        LOOPBACKSRC_PERIOD_MS * GST_MSECOND, LOOPBACKSRC_RING_TIME);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (parent_class)->query (bsrc, query);
}

static GstFlowReturn
gst_loopbacksrc_renegotiate (GstLoopbackSrc * src)
{
  QsCaptureFormat fmt;
  GstCaps *caps;
  gboolean ok;

  qs_capture_get_format (src->cap, &fmt);
  if (!gst_loopbacksrc_set_info (src, &fmt)) {
    GST_ELEMENT_ERROR (src, STREAM, FORMAT,
        ("the audio output switched to a format loopbacksrc cannot describe "
            "(%u channels at %u Hz); report this as a bug", fmt.channels,
            fmt.rate), (NULL));
    return GST_FLOW_ERROR;
  }
  GST_INFO_OBJECT (src, "format changed: %u Hz, %u channels", fmt.rate,
      fmt.channels);
  caps = gst_audio_info_to_caps (&src->info);
  ok = gst_base_src_set_caps (GST_BASE_SRC (src), caps);
  gst_caps_unref (caps);
  if (!ok)
    return GST_FLOW_NOT_NEGOTIATED;
  /* restart the sample clock at the current position in the new rate */
  src->base += gst_util_uint64_scale_int (src->next_sample - src->base_sample,
      GST_SECOND, src->format.rate ? src->format.rate : 1);
  src->base_sample = src->next_sample;
  return GST_FLOW_OK;
}

/* GstAudioClock's time function: the capture clock, in ns */
static GstClockTime
gst_loopbacksrc_clock_time (GstClock * clock, gpointer user_data)
{
  GstLoopbackSrc *src = user_data;
  guint64 now = qs_capture_now_us ();
  gdouble ahead, f;

  g_mutex_lock (&src->clk_lock);
  f = now > src->slew_start ? MIN (1.0, (gdouble) (now - src->slew_start) /
      CLOCK_BIN_US) : 0.0;
  ahead = src->slew_from + (src->slew_to - src->slew_from) * f;
  g_mutex_unlock (&src->clk_lock);
  return (GstClockTime) MAX (0.0, ((gdouble) now + ahead) * 1000.0);
}

/* Follows the device's frames with the capture clock (streaming thread,
 * after each read). */
static void
gst_loopbacksrc_clock_note (GstLoopbackSrc * src)
{
  guint64 frames, at;
  guint rate = src->format.rate;
  gdouble ahead;

  qs_capture_get_position (src->cap, &frames, &at);
  if (at == 0 || at == src->clk_last_at || rate == 0)
    return;
  src->clk_last_at = at;
  if (!src->clk_have_origin || rate != src->clk_rate) {
    /* from here the device's time goes on from where the clock stands */
    g_mutex_lock (&src->clk_lock);
    src->clk_origin = (gdouble) at + src->slew_to - (gdouble) frames *
        1e6 / rate;
    g_mutex_unlock (&src->clk_lock);
    src->clk_have_origin = TRUE;
    src->clk_rate = rate;
    src->clk_bin_start = at;
    src->clk_bin_max = -G_MAXDOUBLE;
  }
  ahead = src->clk_origin + (gdouble) frames * 1e6 / rate - (gdouble) at;
  src->clk_bin_max = MAX (src->clk_bin_max, ahead);
  if (at < src->clk_bin_start + CLOCK_BIN_US)
    return;
  g_mutex_lock (&src->clk_lock);
  src->slew_from = src->slew_from + (src->slew_to - src->slew_from) *
      MIN (1.0, (gdouble) (at - MIN (at, src->slew_start)) / CLOCK_BIN_US);
  src->slew_to = src->slew_from + (src->clk_bin_max - src->slew_from) *
      CLOCK_GAIN;
  src->slew_start = at;
  g_mutex_unlock (&src->clk_lock);
  GST_LOG_OBJECT (src, "capture clock %+.3f ms from the monotonic clock",
      src->slew_to / 1000.0);
  src->clk_bin_start = at;
  src->clk_bin_max = -G_MAXDOUBLE;
}

static GstFlowReturn
gst_loopbacksrc_create (GstPushSrc * psrc, GstBuffer ** outbuf)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (psrc);
  guint bpf = GST_AUDIO_INFO_BPF (&src->info);
  gsize max_frames = MAX (1, (gsize) src->info.rate * LOOPBACKSRC_PERIOD_MS / 1000);
  GstBuffer *buf;
  GstMapInfo map;
  unsigned flags = 0;
  int n;
  GstClockTime pts, end;

  if (g_atomic_int_compare_and_exchange (&src->resume, TRUE, FALSE)
      && src->have_base) {
    /* what was captured while we were paused is stale for a live pipeline:
     * skip it (the offsets keep counting it) and start again from now */
    guint64 skipped = 0;
    unsigned f = 0;

    buf = gst_buffer_new_allocate (NULL, max_frames * bpf, NULL);
    gst_buffer_map (buf, &map, GST_MAP_WRITE);
    while ((n = qs_capture_read (src->cap, map.data, max_frames, 0, &f)) > 0)
      skipped += n;
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    GST_DEBUG_OBJECT (src, "resuming: skipped %" G_GUINT64_FORMAT " frames "
        "captured while paused", skipped);
    src->next_sample += skipped;
    src->have_base = FALSE;
  }
  if (!src->have_base)
    /* the first read takes what gathered since start (up to a second) */
    max_frames = MAX (max_frames, (gsize) src->info.rate);

  buf = gst_buffer_new_allocate (NULL, max_frames * bpf, NULL);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  do {
    n = qs_capture_read (src->cap, map.data, max_frames,
        LOOPBACKSRC_READ_TIMEOUT_MS, &flags);
  } while (n == 0);
  gst_buffer_unmap (buf, &map);

  if (n == QS_CAPTURE_INTERRUPTED) {
    gst_buffer_unref (buf);
    return GST_FLOW_FLUSHING;
  }
  if (n < 0) {
    gst_buffer_unref (buf);
    GST_ELEMENT_ERROR (src, RESOURCE, READ, ("%s",
            qs_capture_get_error (src->cap)), (NULL));
    return GST_FLOW_ERROR;
  }
  gst_buffer_set_size (buf, (gsize) n * bpf);

  if (flags & QS_CAPTURE_FORMAT_CHANGED) {
    GstFlowReturn ret = gst_loopbacksrc_renegotiate (src);

    if (ret != GST_FLOW_OK) {
      gst_buffer_unref (buf);
      return ret;
    }
    /* what we read is already in the new format */
    bpf = GST_AUDIO_INFO_BPF (&src->info);
    if (gst_buffer_get_size (buf) % bpf)
      gst_buffer_set_size (buf, gst_buffer_get_size (buf) / bpf * bpf);
    n = (int) (gst_buffer_get_size (buf) / bpf);
    flags |= QS_CAPTURE_DISCONT;
  }

  gst_loopbacksrc_clock_note (src);

  if (flags & QS_CAPTURE_DISCONT) {
    QsCaptureStats st;

    qs_capture_get_stats (src->cap, &st);
    if (st.frames_lost > src->lost_seen) {
      guint64 lost = st.frames_lost - src->lost_seen;

      /* keep timestamps on the capture clock across the loss */
      src->next_sample += lost;
      src->lost_seen = st.frames_lost;
      src->lost_unwarned += lost;
    }
    /* one warning per few seconds at most, however often it happens */
    if (src->lost_unwarned > 0 && (src->warned_at == 0
            || g_get_monotonic_time () - src->warned_at > 5 * G_USEC_PER_SEC)) {
      GST_ELEMENT_WARNING (src, RESOURCE, READ,
          ("the pipeline fell behind the capture by more than the buffer "
              "holds; %" G_GUINT64_FORMAT " ms of audio were lost (put a "
              "queue before slow elements)",
              src->lost_unwarned * 1000 / src->info.rate), (NULL));
      src->lost_unwarned = 0;
      src->warned_at = g_get_monotonic_time ();
    }
    GST_DEBUG_OBJECT (src, "discontinuity: the capture lost or filled "
        "audio before sample %" G_GUINT64_FORMAT, src->next_sample);
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  }

  if (!src->have_base) {
    GstClock *clock = gst_element_get_clock (GST_ELEMENT (src));
    GstClockTime captured = gst_util_uint64_scale_int (n, GST_SECOND,
        src->info.rate);
    guint64 written, at, now_us = qs_capture_now_us (), read_end;

    /* the samples just read were captured during `captured` that ended
     * when the last of them came: the newest frame in the ring came at
     * `at`, and the last read is the frames still in the ring before it */
    qs_capture_get_position (src->cap, &written, &at);
    read_end = src->next_sample + (guint64) n;
    if (at > 0 && at <= now_us && written >= read_end)
      captured += (now_us - at) * GST_USECOND +
          gst_util_uint64_scale_int (written - read_end, GST_SECOND,
          src->info.rate);
    src->base = 0;
    src->base_sample = src->next_sample;
    if (clock) {
      GstClockTime now = gst_clock_get_time (clock);
      GstClockTime base_time = gst_element_get_base_time (GST_ELEMENT (src));

      if (now > base_time + captured)
        src->base = now - base_time - captured;
      GST_DEBUG_OBJECT (src, "the last of the first %d frames read came "
          "%.2f ms ago (%" G_GUINT64_FORMAT " frames after it in the ring, "
          "the newest came %.2f ms ago)", n,
          (gdouble) (captured - gst_util_uint64_scale_int (n, GST_SECOND,
                  src->info.rate)) / GST_MSECOND, written - read_end,
          (now_us - at) / 1000.0);
      gst_object_unref (clock);
    }
    src->have_base = TRUE;
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  }

  if (src->reorder)
    gst_audio_buffer_reorder_channels (buf, GST_AUDIO_INFO_FORMAT (&src->info),
        GST_AUDIO_INFO_CHANNELS (&src->info), src->from, src->to);

  pts = src->base + gst_util_uint64_scale_int (src->next_sample -
      src->base_sample, GST_SECOND, src->info.rate);
  end = src->base + gst_util_uint64_scale_int (src->next_sample + n -
      src->base_sample, GST_SECOND, src->info.rate);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buf) = end - pts;
  GST_BUFFER_OFFSET (buf) = src->next_sample;
  GST_BUFFER_OFFSET_END (buf) = src->next_sample + n;
  src->next_sample += n;
  GST_LOG_OBJECT (src, "chunk: %d frames, pts %" GST_TIME_FORMAT
      ", monotonic %" G_GINT64_FORMAT " us", n, GST_TIME_ARGS (pts),
      g_get_monotonic_time ());

  *outbuf = buf;
  return GST_FLOW_OK;
}

static GstStateChangeReturn
gst_loopbacksrc_change_state (GstElement * element, GstStateChange transition)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (element);
  GstStateChangeReturn ret;

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED) {
    /* the streaming thread waits for PLAYING again; it skips the backlog
     * when it resumes */
    g_atomic_int_set (&src->resume, TRUE);
  }
  return ret;
}

/* ---- GObject ----------------------------------------------------------- */

static void
gst_loopbacksrc_finalize (GObject * object)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (object);

  g_free (src->device);
  g_free (src->last_device);
  /* a pipeline may hold the clock longer: it must not call back */
  gst_audio_clock_invalidate (GST_AUDIO_CLOCK (src->clock));
  gst_object_unref (src->clock);
  g_mutex_clear (&src->clk_lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static GstClock *
gst_loopbacksrc_provide_clock (GstElement * element)
{
  GstLoopbackSrc *src = GST_LOOPBACKSRC (element);

  return gst_object_ref (src->clock);
}

static void
gst_loopbacksrc_class_init (GstLoopbackSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_loopbacksrc_set_property;
  gobject_class->get_property = gst_loopbacksrc_get_property;
  gobject_class->finalize = gst_loopbacksrc_finalize;

  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device",
          "The audio output to capture, by name (on PulseAudio a sink name "
          "such as \"play\" or its monitor \"play.monitor\"), or an input "
          "(a microphone or line-in: a PulseAudio source, a Windows "
          "recording device), recorded directly; empty captures the current "
          "default output and follows it when it changes.",
          DEFAULT_DEVICE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_BACKEND,
      g_param_spec_enum ("backend", "Backend",
          "The capture backend: auto picks the platform's own (pulse on "
          "Linux, wasapi on Windows).",
          GST_TYPE_LOOPBACKSRC_BACKEND, DEFAULT_BACKEND,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstLoopbackSrc:stats:
   *
   * A "loopbacksrc-stats" structure: frames-captured (frames the output
   * delivered), frames-silence (frames filled with silence for wall-clock
   * gaps and device switches), frames-lost (captured frames overwritten
   * because the pipeline fell too far behind), discontinuities (DISCONT
   * buffers issued), device-switches (default-output changes followed), all
   * guint64, and device (the output being captured).  It keeps the last
   * values after the element stops.
   */
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Capture statistics: frames captured, filled with silence and "
          "lost, discontinuities, device switches and the device captured.",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Loopback audio source", "Source/Audio",
      "Captures what an audio output is playing (the default output unless "
      "told otherwise), live, without losing samples",
      "The qsound authors");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_loopbacksrc_change_state);
  element_class->provide_clock =
      GST_DEBUG_FUNCPTR (gst_loopbacksrc_provide_clock);

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_loopbacksrc_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_loopbacksrc_stop);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_loopbacksrc_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_loopbacksrc_unlock_stop);
  basesrc_class->get_caps = GST_DEBUG_FUNCPTR (gst_loopbacksrc_get_caps);
  basesrc_class->query = GST_DEBUG_FUNCPTR (gst_loopbacksrc_query);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_loopbacksrc_create);

  gst_type_mark_as_plugin_api (GST_TYPE_LOOPBACKSRC_BACKEND, 0);
}

static void
gst_loopbacksrc_init (GstLoopbackSrc * src)
{
  src->device = g_strdup (DEFAULT_DEVICE);
  src->backend = DEFAULT_BACKEND;
  gst_audio_info_init (&src->info);
  gst_base_src_set_live (GST_BASE_SRC (src), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (src), GST_FORMAT_TIME);
  g_mutex_init (&src->clk_lock);
  src->clock = gst_audio_clock_new ("GstLoopbackSrcClock",
      gst_loopbacksrc_clock_time, src, NULL);
  GST_OBJECT_FLAG_SET (src, GST_ELEMENT_FLAG_PROVIDE_CLOCK);
}
