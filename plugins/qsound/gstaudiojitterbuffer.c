/* qsound — audiojitterbuffer: holds a target latency on the receiving side
 * and corrects the drift between the sender's and the receiver's clocks.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-audiojitterbuffer
 * @title: audiojitterbuffer
 * @see_also: framedtcpsrc
 *
 * Sits after the decoder on the receiving side and keeps the delay between
 * the arrival of the audio and its playback at #GstAudioJitterBuffer:latency,
 * for hours.  Two machines' sound cards never run at quite the same rate (100
 * ppm is 360 ms an hour), so a receiver that simply plays what arrives either
 * runs dry or falls further and further behind.
 *
 * The element measures, at each arrival, how long the arriving audio will
 * wait before it is played, averages that over a few hundred milliseconds
 * and drives a smooth PI controller (time constant of a few seconds while
 * it acquires the rate, about 20 s once it tracks it with an audio sink
 * downstream) that steers the ratio of GStreamer's windowed-sinc resampler
 * (#GstAudioResampler, Kaiser) by at most
 * #GstAudioJitterBuffer:max-correction parts per million: no chunk is ever
 * dropped or repeated to follow the drift, and the sound stays transparent
 * to 20 kHz.  Apart from that correction it measures the clocks'
 * difference itself, from the arrivals that waited least against their
 * timestamps over the last minute: `clock-ppm` in
 * #GstAudioJitterBuffer:stats, once it spans 15 s (`clock-span`).
 *
 * With an audio sink downstream (any #GstAudioBaseSink, also inside
 * autoaudiosink, after elements such as audioconvert and audioresample),
 * the sink sets the pace: the element fills the sink's buffer at once and
 * then gives it audio as soon as it is there; the sink blocks until its
 * sound card has room.  So what waits here leaves at the card's rate, and
 * the delay the controller holds is the delay of the sound as the card
 * plays it, whatever clock the pipeline runs on and however the card's rate
 * differs from it.  Give that sink `sync=false` (it plays what it is given
 * as it comes, with no clock slaving of its own) and a small buffer, e.g.
 * pulsesink `buffer-time=40000 latency-time=5000 sync=false`, as
 * qsound-launch does.  Without an audio sink (fakesink, a test harness),
 * chunks leave on the pipeline clock at their timestamp plus the target;
 * #GstAudioJitterBuffer:stats says which (`pacing`).
 *
 * With #GstAudioJitterBuffer:adaptive (qsound-launch sets it when no -l is
 * given) and an audio sink, the room adapts to the link: audio that comes
 * later than the room and the sink's buffer cover makes the sink play
 * silence once, and the room then grows at once by what that took, so that
 * the next such delay plays through; 30 s after the last such delay it
 * comes back down by 0.5 ms a second, steered out by the resampler.
 * #GstAudioJitterBuffer:latency is then the least room.
 * Network jitter smaller than the target is absorbed without a glitch.  A
 * real gap (the sender stalled, frames were lost) is filled with silence and
 * counted; when audio comes back it re-locks to the target within a second:
 * after running dry it inserts just enough silence, and a stale backlog that
 * arrives in a burst is dropped rather than played late: cut out where the
 * audio pauses, if a pause comes within a second.  All of it is counted in
 * #GstAudioJitterBuffer:stats.
 *
 * With #GstAudioJitterBuffer:end-to-end-latency and framedtcpsrc upstream
 * with a sender of protocol 2.1, which carries the sender's clock, the
 * element plays each sample that long after the sender captured it, on the
 * sender's clock: receivers of one sender given the same value play in
 * step (qsound-launch -l).  What it holds is then when the sound is heard
 * (from the audio sink: where it writes next less what its clock says it
 * has played)
 * less when it was captured; the room is what that leaves, and the
 * adaptive room (latency) is the least of it.  A value too low for the
 * link plays later, steadily, and stats says what it needs.  The sender's
 * rate, once known, is fed forward to the correction.
 *
 * LATENCY queries answer upstream's latency plus the target.  When it follows
 * framedtcpsrc, set framedtcpsrc's own latency to 0 (the jitter room is
 * here now); otherwise both delays add up.
 *
 * It works on raw interleaved F32LE or S16LE audio (any rate and channel
 * count), so put audioconvert in front of it.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 framedtcpsrc host=sender.local port=5000 latency=0 ! \
 *     decodebin ! audioconvert ! audiojitterbuffer latency=80000000 ! \
 *     audioconvert ! pulsesink buffer-time=40000 latency-time=5000 sync=false
 * gst-launch-1.0 loopbacksrc ! audioconvert ! lamemp3enc target=bitrate \
 *     cbr=true ! framedtcpsink host=0.0.0.0 port=5000
 * ]| Receive what sender.local plays with 80 ms of room for network jitter,
 * the same delay after hours as after a minute.
 * |[
 * gst-launch-1.0 framedtcpsrc mode=server port=5000 latency=0 ! \
 *     audioconvert ! audiojitterbuffer latency=30000000 ! \
 *     pulsesink buffer-time=40000 latency-time=5000 sync=false
 * gst-launch-1.0 loopbacksrc ! audioconvert ! \
 *     audio/x-raw,format=S16LE,rate=48000,channels=2 ! \
 *     framedtcpsink mode=client port=5000
 * ]| Raw PCM on a quiet link with a 30 ms target.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstaudiojitterbuffer.h"
#include "qsoundelements.h"
#include "qsclocksync.h"

#include <gst/audio/audio.h>
#include <string.h>
#include <math.h>

GST_DEBUG_CATEGORY_STATIC (audio_jitter_buffer_debug);
#define GST_CAT_DEFAULT audio_jitter_buffer_debug

#define DEFAULT_LATENCY         (60 * GST_MSECOND)
#define DEFAULT_MAX_CORRECTION  2000

/* output chunks: a quarter of the target, between these */
#define CHUNK_MIN       (1 * GST_MSECOND)
#define CHUNK_MAX       (10 * GST_MSECOND)
/* arrivals are averaged over this long before the controller sees them */
#define WINDOW_TIME     (200 * GST_MSECOND)
/* paced by the clock (downstream does not block), a chunk is pushed this
 * long before it is due: its timestamp plus the target */
#define PUSH_LEAD       (2 * GST_MSECOND)
/* how many elements downstream the audio sink may be */
#define SINK_SEARCH_HOPS 16
/* silence sent at once when locking with an audio sink downstream: it fills
 * the sink's buffer, so that the sink blocks, and so paces the output, from
 * the start; what is beyond the target stays here and settling drops it.
 * This much at least, and a sink's buffer-time and half of this if that is
 * more */
#define PREROLL_MIN     (40 * GST_MSECOND)
/* the sample fades around a splice where a re-lock drops a backlog */
#define FADE_TIME       (3 * GST_MSECOND)
/* a window whose arrivals (but the worst tenth) all have this much more
 * than the target is a backlog, or half the target if that is more: it
 * came in a burst, or the chain behind the sender stalled and caught up.
 * The controller's 2000 ppm would take 10 s for each 20 ms of it */
#define BACKLOG_MIN     (10.0 * GST_MSECOND)
/* a backlog is cut where the queue is quiet (mean power below -60 dBFS,
 * fades included): it waits up to this many windows for a pause, then
 * it is cut where the queue is quietest; one this far beyond the target
 * is cut at once */
#define QUIET_POWER     1e-6
#define CUT_WAIT_WINDOWS 5
#define CUT_WAIT_MAX    (100 * GST_MSECOND)
/* timestamp jumps smaller than this are the decoder's rounding, not gaps */
#define GAP_TOLERANCE   (20 * GST_MSECOND)
/* a gap's audio that comes less late than this came on time */
#define GAP_LATE_MIN    (1.0 * GST_MSECOND)
/* longer jumps are a new timeline (a reconnect), not a gap to fill */
#define GAP_MAX         (1 * GST_SECOND)
/* how far the first window after a lock may be off before it is centred */
#define SETTLE_TOLERANCE (3.0 * GST_MSECOND)
/* windows (the first second) after a lock in which it centres at once */
#define SETTLE_WINDOWS  5
/* the lowest rooms of a window kept to centre on: the worst tenth of its
 * arrivals (one at least, from five arrivals on) is passed over, so that one
 * late arrival (the sound server held the capture a few ms) does not move
 * the lock; a window that is late as a whole still counts in full */
#define WIN_LOW_KEEP    8
/* the most audio held beyond the target before the oldest is discarded */
#define FIFO_HEADROOM   (2 * GST_SECOND)

/* PI controller while it acquires the rate, per second: critically
 * damped (Ki = Kp^2/4), time constant ~3.3 s.  The loop needs an error to
 * steer: before its integral has the clocks' difference, the room runs off
 * by about the difference over the natural frequency, and the sound's
 * latency with it.  At 0.4/s and 0.04/s^2 (~5 s) that was 2-2.5 ms at
 * 1000 ppm, then an overshoot: the recorded latency of a raw sender at
 * +1000 ppm spread up to 5 ms in 60 s runs.  At 0.8/s and 0.16/s^2 the
 * first windows after a lock, whose room reads a few ms off, drove the
 * correction to its clamp and back: the sound was stretched by up to
 * 3000 ppm for seconds, and the rig no longer recognised 1-10 of the first
 * bursts of a sender at -1000 ppm (in 11 of 12 runs).  These gains kept
 * every burst in 4 of 4 60 s runs at +-1000 ppm and in 4 of 4 20 s runs;
 * docs/LATENCY.md has the figures */
#define CTRL_KP         0.6
#define CTRL_KI         0.09
#define CTRL_EMA_TAU    1.0
/* ... and with an end-to-end latency (the sender's rate fed forward) */
#define CTRL_KP_FF      0.4
#define CTRL_KI_FF      0.04
/* paced by an audio sink, the room is seen through the chunks of two
 * clocks (the sender's, the sound server's) and wanders by a few ms with
 * their phase: after this long locked, the loop has the rate and slows to
 * a time constant of ~20 s, so that it follows the drift and not the
 * wander (at 0.4/s, 3 ms of wander steered the rate by 1200 ppm; at the
 * 0.6/s of acquiring, half as much again) */
#define CTRL_ACQUIRE_TIME (15 * GST_SECOND)
#define CTRL_ACQUIRE_SKIP (5 * GST_SECOND)
#define CTRL_KP_TRACK   0.1
#define CTRL_KI_TRACK   0.0025
#define CTRL_EMA_TAU_TRACK 3.0
#define CTRL_SPREAD_TAU 10.0
/* the adaptive room (#GstAudioJitterBuffer:adaptive, with an audio sink;
 * see gst_audio_jitter_buffer_adapt): a backlog of ADAPT_EVENT_MIN or more
 * right after the queue ran empty is taken in, up to ADAPT_MAX; the room
 * wanted is the largest grown to over ADAPT_HOLD_WINDOWS windows, and
 * beyond it the room shrinks at ADAPT_SHRINK_RATE (ns per ns: 0.5 ms a
 * second) */
#define ADAPT_MAX       (500 * GST_MSECOND)
#define ADAPT_EVENT_MIN (5.0 * GST_MSECOND)
#define ADAPT_DEFICIT_TIME (1 * GST_SECOND)
#define ADAPT_SHRINK_RATE 5e-4
#define ADAPT_HOLD_WINDOWS 150  /* 30 s of WINDOW_TIME */
/* the clocks' rate difference, measured apart from the correction (see
 * gst_audio_jitter_buffer_clock_note): over the last CLOCK_HIST windows,
 * told once they span CLOCK_MIN_SPAN */
/* the sink's delay, noted ten times a second, is smoothed by this much */
#define SINK_DELAY_GAIN 0.02
#define SINK_NOTES_SKIPPED 5
#define SINK_NOTES_KNOWN 10
/* an end-to-end latency the link cannot hold is told when the room it
 * leaves is this far below what the link needs, and no longer when it is
 * this far above */
#define NEED_HYSTERESIS (1.0 * GST_MSECOND)
#define CLOCK_HIST      300     /* 60 s of WINDOW_TIME */
#define CLOCK_MIN_SPAN  15.0    /* s */
#define CLOCK_STEP      (15.0 * GST_MSECOND)

enum
{
  PROP_0,
  PROP_LATENCY,
  PROP_MAX_CORRECTION,
  PROP_ADAPTIVE,
  PROP_END_TO_END_LATENCY,
  PROP_STATS,
};

struct _GstAudioJitterBuffer
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* settings, under the object lock */
  GstClockTime latency;
  guint max_correction;
  gboolean adaptive;
  GstClockTime end_to_end_latency;

  /* everything below is under self->lock */
  GMutex lock;
  GCond cond;
  GMutex push_lock;             /* serialises pushes from both threads */

  GstClockTime target;          /* copies of the settings at start */
  GstClockTime configured_latency;  /* from the pipeline's LATENCY event */
  gdouble max_corr;
  gboolean adapt;               /* the room adapts (with a sink) */
  GstClockTime floor;           /* the least room: the latency setting */

  GstAudioInfo info;
  gboolean have_info;
  guint caps_gen;
  GstSegment in_segment;

  gboolean flushing;
  gboolean eos;
  gboolean locked;              /* the output is anchored to the clock */
  gboolean starved;             /* ran dry; re-lock at the next arrival */
  gboolean need_segment;
  gboolean out_discont;
  gboolean ever_locked;
  guint settling;               /* windows left to centre after a lock */
  guint cut_wait;               /* windows a backlog waited for a pause */

  /* input FIFO: interleaved floats, frames [fifo_first, in_total); the
   * resampler has taken those before rd */
  gfloat *fifo;
  gsize fifo_alloc;             /* frames */
  guint64 fifo_first;
  guint64 in_total;
  guint64 rd;                   /* next frame for the resampler (absolute) */
  guint64 pending_silence;      /* output frames of silence to play first */
  GstClockTime expected_pts;    /* running time the next input should have */

  /* the rate correction: GStreamer's resampler, its ratio steered */
  GstAudioResampler *resampler;
  gint rs_out_rate;             /* the fixed denominator of the ratio */
  gint rs_in_rate;              /* in_rate / out_rate is step */
  gsize rs_latency;             /* input frames it holds (its filter's
                                 * look-ahead) */

  /* output timeline */
  GstClockTime out_base;
  guint64 out_samples;
  GstClockTime last_push;       /* when the last chunk was taken (see
                                 * gst_audio_jitter_buffer_measure) */
  guint in_flight;              /* frames of the chunk being pushed */
  GstAudioBaseSink *sink;       /* the audio sink downstream, if any: it
                                 * paces the output */
  gboolean sink_searched;
  GstClock *sink_clock;         /* the clock the sink provides, if any: its
                                 * time is what it has played */

  /* controller */
  gdouble step;                 /* input frames per output frame */
  gdouble integ;
  GstClockTime lock_time;       /* when the output was anchored */
  gboolean tracking;            /* past acquiring: the slow loop */
  guint acq_n;                  /* the line fit of the acquiring (see */
  gdouble acq_st, acq_stt, acq_sy, acq_sty;     /* _window_done) */
  gdouble acq_sum, acq_time;    /* the correction integrated while
                                 * acquiring (from CTRL_ACQUIRE_SKIP on),
                                 * and over how long: its mean is the
                                 * clocks' difference */
  gdouble ema;                  /* smoothed measured latency, ns */
  gdouble win_last;             /* room in the last window, ns */
  gdouble spread;               /* how far the latest arrivals trail the
                                 * mean, smoothed, ns */
  GstClockTime win_start;
  gdouble win_max, win_sum;
  /* with an audio sink: what is queued here, averaged over the window's
   * time (see gst_audio_jitter_buffer_occupancy_note) */
  gdouble occ_area;             /* ns of audio x ns since win_start */
  gdouble occ_level;            /* ns of audio queued since occ_time */
  GstClockTime occ_time;
  gdouble win_low[WIN_LOW_KEEP];        /* the lowest rooms, ascending: the
                                         * first is the window's minimum */
  guint win_n;

  /* the adaptive room */
  GstClockTime deficit_time;    /* when an arrival last found the room
                                 * below zero, in a spell not yet over */
  gdouble calm_low;             /* the room of the last window with no dip */
  gdouble pre_deficit_low;      /* ... and of the one before the spell */
  gdouble need_hist[ADAPT_HOLD_WINDOWS];        /* the room each window
                                                 * showed was needed, ns
                                                 * (0: none) */
  guint need_n, need_i;
  guint grows;

  /* the clocks' rate difference, measured (gst_audio_jitter_buffer_clock_note) */
  gboolean clk_by_sink;         /* timed by what the sink took, not the
                                 * clock */
  gdouble clk_now;              /* the latest arrival's time, so timed, ns */
  guint64 clk_push_frames;      /* frames_out when the sink last took a
                                 * chunk ... */
  gint64 clk_push_mono;         /* ... then, monotonic us ... */
  gdouble clk_push_len;         /* ... and that chunk's length, ns */
  gdouble off_min;              /* this window's least arrival time less
                                 * the end of the audio's timestamp, ns
                                 * (G_MAXDOUBLE: none yet) */
  gdouble clk_t[CLOCK_HIST];    /* per window: when, ns */
  gdouble clk_off[CLOCK_HIST];  /* ... and its off_min */
  guint clk_seg[CLOCK_HIST];    /* ... and its stretch (see _clock_note) */
  guint clk_n, clk_i;
  guint clk_cur_seg;
  gboolean clk_break;           /* the next point starts a new stretch */
  gdouble clock_ppm;            /* how much faster the sender's clock runs
                                 * than ours; told once clock_span is set */
  gdouble clock_span;           /* s the estimate spans (0: none yet) */

  /* the end-to-end latency: each sample played this long after it was
   * captured, on the sender's clock that framedtcpsrc tells
   * (gst_audio_jitter_buffer_e2e_room) */
  GstClockTime e2e;             /* the setting at start; 0: off */
  gboolean have_sender;         /* sender_est and sender_ts_offset are set */
  QsClockEstimate sender_est;
  GstClockTimeDiff sender_ts_offset;
  gdouble p_sum;                /* this window's end-to-end delays (see */
  guint p_n;                    /* _e2e_room), ns */
  gdouble tail_captured;        /* when the sender captured the end of the
                                 * latest arrival, our time, ns (< 0: not
                                 * known) */
  gdouble sink_full;            /* the sink's delay after a take, smoothed,
                                 * ns (< 0: not known) */
  GstClockTime sink_clock_base; /* its clock before the first sample */
  gint64 sink_noted;            /* when it was last noted (monotonic) */
  guint sink_notes;             /* how often */
  gdouble e2e_measured;         /* the end-to-end delay, ns (< 0: not
                                 * measured) */
  gdouble e2e_need;             /* with the setting too low for the link,
                                 * the delay it needs, ns (0: it is not) */

  /* statistics */
  guint corrections;
  guint64 silence_filled;
  guint64 dropped;
  guint underruns;
  guint overruns;
  guint gaps;
  guint64 frames_in;
  guint64 frames_out;
  guint64 resample_ns;          /* time spent resampling (monotonic) */
  gfloat *scratch;              /* S16 output is made in floats here first */
  gsize scratch_alloc;          /* floats */
};

#define gst_audio_jitter_buffer_parent_class parent_class
G_DEFINE_TYPE (GstAudioJitterBuffer, gst_audio_jitter_buffer, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (audiojitterbuffer, "audiojitterbuffer",
    GST_RANK_NONE, GST_TYPE_AUDIO_JITTER_BUFFER,
    GST_DEBUG_CATEGORY_INIT (audio_jitter_buffer_debug, "audiojitterbuffer", 0,
        "qsound audio jitter buffer"));

#define JB_CAPS \
  "audio/x-raw, format = (string) { F32LE, S16LE }, " \
  "rate = (int) [ 1, MAX ], channels = (int) [ 1, 64 ], " \
  "layout = (string) interleaved"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (JB_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (JB_CAPS));

/* ---- helpers (called with self->lock held unless noted) ---- */

static GstClockTime
gst_audio_jitter_buffer_now (GstAudioJitterBuffer * self)
{
  GstClock *clock;
  GstClockTime now, base;
  gboolean playing;

  /* running time means nothing before PLAYING: a source that is not live
   * sends audio while the pipeline prerolls, with a clock already set and
   * the base time not yet (it once read as the machine's uptime) */
  GST_OBJECT_LOCK (self);
  playing = GST_STATE (self) == GST_STATE_PLAYING;
  GST_OBJECT_UNLOCK (self);
  clock = playing ? gst_element_get_clock (GST_ELEMENT (self)) : NULL;
  if (!clock)
    return GST_CLOCK_TIME_NONE;
  now = gst_clock_get_time (clock);
  base = gst_element_get_base_time (GST_ELEMENT (self));
  gst_object_unref (clock);
  return now > base ? now - base : 0;
}

static GstClockTime
gst_audio_jitter_buffer_out_next (GstAudioJitterBuffer * self)
{
  return self->out_base + gst_util_uint64_scale_int (self->out_samples,
      GST_SECOND, GST_AUDIO_INFO_RATE (&self->info));
}

static void
gst_audio_jitter_buffer_fifo_reserve (GstAudioJitterBuffer * self, gsize n)
{
  guint channels = GST_AUDIO_INFO_CHANNELS (&self->info);
  gsize used = self->in_total - self->fifo_first;

  if (used + n <= self->fifo_alloc)
    return;
  self->fifo_alloc = MAX (self->fifo_alloc * 2, used + n + 4096);
  self->fifo = g_realloc_n (self->fifo, self->fifo_alloc,
      channels * sizeof (gfloat));
}

static gfloat *
gst_audio_jitter_buffer_fifo_tail (GstAudioJitterBuffer * self, gsize n)
{
  guint channels = GST_AUDIO_INFO_CHANNELS (&self->info);
  gfloat *tail;

  gst_audio_jitter_buffer_fifo_reserve (self, n);
  tail = self->fifo + (self->in_total - self->fifo_first) * channels;
  self->in_total += n;
  return tail;
}

static void
gst_audio_jitter_buffer_fifo_clear (GstAudioJitterBuffer * self)
{
  self->fifo_first = self->in_total = self->rd = 0;
  self->pending_silence = 0;
}

/* Forgets what the resampler has taken. */
static void
gst_audio_jitter_buffer_fifo_trim (GstAudioJitterBuffer * self)
{
  guint channels = GST_AUDIO_INFO_CHANNELS (&self->info);
  guint64 drop = self->rd - self->fifo_first;

  if (drop == 0)
    return;
  memmove (self->fifo, self->fifo + drop * channels,
      (self->in_total - self->rd) * channels * sizeof (gfloat));
  self->fifo_first = self->rd;
}

/* The resampler's ratio (input frames per output frame) is rs_in_rate /
 * rs_out_rate: the denominator is fixed and large, so that the ratio moves
 * in steps far below a part per million, and small enough that the
 * resampler's interpolated filter (phase times oversampling, a gint) cannot
 * overflow.  The ratio is never exactly 1: GstAudioResampler reduces it to
 * 1/1 then, and steering into or out of that clicks (measured: a jump in a
 * sine at each such update, none between other ratios), while one part in
 * 10^8 off 1 is far below anything audible or measurable.  Between the
 * phases of its oversampled filter it interpolates cubically (the
 * default): linear would cost half the CPU, but in GStreamer 1.22 it
 * glitches whenever the ratio is updated (bench/resampler-cost). */
static void
gst_audio_jitter_buffer_resampler_setup (GstAudioJitterBuffer * self)
{
  guint rate = GST_AUDIO_INFO_RATE (&self->info);
  GstStructure *opts = gst_structure_new_empty ("audiojitterbuffer-resampler");

  g_clear_pointer (&self->resampler, gst_audio_resampler_free);
  self->rs_out_rate = (gint) (rate * MAX (1u, MIN (1000u, 100000000u / rate)));
  self->rs_in_rate = self->rs_out_rate + 1;
  gst_audio_resampler_options_set_quality (GST_AUDIO_RESAMPLER_METHOD_KAISER,
      GST_AUDIO_RESAMPLER_QUALITY_DEFAULT, rate, rate, opts);
  gst_structure_set (opts, GST_AUDIO_RESAMPLER_OPT_FILTER_MODE,
      GST_TYPE_AUDIO_RESAMPLER_FILTER_MODE,
      GST_AUDIO_RESAMPLER_FILTER_MODE_INTERPOLATED, NULL);
  self->resampler = gst_audio_resampler_new (GST_AUDIO_RESAMPLER_METHOD_KAISER,
      GST_AUDIO_RESAMPLER_FLAG_VARIABLE_RATE, GST_AUDIO_FORMAT_F32,
      GST_AUDIO_INFO_CHANNELS (&self->info), self->rs_in_rate,
      self->rs_out_rate, opts);
  gst_structure_free (opts);
  self->rs_latency = gst_audio_resampler_get_max_latency (self->resampler);
}

/* Steers the resampler to the controller's step. */
static void
gst_audio_jitter_buffer_resampler_steer (GstAudioJitterBuffer * self)
{
  gint in_rate;

  if (!self->resampler)
    return;
  in_rate = (gint) llround (self->rs_out_rate * self->step);
  if (in_rate == self->rs_out_rate)
    in_rate++;
  if (in_rate == self->rs_in_rate)
    return;
  self->rs_in_rate = in_rate;
  gst_audio_resampler_update (self->resampler, in_rate, self->rs_out_rate,
      NULL);
}

/* Output frames that can be produced from what is queued. */
static gsize
gst_audio_jitter_buffer_available (GstAudioJitterBuffer * self)
{
  gsize in = self->in_total - self->rd;

  return self->pending_silence + (self->resampler && in > 0 ?
      gst_audio_resampler_get_out_frames (self->resampler, in) : 0);
}

/* The room: how long audio appended now waits here before it leaves.
 *
 * With an audio sink downstream, the sink paces the output: its buffer is
 * kept full (it blocks until its sound card has room), so a chunk leaves
 * when the card has played one, and what is queued here leaves at the
 * card's rate from the moment the last chunk went in; subtracting the time
 * since then makes the room smooth and not a saw-tooth of chunks.  Held at
 * the target, that is the delay of the sound as the card plays it (less
 * the sink's buffer, constant): whatever clock the pipeline runs on and
 * however the card's rate differs from it.
 *
 * Without one (paced by the clock), what is queued leaves at the output
 * rate from when the next chunk is due (its timestamp plus the target). */
static gdouble
gst_audio_jitter_buffer_queued (GstAudioJitterBuffer * self)
{
  guint rate = GST_AUDIO_INFO_RATE (&self->info);
  gdouble queued = self->pending_silence + self->in_flight +
      (gdouble) (self->in_total - self->rd + self->rs_latency) / self->step;

  return queued * GST_SECOND / rate;
}

static gdouble
gst_audio_jitter_buffer_measure (GstAudioJitterBuffer * self, GstClockTime now)
{
  gdouble here = gst_audio_jitter_buffer_queued (self);

  if (!self->sink)
    return (gdouble) gst_audio_jitter_buffer_out_next (self) +
        (gdouble) self->target + here - (gdouble) now;
  if (GST_CLOCK_TIME_IS_VALID (self->last_push) && now > self->last_push)
    here -= (gdouble) (now - self->last_push);
  return here;
}

/* Finds the audio sink that plays what this element sends: downstream
 * through elements with one source pad (audioconvert, audioresample, level)
 * and into bins (autoaudiosink).  Returns a reference or NULL. */
static GstAudioBaseSink *
gst_audio_jitter_buffer_find_sink (GstAudioJitterBuffer * self)
{
  GstPad *pad = gst_object_ref (self->srcpad);
  GstAudioBaseSink *sink = NULL;
  guint hop;

  for (hop = 0; hop < SINK_SEARCH_HOPS && pad && !sink; hop++) {
    GstPad *peer = gst_pad_get_peer (pad);
    GstElement *el;

    gst_object_unref (pad);
    pad = NULL;
    while (peer && GST_IS_GHOST_PAD (peer)) {
      GstPad *target = gst_ghost_pad_get_target (GST_GHOST_PAD (peer));

      gst_object_unref (peer);
      peer = target;
    }
    if (!peer)
      break;
    el = gst_pad_get_parent_element (peer);
    gst_object_unref (peer);
    if (!el)
      break;
    if (GST_IS_AUDIO_BASE_SINK (el)) {
      sink = GST_AUDIO_BASE_SINK (el);
      break;
    }
    if (el->numsrcpads == 1) {
      GST_OBJECT_LOCK (el);
      pad = gst_object_ref (el->srcpads->data);
      GST_OBJECT_UNLOCK (el);
    }
    gst_object_unref (el);
  }
  if (pad)
    gst_object_unref (pad);
  return sink;
}

static void
gst_audio_jitter_buffer_window_reset (GstAudioJitterBuffer * self,
    GstClockTime now)
{
  self->win_start = now;
  self->win_n = 0;
  self->win_sum = 0.0;
  self->win_max = -G_MAXDOUBLE;
  self->occ_area = 0.0;
  self->occ_time = now;
  self->occ_level = self->have_info ? gst_audio_jitter_buffer_queued (self) :
      0.0;
  self->p_sum = 0.0;
  self->p_n = 0;
}

/* With an audio sink, the controller steers what is queued here averaged
 * over time, not the room seen at each arrival: the sender's chunks come
 * on its clock and the sink takes chunks on the sound server's, so the room
 * at the arrivals samples a saw-tooth at a phase that slides with the
 * clocks' difference (at 1000 ppm, 5 ms chunks slide through a cycle in 5
 * s) and its mean wanders by a chunk; the rate correction followed that
 * wander.  The time average does not depend on the phase.  Called after
 * every change of the queue (arrival, push, silence, cut), with the lock. */
static void
gst_audio_jitter_buffer_occupancy_note (GstAudioJitterBuffer * self,
    GstClockTime now)
{
  if (!GST_CLOCK_TIME_IS_VALID (now) || !self->have_info)
    return;
  if (GST_CLOCK_TIME_IS_VALID (self->occ_time) && now > self->occ_time)
    self->occ_area += self->occ_level * (gdouble) (now - self->occ_time);
  if (!GST_CLOCK_TIME_IS_VALID (self->occ_time) || now > self->occ_time)
    self->occ_time = now;
  self->occ_level = gst_audio_jitter_buffer_queued (self);
}

/* Keeps the WIN_LOW_KEEP lowest rooms of the window, in order. */
static void
gst_audio_jitter_buffer_window_add (GstAudioJitterBuffer * self, gdouble m)
{
  guint kept = MIN (self->win_n, WIN_LOW_KEEP), i;

  self->win_n++;
  self->win_sum += m;
  self->win_max = MAX (self->win_max, m);
  if (kept == WIN_LOW_KEEP) {
    if (m >= self->win_low[WIN_LOW_KEEP - 1])
      return;
    kept--;
  }
  for (i = kept; i > 0 && self->win_low[i - 1] > m; i--)
    self->win_low[i] = self->win_low[i - 1];
  self->win_low[i] = m;
}

/* The room of the window's latest arrivals, passing over stragglers: the
 * lowest but the worst tenth (at least one from five arrivals on; fewer
 * than five keep their minimum).  Needs an arrival in the window. */
static gdouble
gst_audio_jitter_buffer_window_low (GstAudioJitterBuffer * self)
{
  guint skip = self->win_n >= 5 ? MAX (self->win_n / 10, 1) : 0;

  return self->win_low[MIN (skip, WIN_LOW_KEEP - 1)];
}

/* How long audio the audio sink has just taken waits in it (and in the
 * sound server) before it is heard, with its buffer full as this element
 * keeps it.  The room (_measure) counts down from each take, so the room
 * plus this is when an arrival is heard.  The sink's own clock says what it
 * has played (pulsesink: the sample being heard), from 0 when it started,
 * which was at the first sample it was given; where the sink will write
 * the next sample (GstAudioBaseSink's next_sample, read in this thread
 * right after the push that moved it), less that, is what waits.  Not
 * what this element gave it: with sync=false a sink that ran dry writes on
 * from where its device has got to, and the samples it skipped are heard
 * as silence, so counting what was given read the delay 11 ms short (a
 * receiver then played 11 ms late, once in 16 runs).  Noted after a take,
 * at most every SINK_NOTE_INTERVAL
 * (it asks the sound server), and smoothed.  (Neither the sink's LATENCY
 * answer, 21 ms for pulsesink's 40 ms buffer, nor its ring buffer's delay,
 * none for pulsesink, says this.)  Called with the lock. */
#define SINK_NOTE_INTERVAL (40 * G_TIME_SPAN_MILLISECOND)

static void
gst_audio_jitter_buffer_sink_delay_note (GstAudioJitterBuffer * self)
{
  GstClockTime played;
  gdouble given, d;
  guint64 next;
  gint rate = 0;

  if (!self->sink_clock || !GST_IS_AUDIO_CLOCK (self->sink_clock))
    return;
  if (!GST_CLOCK_TIME_IS_VALID (self->sink_clock_base)
      || self->clk_push_mono < self->sink_noted + SINK_NOTE_INTERVAL)
    return;
  played = gst_audio_clock_get_time (GST_AUDIO_CLOCK (self->sink_clock));
  if (!GST_CLOCK_TIME_IS_VALID (played) || played < self->sink_clock_base)
    return;
  self->sink_noted = self->clk_push_mono;
  GST_OBJECT_LOCK (self->sink);
  next = self->sink->next_sample;
  if (self->sink->ringbuffer)
    rate = GST_AUDIO_INFO_RATE (&self->sink->ringbuffer->spec.info);
  GST_OBJECT_UNLOCK (self->sink);
  /* after a push that rendered, the sink has a position */
  if (next == (guint64) - 1 || rate <= 0)
    return;
  given = (gdouble) next * GST_SECOND / rate;
  d = given - (gdouble) (played - self->sink_clock_base);
  /* the first notes come while the sound server settles its buffering:
   * skipped; then a running mean, then a slow average */
  if (++self->sink_notes <= SINK_NOTES_SKIPPED)
    return;
  /* the end-to-end delay: the end of the latest arrival is heard after
   * what waits in the sink and what is queued here, and was captured at
   * tail_captured.  Exact at this moment, whenever and in whatever chunks
   * the sink takes its audio. */
  if (self->tail_captured >= 0.0 && self->have_sender) {
    GstClockTime now = gst_audio_jitter_buffer_now (self);

    if (GST_CLOCK_TIME_IS_VALID (now)) {
      self->p_sum += (gdouble) now + d + gst_audio_jitter_buffer_queued (self)
          - self->tail_captured;
      self->p_n++;
    }
  }
  self->sink_full = self->sink_full < 0.0 ? d : self->sink_full +
      (d - self->sink_full) * MAX (SINK_DELAY_GAIN,
      1.0 / (self->sink_notes - SINK_NOTES_SKIPPED));
}

/* TRUE while the end-to-end latency cannot place the audio yet: the
 * sender's clock is not known, or the sink's delay not yet (0.6 s of
 * notes), with a sink that paces the output; for E2E_WAIT_MAX after the
 * lock at most (a 2.0 sender never tells its clock: the room is then held
 * as without the setting, and the audio placed if it comes later). */
#define E2E_WAIT_MAX    (3 * GST_SECOND)

static gboolean
gst_audio_jitter_buffer_e2e_waiting (GstAudioJitterBuffer * self,
    GstClockTime now)
{
  if (self->e2e == 0 || (GST_CLOCK_TIME_IS_VALID (self->lock_time)
          && now > self->lock_time + E2E_WAIT_MAX))
    return FALSE;
  return !self->have_sender || (self->sink && self->sink_clock
      && self->sink_notes < SINK_NOTES_KNOWN);
}

/* With an end-to-end latency and the sender's clock known: the room that
 * plays this window's audio at its capture time plus the setting, from
 * @ref, the room the controller measured in the window.  Every arrival
 * tells the same (when its first sample will be heard less when it was
 * captured does not depend on how late it came), so the network's jitter
 * is not in it.  At least @least, the room the link needs: when that is
 * more, the setting is too low for the link, and e2e_need says what it
 * needs.  Without a setting, the sender's clock or an arrival: @least. */
static gdouble
gst_audio_jitter_buffer_e2e_room (GstAudioJitterBuffer * self, gdouble ref,
    gdouble least)
{
  gdouble delay, want;

  if (self->e2e == 0 || !self->have_sender || self->p_n == 0)
    return least;
  delay = self->p_sum / self->p_n;
  self->e2e_measured = delay;
  want = ref - (delay - (gdouble) self->e2e);
  if (want < least - NEED_HYSTERESIS)
    self->e2e_need = (gdouble) self->e2e + least - want;
  else if (want > least + NEED_HYSTERESIS)
    self->e2e_need = 0.0;
  GST_LOG_OBJECT (self, "end to end %.2f ms (%u notes, sink %.2f ms): room "
      "%.2f ms wanted, %.2f ms measured", delay / GST_MSECOND, self->p_n,
      self->sink_full / GST_MSECOND, want / GST_MSECOND, ref / GST_MSECOND);
  return MAX (want, least);
}

static void
gst_audio_jitter_buffer_acq_clear (GstAudioJitterBuffer * self)
{
  self->acq_n = 0;
  self->acq_st = self->acq_stt = self->acq_sy = self->acq_sty = 0.0;
}

static void
gst_audio_jitter_buffer_relock_reset (GstAudioJitterBuffer * self,
    GstClockTime now)
{
  self->ema = (gdouble) self->target;
  self->settling = SETTLE_WINDOWS;
  self->cut_wait = 0;
  if (!self->tracking && GST_CLOCK_TIME_IS_VALID (now)) {
    /* a re-lock while acquiring: the corrections before it do not give
     * the rate; acquire afresh */
    self->lock_time = now;
    self->acq_sum = self->acq_time = 0.0;
    gst_audio_jitter_buffer_acq_clear (self);
  }
  gst_audio_jitter_buffer_window_reset (self, now);
}

/* Drops about @amount ns of queued audio (silence first), for a re-lock.
 * The audio is cut out of the FIFO where it is quietest, fades included:
 * a short fade out before the cut and a fade in after it, so the splice
 * does not click.  Unless @force, it is cut only where that is silence
 * (below QUIET_POWER); returns FALSE if there is no such place yet. */
static gboolean
gst_audio_jitter_buffer_drop (GstAudioJitterBuffer * self, gdouble amount,
    gboolean force)
{
  guint rate = GST_AUDIO_INFO_RATE (&self->info);
  guint channels = GST_AUDIO_INFO_CHANNELS (&self->info);
  gdouble out_frames = amount * rate / GST_SECOND;
  guint64 from_silence = MIN ((guint64) MAX (out_frames, 0.0),
      self->pending_silence);
  guint64 avail = self->in_total - self->rd, n, fade, i, c, span, at, s;
  gdouble sum = 0.0, best;
  gfloat *base;

  out_frames -= from_silence;
  n = (guint64) floor (MAX (out_frames, 0.0) * self->step);
  fade = gst_util_uint64_scale_int (FADE_TIME, rate, GST_SECOND);
  base = self->fifo + (self->rd - self->fifo_first) * channels;
  if (n > 0 && avail > 2 * fade) {
    n = MIN (n, avail - 2 * fade);
    /* the quietest stretch of n frames and their fades: a sliding sum of
     * the power over [s, s + span) */
    span = n + 2 * fade;
    for (i = 0; i < span * channels; i++)
      sum += (gdouble) base[i] * base[i];
    best = sum;
    at = 0;
    for (s = 1; s + span <= avail; s++) {
      const gfloat *gone = base + (s - 1) * channels;
      const gfloat *come = base + (s - 1 + span) * channels;

      for (c = 0; c < channels; c++)
        sum += (gdouble) come[c] * come[c] - (gdouble) gone[c] * gone[c];
      if (sum < best) {
        best = sum;
        at = s;
      }
    }
    best = MAX (best, 0.0) / (span * channels);
    if (!force && best > QUIET_POWER)
      return FALSE;
    base += at * channels;
    /* fade out the frames before the cut, fade in those after it */
    for (i = 0; i < fade; i++) {
      gfloat g_out = (gfloat) (fade - i) / (fade + 1);
      gfloat g_in = (gfloat) (i + 1) / (fade + 1);

      for (c = 0; c < channels; c++) {
        base[i * channels + c] *= g_out;
        base[(fade + n + i) * channels + c] *= g_in;
      }
    }
    memmove (base + fade * channels, base + (fade + n) * channels,
        (avail - at - fade - n) * channels * sizeof (gfloat));
    self->in_total -= n;
    self->dropped += n;
    GST_DEBUG_OBJECT (self, "cut %" G_GUINT64_FORMAT " frames at %.1f ms "
        "into the queue, %.1f dBFS there", n, at * 1000.0 / rate,
        10.0 * log10 (best + 1e-12));
  }
  self->pending_silence -= from_silence;
  return TRUE;
}

static void
gst_audio_jitter_buffer_insert_silence (GstAudioJitterBuffer * self,
    gdouble amount)
{
  guint64 frames =
      (guint64) (amount * GST_AUDIO_INFO_RATE (&self->info) / GST_SECOND);

  self->pending_silence += frames;
  self->silence_filled += frames;
}

static void
gst_audio_jitter_buffer_clock_clear (GstAudioJitterBuffer * self)
{
  self->off_min = G_MAXDOUBLE;
  self->clk_n = self->clk_i = 0;
  self->clk_cur_seg = 0;
  self->clk_break = FALSE;
  self->clock_ppm = self->clock_span = 0.0;
}

/* The card's time now, as the sink has taken audio: the frames it took up
 * to its last take, and the time since then, up to that chunk's length
 * (the next take follows one chunk later).  Counting the takes alone
 * rounds to our chunk (5 ms); with the sender on another clock its
 * arrivals slide past our takes, and the least arrival of each window
 * would carry that rounding as a saw-tooth of one chunk, a cycle every
 * 5 s at 1000 ppm. */
static gdouble
gst_audio_jitter_buffer_card_time (GstAudioJitterBuffer * self, gint rate)
{
  gdouble since;

  if (self->clk_push_mono == 0)
    return (gdouble) self->frames_out * GST_SECOND / rate;
  since = (gdouble) (g_get_monotonic_time () - self->clk_push_mono) *
      GST_USECOND;
  return (gdouble) self->clk_push_frames * GST_SECOND / rate +
      CLAMP (since, 0.0, self->clk_push_len);
}

/* The clocks' rate difference, measured rather than steered: how much
 * faster the sender's clock runs than the sound card here.  Each arrival's
 * time less the end of its audio's timestamp (the sender's timeline,
 * re-based by a constant) grows by the difference; the least of each
 * window is the arrival that waited least on the way, so TCP's and the
 * host's delays drop out.  With an audio sink the arrival is timed by what
 * the sink has taken (frames_out at the output rate: the card's time, give
 * or take the sink's buffer), not by the pipeline clock: pulsesink's clock
 * ran 400 ppm away from what its card played here (a pcm pair on one
 * machine read +406 ppm by the clock, 0 by the samples).
 *
 * When the sink ran dry (a stall, a room grown, a re-lock) the card played
 * silence that frames_out does not count, and the offset steps: so the
 * history is cut into stretches there (and wherever the offset jumps by
 * CLOCK_STEP), and one line is fitted through all of them with a height
 * of its own for each (least squares on each stretch's deviations from
 * its own means).  Over the last CLOCK_HIST windows, told once they span
 * CLOCK_MIN_SPAN; a gap in the timestamps or a lock starts it afresh.
 * The correction being applied (drift-ppm) is this plus whatever the
 * controller is steering back. */
static void
gst_audio_jitter_buffer_clock_note (GstAudioJitterBuffer * self)
{
  gdouble sxx = 0.0, sxy = 0.0, t0;
  guint i, j, first, last;

  if (self->off_min == G_MAXDOUBLE)
    return;
  if (self->settling) {
    /* after a lock the sink's buffer fills at once: not the card's pace */
    self->off_min = G_MAXDOUBLE;
    self->clk_break = TRUE;
    return;
  }
  last = (self->clk_i + CLOCK_HIST - 1) % CLOCK_HIST;
  if (self->clk_n > 0 && (self->clk_break ||
          fabs (self->off_min - self->clk_off[last]) > CLOCK_STEP))
    self->clk_cur_seg++;
  self->clk_break = FALSE;
  self->clk_t[self->clk_i] = self->clk_now;
  self->clk_off[self->clk_i] = self->off_min;
  self->clk_seg[self->clk_i] = self->clk_cur_seg;
  self->clk_i = (self->clk_i + 1) % CLOCK_HIST;
  self->clk_n = MIN (self->clk_n + 1, CLOCK_HIST);
  GST_LOG_OBJECT (self, "clock point %.3f s: offset %.3f ms, stretch %u",
      self->clk_now / GST_SECOND, self->off_min / GST_MSECOND,
      self->clk_cur_seg);
  self->off_min = G_MAXDOUBLE;

  first = (self->clk_i + CLOCK_HIST - self->clk_n) % CLOCK_HIST;
  t0 = self->clk_t[first];
  if (self->clk_now - t0 < CLOCK_MIN_SPAN * GST_SECOND)
    return;
  /* the stretches follow each other in the ring, oldest first */
  for (i = 0; i < self->clk_n;) {
    guint seg = self->clk_seg[(first + i) % CLOCK_HIST], n = 0;
    gdouble mt = 0.0, mo = 0.0;

    for (j = i; j < self->clk_n
        && self->clk_seg[(first + j) % CLOCK_HIST] == seg; j++, n++) {
      mt += self->clk_t[(first + j) % CLOCK_HIST] - t0;
      mo += self->clk_off[(first + j) % CLOCK_HIST];
    }
    mt /= n;
    mo /= n;
    for (j = i; j < i + n; j++) {
      gdouble dt = self->clk_t[(first + j) % CLOCK_HIST] - t0 - mt;

      sxx += dt * dt;
      sxy += dt * (self->clk_off[(first + j) % CLOCK_HIST] - mo);
    }
    i += n;
  }
  if (sxx <= 0.0)
    return;
  /* a sender faster by d: its timestamps run ahead by d a second, the
   * offset falls by as much */
  self->clock_ppm = -sxy / sxx * 1e6;
  self->clock_span = (self->clk_now - t0) / GST_SECOND;
}

/* The adaptive room, at the end of a window (with an audio sink).  When
 * an arrival finds the queue empty (the room below zero), the audio came
 * later than the room allowed; if it came later than the sink's buffer too,
 * the sink played silence in its stead, and once the audio arrives the
 * queue stands higher than before the spell by as much: a backlog.  Set
 * against the queue before the spell, not against the target (the
 * controller holds the average, dips included, on the target, so the
 * queue between dips stands above it), a backlog of ADAPT_EVENT_MIN or
 * more in the first window after the spell, within ADAPT_DEFICIT_TIME, is
 * the link saying how much more room it needs: the room grows by it at
 * once, or to what the controller now sees queued (@level) if that is
 * more (returns TRUE: the window is done), instead of cutting it, so that
 * the next such delay plays through.  The room wanted is the largest grown
 * to over the last ADAPT_HOLD_WINDOWS (30 s); when that is less, the room
 * comes down by ADAPT_SHRINK_RATE, which the controller steers out with
 * the resampler. */
static gboolean
gst_audio_jitter_buffer_adapt (GstAudioJitterBuffer * self, GstClockTime now,
    gdouble low, gdouble level, gdouble dt)
{
  gdouble target = (gdouble) self->target, want = (gdouble) self->floor;
  gdouble backlog = 0.0;
  guint i;

  if (self->win_low[0] < 0.0) {
    /* the queue ran empty: note where it stood before, once a spell */
    if (!GST_CLOCK_TIME_IS_VALID (self->deficit_time))
      self->pre_deficit_low = self->calm_low;
    self->deficit_time = now;
  } else {
    if (GST_CLOCK_TIME_IS_VALID (self->deficit_time)) {
      /* the first window after the spell: how much higher the queue
       * stands than before it is audio the sink played silence for.
       * Compared with the queue before, not with the target: the
       * controller holds the average, dips included, on the target */
      if (now <= self->deficit_time + ADAPT_DEFICIT_TIME)
        backlog = low - self->pre_deficit_low;
      self->deficit_time = GST_CLOCK_TIME_NONE;
    }
    self->calm_low = low;
  }
  /* the room this window showed is needed: the backlog on top of the
   * target, or what the controller now sees queued (its own measure: with
   * the target below it, it would steer the backlog back out) if more */
  if (backlog < ADAPT_EVENT_MIN)
    backlog = 0.0;
  self->need_hist[self->need_i] = backlog > 0.0 ?
      MIN (MAX (target + backlog, level), (gdouble) ADAPT_MAX) : 0.0;
  self->need_i = (self->need_i + 1) % ADAPT_HOLD_WINDOWS;
  self->need_n = MIN (self->need_n + 1, ADAPT_HOLD_WINDOWS);
  for (i = 0; i < self->need_n; i++)
    want = MAX (want, self->need_hist[i]);
  if (backlog > 0.0 && want > target) {
    /* what is wanted beyond what is queued the controller fills by
     * playing slower */
    GST_INFO_OBJECT (self, "room grown from %.1f to %.1f ms: audio came "
        "%.1f ms later than the room allowed", target / GST_MSECOND,
        want / GST_MSECOND, backlog / GST_MSECOND);
    self->target = (GstClockTime) want;
    self->ema = MIN (level, want);
    self->grows++;
    self->clk_break = TRUE;     /* the sink played silence for it */
    if (!self->tracking) {
      /* the late audio moved the corrections: acquire the rate afresh */
      self->lock_time = now;
      self->acq_sum = self->acq_time = 0.0;
      gst_audio_jitter_buffer_acq_clear (self);
    }
    return TRUE;
  }
  if (want < target) {
    self->target = (GstClockTime) (target - MIN (target - want,
            ADAPT_SHRINK_RATE * dt * GST_SECOND));
    GST_LOG_OBJECT (self, "room shrinking to %.2f ms (%.2f ms wanted)",
        (gdouble) self->target / GST_MSECOND, want / GST_MSECOND);
  }
  return FALSE;
}

/* One averaging window is complete: re-lock if far off, else steer. */
static void
gst_audio_jitter_buffer_window_done (GstAudioJitterBuffer * self,
    GstClockTime now)
{
  gdouble target = (gdouble) self->target;
  gdouble thr = MAX (20.0 * GST_MSECOND, target / 2.0);
  gdouble mean = self->win_sum / self->win_n;
  gdouble room = self->win_low[0];       /* what the latest arrival had left */
  gboolean averaged = self->sink && now > self->win_start;
  gdouble low = gst_audio_jitter_buffer_window_low (self);
  gdouble dt = (gdouble) (now - self->win_start) / GST_SECOND;
  gdouble e, c, sample, kp = CTRL_KP, ki = CTRL_KI, tau = CTRL_EMA_TAU;
  gdouble ff = 0.0;

  dt = CLAMP (dt, 0.01, 2.0);
  if (averaged) {
    gst_audio_jitter_buffer_occupancy_note (self, now);
    mean = self->occ_area / (gdouble) (now - self->win_start);
  }
  self->win_last = room;
  if (self->settling) {
    target = gst_audio_jitter_buffer_e2e_room (self, low, target);
    /* the first arrivals after a lock come in a burst or trickle, and the
     * sink may hold the first chunks a while: put each of the first windows
     * on the target at once (part of locking, not a re-lock).  A straggler
     * is jitter, not placement: it would leave the latency too high by as
     * much, to be steered out over tens of seconds. */
    /* playing at the sender's time, the first windows wait for what that
     * needs: the sender's clock and the sink's delay; then what it measures
     * does not depend on how the arrivals came, so one more window checks
     * the placement (a late joiner is in step at once) */
    if (!gst_audio_jitter_buffer_e2e_waiting (self, now)) {
      self->settling--;
      if (self->e2e > 0)
        self->settling = MIN (self->settling, 1);
    }
    self->spread = mean - low;
    self->win_last = low;
    if (low > target + SETTLE_TOLERANCE)
      gst_audio_jitter_buffer_drop (self, low - target, TRUE);
    else if (low < target - SETTLE_TOLERANCE)
      gst_audio_jitter_buffer_insert_silence (self, target - low);
    else
      self->ema = low;
    GST_DEBUG_OBJECT (self, "settling: window %.2f ms off the target "
        "(latest arrival %.2f ms, %u arrivals)", (low - target) / GST_MSECOND,
        (room - target) / GST_MSECOND, self->win_n);
    gst_audio_jitter_buffer_window_reset (self, now);
    return;
  }
  if (self->adapt && self->sink) {
    if (gst_audio_jitter_buffer_adapt (self, now, low, mean - self->spread,
            dt)) {
      self->cut_wait = 0;
      gst_audio_jitter_buffer_window_reset (self, now);
      return;
    }
    target = (gdouble) self->target;
  }
  target = gst_audio_jitter_buffer_e2e_room (self, self->ema, target);
  thr = MAX (20.0 * GST_MSECOND, target / 2.0);
  if (low > target + MAX (BACKLOG_MIN, target / 2.0)) {
    /* (nearly) everything arrived far too early: a stale backlog.  It is
     * cut in a pause if one comes soon (nothing audible lost), else where
     * the queue is quietest */
    gboolean force = self->cut_wait >= CUT_WAIT_WINDOWS ||
        low - target > CUT_WAIT_MAX;

    if (!gst_audio_jitter_buffer_drop (self, low - target, force)) {
      self->cut_wait++;
      GST_DEBUG_OBJECT (self, "%.1f ms of backlog beyond the target: "
          "waiting for a pause to cut it", (low - target) / GST_MSECOND);
      gst_audio_jitter_buffer_window_reset (self, now);
      return;
    }
    GST_INFO_OBJECT (self, "re-lock: %.1f ms of backlog beyond the target, "
        "dropped%s", (low - target) / GST_MSECOND, force ? "" :
        " in a pause");
    self->cut_wait = 0;
    self->corrections++;
    gst_audio_jitter_buffer_relock_reset (self, now);
    return;
  }
  self->cut_wait = 0;
  if (self->win_max < target - thr) {
    /* everything arrived too late: restore the jitter room with silence */
    GST_INFO_OBJECT (self, "re-lock: %.1f ms short of the target, inserting "
        "silence", (target - room) / GST_MSECOND);
    gst_audio_jitter_buffer_insert_silence (self, target - room);
    self->corrections++;
    gst_audio_jitter_buffer_relock_reset (self, now);
    return;
  }

  /* steer the room of the latest arrivals to the target: that is the room
   * left for jitter.  It is taken as the window's mean less how far the
   * latest arrivals usually trail it (smoothed over ~10 s), which is as
   * steady as the mean and does not let one straggler yank the rate; the
   * trail is measured as settling measured it, stragglers passed over. */
  sample = mean - low;
  /* paced by a sink, the offset of the time average from the arrivals'
   * room stays as settling measured it: the arrivals' room wanders with
   * the phase of the two clocks' chunks (see _occupancy_note) */
  if (!averaged)
    self->spread += (MIN (sample, 2.0 * self->spread + thr) - self->spread) *
        dt / (CTRL_SPREAD_TAU + dt);
  if (sample > 2.0 * self->spread + thr) {
    /* a burst (or a straggler) far beyond the usual spread: not drift; a
     * burst of backlog that lasts is dropped by the next window */
    GST_DEBUG_OBJECT (self, "window from %.2f to %.2f ms: not steering",
        room / GST_MSECOND, self->win_max / GST_MSECOND);
    gst_audio_jitter_buffer_window_reset (self, now);
    return;
  }
  room = MAX (mean - self->spread, target - thr);
  self->win_last = room;
  if (averaged && GST_CLOCK_TIME_IS_VALID (self->lock_time)
      && now > self->lock_time + CTRL_ACQUIRE_TIME) {
    if (!self->tracking) {
      /* the fast loop swings around the clocks' difference: start the
       * slow one from the difference the acquiring saw.  The room is the
       * difference less the correction, integrated, so the room plus the
       * correction integrated so far grows by the difference: the slope of
       * a line through them.  The mean of the correction alone counted
       * what steered the room down to the target as well: the slow loop
       * started from 1175-1300 ppm for a sender at +1000 (as far the other
       * way at -1000) and at its 0.1/s took the next minute to steer it
       * out, the latency 2-4 ms off meanwhile */
      if (self->acq_n >= 3) {
        gdouble den = self->acq_n * self->acq_stt - self->acq_st * self->acq_st;

        if (den > 0.0)
          self->integ = (self->acq_n * self->acq_sty - self->acq_st *
              self->acq_sy) / den;
      }
      self->tracking = TRUE;
      GST_INFO_OBJECT (self, "tracking the drift: %.1f ppm",
          self->integ * 1e6);
    }
    kp = CTRL_KP_TRACK;
    ki = CTRL_KI_TRACK;
    tau = CTRL_EMA_TAU_TRACK;
  }
  /* playing at the sender's time, the correction starts from the
   * sender's rate once known (feed-forward) and the loop takes up only
   * the rest.  It acquires at the slower gains from the start: the
   * end-to-end measure through a jittery link is noisier than the room,
   * more so while a late joiner's reading of the sender's clock settles
   * (at 0.8/0.16 one multiroom-sync run had the receivers 6 ms apart,
   * 0.2-2.8 before, and a multiroom-late joiner in CI swung 75-151 ms, at
   * the clamp, and lost 7 bursts in its first 3 s) */
  if (self->e2e > 0 && self->have_sender && self->sender_est.rate_known)
    ff = CLAMP (self->sender_est.ppm * 1e-6, -self->max_corr, self->max_corr);
  if (self->e2e > 0 && !self->tracking) {
    kp = CTRL_KP_FF;
    ki = CTRL_KI_FF;
  }
  self->ema += (room - self->ema) * dt / (tau + dt);
  e = (self->ema - target) / GST_SECOND;
  self->integ += ki * e * dt;
  self->integ = CLAMP (self->integ, -self->max_corr - ff, self->max_corr - ff);
  c = CLAMP (ff + kp * e + self->integ, -self->max_corr, self->max_corr);
  if (!self->tracking && GST_CLOCK_TIME_IS_VALID (self->lock_time)
      && now > self->lock_time + CTRL_ACQUIRE_SKIP) {
    /* this window's room, and what was corrected before it */
    gdouble y = room / GST_SECOND + self->acq_sum;

    self->acq_n++;
    self->acq_st += self->acq_time;
    self->acq_stt += self->acq_time * self->acq_time;
    self->acq_sy += y;
    self->acq_sty += self->acq_time * y;
    self->acq_sum += (c - ff) * dt;
    self->acq_time += dt;
  }
  self->step = 1.0 + c;
  gst_audio_jitter_buffer_resampler_steer (self);
  if (self->sink_clock
      && gst_debug_category_get_threshold (GST_CAT_DEFAULT) >= GST_LEVEL_LOG) {
    GstClockTime played = gst_clock_get_time (self->sink_clock);
    gdouble written = (gdouble) self->out_samples * GST_SECOND /
        GST_AUDIO_INFO_RATE (&self->info);

    GST_LOG_OBJECT (self, "sink: written %.2f ms, its clock %.2f ms, "
        "written - clock %.2f ms, queued here %.2f ms, monotonic - clock "
        "%.3f ms", written / GST_MSECOND,
        (gdouble) played / GST_MSECOND, (written - (gdouble) played) /
        GST_MSECOND, gst_audio_jitter_buffer_queued (self) / GST_MSECOND,
        (g_get_monotonic_time () * 1000.0 - (gdouble) played) / GST_MSECOND);
  }
  GST_LOG_OBJECT (self, "latency %.2f ms, target %.2f (window min %.2f, "
      "mean %.2f, max %.2f, %u arrivals), correction %.1f ppm (%.1f of it "
      "integrated, %.1f fed forward)", self->ema / GST_MSECOND,
      target / GST_MSECOND, self->win_low[0] / GST_MSECOND,
      mean / GST_MSECOND, self->win_max / GST_MSECOND, self->win_n, c * 1e6,
      self->integ * 1e6, ff * 1e6);
  gst_audio_jitter_buffer_window_reset (self, now);
}

static void
gst_audio_jitter_buffer_reset (GstAudioJitterBuffer * self)
{
  gst_audio_jitter_buffer_fifo_clear (self);
  self->locked = FALSE;
  self->starved = FALSE;
  self->eos = FALSE;
  self->need_segment = TRUE;
  self->out_discont = TRUE;
  self->ever_locked = FALSE;
  self->out_base = 0;
  self->out_samples = 0;
  self->last_push = GST_CLOCK_TIME_NONE;
  self->in_flight = 0;
  self->occ_area = self->occ_level = 0.0;
  self->occ_time = GST_CLOCK_TIME_NONE;

  self->expected_pts = GST_CLOCK_TIME_NONE;
  self->step = 1.0;
  if (self->resampler) {
    gst_audio_resampler_reset (self->resampler);
    gst_audio_jitter_buffer_resampler_steer (self);
  }
  self->integ = 0.0;
  self->lock_time = GST_CLOCK_TIME_NONE;
  self->tracking = FALSE;
  self->acq_sum = self->acq_time = 0.0;
  gst_audio_jitter_buffer_acq_clear (self);
  self->ema = self->win_last = (gdouble) self->target;
  self->spread = 0.0;
  self->win_n = 0;
  self->need_n = self->need_i = 0;
  self->deficit_time = GST_CLOCK_TIME_NONE;
  self->calm_low = self->pre_deficit_low = (gdouble) self->target;
  self->e2e_measured = -1.0;
  self->e2e_need = 0.0;
  self->tail_captured = -1.0;
  gst_audio_jitter_buffer_clock_clear (self);
  gst_segment_init (&self->in_segment, GST_FORMAT_TIME);
}

/* ---- input ---- */

static GstFlowReturn
gst_audio_jitter_buffer_chain (GstPad * pad, GstObject * parent,
    GstBuffer * buf)
{
  GstAudioJitterBuffer *self = GST_AUDIO_JITTER_BUFFER (parent);
  GstMapInfo map;
  GstClockTime now, rt;
  guint rate, channels, bpf;
  gsize n, i;
  gfloat *dst;

  g_mutex_lock (&self->lock);
  if (self->flushing) {
    g_mutex_unlock (&self->lock);
    gst_buffer_unref (buf);
    return GST_FLOW_FLUSHING;
  }
  if (!self->have_info) {
    g_mutex_unlock (&self->lock);
    gst_buffer_unref (buf);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("audiojitterbuffer received audio before its format; put "
            "audioconvert in front of it."), (NULL));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (self->eos) {
    g_mutex_unlock (&self->lock);
    gst_buffer_unref (buf);
    return GST_FLOW_EOS;
  }

  rate = GST_AUDIO_INFO_RATE (&self->info);
  channels = GST_AUDIO_INFO_CHANNELS (&self->info);
  bpf = GST_AUDIO_INFO_BPF (&self->info);
  rt = gst_segment_to_running_time (&self->in_segment, GST_FORMAT_TIME,
      GST_BUFFER_PTS (buf));
  now = gst_audio_jitter_buffer_now (self);
  gst_buffer_map (buf, &map, GST_MAP_READ);
  n = map.size / bpf;

  if (!self->locked) {
    /* anchor the output: it starts with silence, the target at least, so
     * that the first audio waits the target here; its timestamps put the
     * first audio at its arrival (a synchronising sink adds the pipeline
     * latency, which includes the target) */
    gst_audio_jitter_buffer_fifo_clear (self);
    if (self->resampler)
      gst_audio_resampler_reset (self->resampler);
    if (!self->ever_locked) {
      GstClockTime anchor = GST_CLOCK_TIME_IS_VALID (now) ? now :
          GST_CLOCK_TIME_IS_VALID (rt) ? rt : 0;

      GstClockTime lead = MIN (anchor, self->target);

      self->out_base = anchor - lead;
      self->out_samples = 0;
      self->pending_silence = gst_util_uint64_scale_int (lead, rate,
          GST_SECOND);
    } else {
      /* after a format change: keep the timeline, re-lock on this arrival */
      self->starved = TRUE;
    }
    self->locked = TRUE;
    self->ever_locked = TRUE;
    self->tracking = FALSE;     /* acquires afresh (relock_reset) */
    self->expected_pts = GST_CLOCK_TIME_NONE;
    gst_audio_jitter_buffer_clock_clear (self);
    gst_audio_jitter_buffer_relock_reset (self, now);
    GST_INFO_OBJECT (self, "locked at %" GST_TIME_FORMAT ", target %"
        GST_TIME_FORMAT, GST_TIME_ARGS (self->out_base),
        GST_TIME_ARGS (self->target));
  }

  /* timestamps that jump (either way) start the rate measurement afresh */
  if (GST_CLOCK_TIME_IS_VALID (rt) && GST_CLOCK_TIME_IS_VALID (self->expected_pts)
      && (rt > self->expected_pts + GAP_TOLERANCE
          || rt + GAP_TOLERANCE < self->expected_pts))
    gst_audio_jitter_buffer_clock_clear (self);

  /* a gap in the timestamps (frames lost upstream) becomes silence, as much
   * of it as the arrival is late: frames lost on the way leave the time they
   * would have taken (fill it all), while a sender that skipped ahead sends
   * the next audio on time (fill nothing) */
  if (!self->starved && GST_CLOCK_TIME_IS_VALID (rt)
      && GST_CLOCK_TIME_IS_VALID (self->expected_pts)
      && rt > self->expected_pts + GAP_TOLERANCE
      && rt < self->expected_pts + GAP_MAX) {
    gdouble gap_ns = (gdouble) (rt - self->expected_pts), fill_ns = gap_ns;
    guint64 fill;

    if (GST_CLOCK_TIME_IS_VALID (now)) {
      fill_ns = CLAMP (self->ema - gst_audio_jitter_buffer_measure (self, now),
          0.0, gap_ns);
      /* the room wobbles by a fraction of a millisecond as the ratio is
       * steered: that is no lateness */
      if (fill_ns < GAP_LATE_MIN)
        fill_ns = 0.0;
    }
    fill = (guint64) (fill_ns * rate / GST_SECOND + 0.5);
    GST_INFO_OBJECT (self, "gap of %.1f ms in the input (arrived %.1f ms "
        "late): %.1f ms of silence", gap_ns / GST_MSECOND, fill_ns /
        GST_MSECOND, (gdouble) fill * 1000.0 / rate);
    memset (gst_audio_jitter_buffer_fifo_tail (self, fill), 0,
        fill * channels * sizeof (gfloat));
    self->silence_filled += fill;
    self->gaps++;
  }

  if (GST_CLOCK_TIME_IS_VALID (now)) {
    gdouble m = gst_audio_jitter_buffer_measure (self, now);

    if (self->starved) {
      /* audio is back after running dry: give it the full jitter room */
      if (m < (gdouble) self->target)
        gst_audio_jitter_buffer_insert_silence (self,
            (gdouble) self->target - m);
      if (self->ever_locked && self->frames_in > 0)
        self->corrections++;
      self->starved = FALSE;
      GST_INFO_OBJECT (self, "re-locked after running dry (%.1f ms short)",
          ((gdouble) self->target - m) / GST_MSECOND);
      gst_audio_jitter_buffer_relock_reset (self, now);
      m = gst_audio_jitter_buffer_measure (self, now);
    }
    gst_audio_jitter_buffer_window_add (self, m);
    if (self->e2e > 0 && self->have_sender && GST_CLOCK_TIME_IS_VALID (rt)
        && (GstClockTimeDiff) rt >= self->sender_ts_offset) {
      /* when the sender captured this arrival's first sample, on our
       * clock; with a sink, the end of it is noted for after a take (see
       * _sink_delay_note), else the delay is when it will leave less that */
      GstClockTime captured = qs_clock_estimate_to_local (&self->sender_est,
          (GstClockTime) ((GstClockTimeDiff) rt - self->sender_ts_offset));

      if (self->sink) {
        self->tail_captured = (gdouble) captured + (gdouble) n * GST_SECOND /
            rate / (1.0 + self->sender_est.ppm * 1e-6);
      } else {
        self->p_sum += (gdouble) now + m - (gdouble) captured;
        self->p_n++;
      }
    }
    GST_LOG_OBJECT (self, "arrival: %" G_GSIZE_FORMAT " frames, pts %"
        GST_TIME_FORMAT ", room %.2f ms, monotonic %" G_GINT64_FORMAT " us",
        n, GST_TIME_ARGS (rt), m / GST_MSECOND, g_get_monotonic_time ());
  }

  dst = gst_audio_jitter_buffer_fifo_tail (self, n);
  if (GST_AUDIO_INFO_FORMAT (&self->info) == GST_AUDIO_FORMAT_F32LE) {
    memcpy (dst, map.data, n * bpf);
  } else {
    const gint16 *s = (const gint16 *) map.data;

    for (i = 0; i < n * channels; i++)
      dst[i] = s[i] * (1.0f / 32768.0f);
  }
  gst_buffer_unmap (buf, &map);
  self->frames_in += n;
  if (GST_CLOCK_TIME_IS_VALID (rt)) {
    self->expected_pts = rt + gst_util_uint64_scale_int (n, GST_SECOND, rate);
    if (self->clk_by_sink != (self->sink != NULL)) {
      /* timed another way from now on */
      gst_audio_jitter_buffer_clock_clear (self);
      self->clk_by_sink = self->sink != NULL;
    }
    if (self->sink || GST_CLOCK_TIME_IS_VALID (now)) {
      self->clk_now = self->sink ? gst_audio_jitter_buffer_card_time (self,
          rate) : (gdouble) now;
      self->off_min = MIN (self->off_min,
          self->clk_now - (gdouble) self->expected_pts);
    }
  }

  gst_audio_jitter_buffer_occupancy_note (self, now);
  if (GST_CLOCK_TIME_IS_VALID (now) && self->win_n > 0
      && now >= self->win_start + WINDOW_TIME) {
    gst_audio_jitter_buffer_clock_note (self);
    gst_audio_jitter_buffer_window_done (self, now);
  }

  /* a safety net for when there is no clock to measure against */
  if (self->in_total - self->rd >
      gst_util_uint64_scale_int (self->target + FIFO_HEADROOM, rate,
          GST_SECOND)) {
    guint64 excess = self->in_total - self->rd -
        gst_util_uint64_scale_int (self->target, rate, GST_SECOND);

    GST_WARNING_OBJECT (self, "overrun: discarding %" G_GUINT64_FORMAT
        " frames", excess);
    self->rd += excess;
    self->dropped += excess;
    self->overruns++;
    gst_audio_jitter_buffer_fifo_trim (self);
  }

  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
  gst_buffer_unref (buf);
  return GST_FLOW_OK;
}

/* ---- output ---- */

/* Produces @frames output frames into a new buffer: pending silence first,
 * then the queued audio through the resampler; what cannot be made from
 * the queue is silence (counted, unless draining at the end).  Returns the
 * frames of audio it lacked. */
static GstBuffer *
gst_audio_jitter_buffer_produce (GstAudioJitterBuffer * self, guint frames,
    guint * lacking)
{
  guint channels = GST_AUDIO_INFO_CHANNELS (&self->info);
  gboolean f32 = GST_AUDIO_INFO_FORMAT (&self->info) == GST_AUDIO_FORMAT_F32LE;
  GstBuffer *buf = gst_buffer_new_allocate (NULL,
      (gsize) frames * GST_AUDIO_INFO_BPF (&self->info), NULL);
  GstMapInfo map;
  gfloat *out;
  guint j = 0, i;

  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  if (!f32 && self->scratch_alloc < (gsize) frames * channels) {
    self->scratch_alloc = (gsize) frames * channels;
    self->scratch = g_renew (gfloat, self->scratch, self->scratch_alloc);
  }
  out = f32 ? (gfloat *) map.data : self->scratch;

  if (self->pending_silence > 0) {
    j = (guint) MIN ((guint64) frames, self->pending_silence);
    memset (out, 0, (gsize) j * channels * sizeof (gfloat));
    self->pending_silence -= j;
  }
  if (j < frames && self->resampler && self->in_total > self->rd) {
    gsize n = MIN (frames - j, gst_audio_resampler_get_out_frames
        (self->resampler, self->in_total - self->rd));

    if (n > 0) {
      gsize avail = self->in_total - self->rd;
      gsize need = MIN (gst_audio_resampler_get_in_frames (self->resampler,
              n), avail);
      gpointer in[1], o[1];
      gint64 t0 = g_get_monotonic_time ();

      /* what it consumes for n frames, and what its filter must see ahead
       * of them: the least input that makes n frames */
      while (need < avail
          && gst_audio_resampler_get_out_frames (self->resampler, need) < n)
        need++;
      in[0] = self->fifo + (self->rd - self->fifo_first) * channels;
      o[0] = out + (gsize) j * channels;
      gst_audio_resampler_resample (self->resampler, in, need, o, n);
      self->resample_ns += (g_get_monotonic_time () - t0) * 1000;
      self->rd += need;
      j += n;
    }
  }
  *lacking = frames - j;
  if (j < frames) {
    memset (out + (gsize) j * channels, 0,
        (gsize) (frames - j) * channels * sizeof (gfloat));
    if (!self->eos)
      self->silence_filled += frames - j;
  }
  if (!f32) {
    gint16 *o = (gint16 *) map.data;

    for (i = 0; i < frames * channels; i++)
      o[i] = (gint16) CLAMP (lrintf (out[i] * 32768.0f), -32768, 32767);
  }
  gst_buffer_unmap (buf, &map);
  return buf;
}

static void
gst_audio_jitter_buffer_loop (GstPad * pad)
{
  GstAudioJitterBuffer *self = GST_AUDIO_JITTER_BUFFER (GST_PAD_PARENT (pad));
  GstBuffer *buf;
  GstEvent *segment_event = NULL;
  GstFlowReturn ret;
  GstClockTime pts, next;
  guint frames = 0, rate, gen, lacking = 0;

  g_mutex_lock (&self->lock);
  for (;;) {
    GstClockTime now, deadline, due;
    gsize have;

    if (self->flushing)
      goto flushing;
    if (!self->locked || !self->have_info) {
      if (self->eos)
        goto eos;
      g_cond_wait (&self->cond, &self->lock);
      continue;
    }
    if (!self->sink_searched) {
      GstAudioBaseSink *found;
      gint64 buffer_time = 0;   /* the sink's, in microseconds */

      g_mutex_unlock (&self->lock);
      found = gst_audio_jitter_buffer_find_sink (self);
      if (found)
        g_object_get (found, "buffer-time", &buffer_time, NULL);
      g_mutex_lock (&self->lock);
      self->sink_searched = TRUE;
      gst_object_replace ((GstObject **) & self->sink, (GstObject *) found);
      if (found) {
        GstClock *c = gst_element_provide_clock (GST_ELEMENT (found));

        gst_object_replace ((GstObject **) & self->sink_clock, (GstObject *) c);
        if (c)
          gst_object_unref (c);
        GST_INFO_OBJECT (self, "%" GST_PTR_FORMAT " paces the output",
            found);
        gst_object_unref (found);
        /* fill its buffer at once, so that it blocks from the start */
        if (self->out_samples == 0) {
          GstClockTime fill = MAX (PREROLL_MIN, buffer_time * GST_USECOND +
              PREROLL_MIN / 2);

          if (self->target < fill)
            self->pending_silence += gst_util_uint64_scale_int (fill -
                self->target, GST_AUDIO_INFO_RATE (&self->info), GST_SECOND);
        }
      } else {
        GST_INFO_OBJECT (self, "no audio sink downstream: pacing the "
            "output on the clock");
      }
      continue;
    }
    rate = GST_AUDIO_INFO_RATE (&self->info);
    frames = MAX (1, gst_util_uint64_scale_int (CLAMP (self->target / 4,
                CHUNK_MIN, CHUNK_MAX), rate, GST_SECOND));
    have = gst_audio_jitter_buffer_available (self);
    if (self->eos) {
      /* drain what is left, then end */
      if (have < 1)
        goto eos;
      frames = MIN (frames, (guint) have);
      break;
    }
    now = gst_audio_jitter_buffer_now (self);
    if (self->sink) {
      /* paced by the sink: what is there goes at once, the push blocks
       * until the sink has room.  When nothing comes the sink's buffer
       * covers the gap, and beyond that it plays silence of its own; the
       * room shows both (see _measure) */
      if (have > 0) {
        frames = MIN (have, gst_util_uint64_scale_int (CHUNK_MAX, rate,
                GST_SECOND));
        break;
      }
      g_cond_wait_until (&self->cond, &self->lock,
          g_get_monotonic_time () + 20 * G_TIME_SPAN_MILLISECOND);
      continue;
    }
    if (!GST_CLOCK_TIME_IS_VALID (now)) {
      /* no clock: nothing to pace against but downstream */
      if (have >= frames)
        break;
      g_cond_wait_until (&self->cond, &self->lock,
          g_get_monotonic_time () + 20 * G_TIME_SPAN_MILLISECOND);
      continue;
    }
    /* paced by the clock: a chunk goes PUSH_LEAD before it is due (its
     * timestamp plus the target); if its audio is not there by then, it is
     * silence */
    due = gst_audio_jitter_buffer_out_next (self) + self->target;
    if (have >= frames && now + PUSH_LEAD >= due)
      break;
    deadline = due > PUSH_LEAD ? due - PUSH_LEAD : 0;
    if (now < deadline) {
      GstClockTime wait = MIN (deadline - now, 20 * GST_MSECOND);

      if (have >= frames && due > PUSH_LEAD + now)
        wait = MIN (wait, due - PUSH_LEAD - now);
      g_cond_wait_until (&self->cond, &self->lock,
          g_get_monotonic_time () + MAX (wait / GST_USECOND, 1));
      continue;
    }
    break;
  }

  buf = gst_audio_jitter_buffer_produce (self, frames, &lacking);
  if (lacking > 0 && !self->eos) {
    if (!self->starved) {
      self->underruns++;
      GST_INFO_OBJECT (self, "underrun: %u of %u frames missing, filling "
          "silence", lacking, frames);
    }
    /* new audio starts afresh after the silence */
    self->starved = TRUE;
  }
  pts = gst_audio_jitter_buffer_out_next (self);
  self->out_samples += frames;
  self->frames_out += frames;
  next = gst_audio_jitter_buffer_out_next (self);
  gst_audio_jitter_buffer_fifo_trim (self);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = next - pts;
  GST_BUFFER_OFFSET (buf) = self->out_samples - frames;
  GST_BUFFER_OFFSET_END (buf) = self->out_samples;
  if (self->out_discont) {
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    self->out_discont = FALSE;
  }
  if (self->need_segment) {
    GstSegment seg;

    gst_segment_init (&seg, GST_FORMAT_TIME);
    segment_event = gst_event_new_segment (&seg);
    self->need_segment = FALSE;
  }
  gen = self->caps_gen;
  g_mutex_unlock (&self->lock);

  g_mutex_lock (&self->push_lock);
  if (segment_event)
    gst_pad_push_event (self->srcpad, segment_event);
  g_mutex_lock (&self->lock);
  if (gen != self->caps_gen) {
    /* the format changed while this chunk was made: it is stale */
    g_mutex_unlock (&self->lock);
    g_mutex_unlock (&self->push_lock);
    gst_buffer_unref (buf);
    return;
  }
  self->in_flight = frames;
  if (self->e2e > 0 && self->sink_clock && GST_IS_AUDIO_CLOCK (self->sink_clock)
      && !GST_CLOCK_TIME_IS_VALID (self->sink_clock_base)) {
    /* the sink's first sample: what it has played counts from here */
    self->sink_clock_base =
        gst_audio_clock_get_time (GST_AUDIO_CLOCK (self->sink_clock));
  }
  g_mutex_unlock (&self->lock);
  ret = gst_pad_push (self->srcpad, buf);
  g_mutex_lock (&self->lock);
  self->in_flight = 0;
  /* the sink took it: the card's time between takes, for the clock
   * readout (gst_audio_jitter_buffer_clock_note) */
  self->clk_push_frames = self->frames_out;
  self->clk_push_mono = g_get_monotonic_time ();
  self->clk_push_len = (gdouble) frames * GST_SECOND / rate;
  self->last_push = gst_audio_jitter_buffer_now (self);
  gst_audio_jitter_buffer_occupancy_note (self, self->last_push);
  if (self->e2e > 0 && ret == GST_FLOW_OK)
    gst_audio_jitter_buffer_sink_delay_note (self);

  g_mutex_unlock (&self->lock);
  g_mutex_unlock (&self->push_lock);

  if (ret != GST_FLOW_OK) {
    GST_DEBUG_OBJECT (self, "pausing: %s", gst_flow_get_name (ret));
    if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) {
      GST_ELEMENT_FLOW_ERROR (self, ret);
      gst_pad_push_event (self->srcpad, gst_event_new_eos ());
    }
    gst_pad_pause_task (self->srcpad);
  }
  return;

flushing:
  g_mutex_unlock (&self->lock);
  gst_pad_pause_task (self->srcpad);
  return;

eos:
  /* nothing went out yet (no sender ever got through): a segment still
   * goes before the EOS, as elements downstream expect one */
  if (self->need_segment) {
    GstSegment seg;

    gst_segment_init (&seg, GST_FORMAT_TIME);
    segment_event = gst_event_new_segment (&seg);
    self->need_segment = FALSE;
  }
  g_mutex_unlock (&self->lock);
  GST_INFO_OBJECT (self, "drained; pushing EOS");
  g_mutex_lock (&self->push_lock);
  if (segment_event)
    gst_pad_push_event (self->srcpad, segment_event);
  gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  g_mutex_unlock (&self->push_lock);
  gst_pad_pause_task (self->srcpad);
}

/* ---- events, queries, activation ---- */

static gboolean
gst_audio_jitter_buffer_sink_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstAudioJitterBuffer *self = GST_AUDIO_JITTER_BUFFER (parent);
  gboolean ret = TRUE;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      GstAudioInfo info;

      gst_event_parse_caps (event, &caps);
      if (!gst_audio_info_from_caps (&info, caps)) {
        gst_event_unref (event);
        return FALSE;
      }
      g_mutex_lock (&self->push_lock);
      g_mutex_lock (&self->lock);
      if (!self->have_info || !gst_audio_info_is_equal (&info, &self->info)) {
        if (self->have_info) {
          /* the queued audio is in the old format: it cannot be played */
          GST_INFO_OBJECT (self, "format changed; re-locking");
          self->dropped += self->in_total - self->rd;
          self->locked = FALSE;
        }
        gst_audio_jitter_buffer_fifo_clear (self);
        self->info = info;
        self->have_info = TRUE;
        self->caps_gen++;
        gst_audio_jitter_buffer_resampler_setup (self);
        gst_audio_jitter_buffer_resampler_steer (self);
      }
      g_mutex_unlock (&self->lock);
      ret = gst_pad_push_event (self->srcpad, event);
      g_mutex_unlock (&self->push_lock);
      return ret;
    }
    case GST_EVENT_SEGMENT:
      g_mutex_lock (&self->lock);
      gst_event_copy_segment (event, &self->in_segment);
      g_mutex_unlock (&self->lock);
      if (self->in_segment.format != GST_FORMAT_TIME) {
        GST_ELEMENT_ERROR (self, STREAM, FORMAT,
            ("audiojitterbuffer needs timestamped audio (a TIME segment); "
                "put it after a decoder or parser that timestamps."), (NULL));
        ret = FALSE;
      }
      gst_event_unref (event);
      return ret;
    case GST_EVENT_CUSTOM_DOWNSTREAM_STICKY:{
      QsClockEstimate est;
      GstClockTimeDiff ts_offset;
      gboolean synced;

      if (qs_clock_event_parse (event, &synced, &est, &ts_offset)) {
        g_mutex_lock (&self->lock);
        if (synced && !self->have_sender && self->e2e > 0 && self->locked) {
          /* first heard of the sender's clock while playing: put the audio
           * on its time at once, as locking does */
          GST_INFO_OBJECT (self, "the sender's clock is known: placing the "
              "audio %" GST_TIME_FORMAT " after its capture",
              GST_TIME_ARGS (self->e2e));
          self->settling = SETTLE_WINDOWS;
          gst_audio_jitter_buffer_window_reset (self, self->win_start);
        }
        self->have_sender = synced;
        self->sender_est = est;
        self->sender_ts_offset = ts_offset;
        g_mutex_unlock (&self->lock);
        /* taken here: nothing after this element needs it, and passing it
         * on would wait for the push in progress (the sink's pace), four
         * times a second, holding up the arrivals behind it */
        gst_event_unref (event);
        return TRUE;
      }
      g_mutex_lock (&self->push_lock);
      ret = gst_pad_push_event (self->srcpad, event);
      g_mutex_unlock (&self->push_lock);
      return ret;
    }
    case GST_EVENT_GAP:
      /* silence is made here, on the clock */
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_EOS:
      g_mutex_lock (&self->lock);
      if (self->have_info && self->locked && !self->eos && self->resampler) {
        /* flush the resampler's look-ahead: the last input comes out */
        memset (gst_audio_jitter_buffer_fifo_tail (self, self->rs_latency),
            0, self->rs_latency * GST_AUDIO_INFO_CHANNELS (&self->info) *
            sizeof (gfloat));
      }
      self->eos = TRUE;
      g_cond_signal (&self->cond);
      g_mutex_unlock (&self->lock);
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_FLUSH_START:
      g_mutex_lock (&self->lock);
      self->flushing = TRUE;
      g_cond_signal (&self->cond);
      g_mutex_unlock (&self->lock);
      ret = gst_pad_push_event (self->srcpad, event);
      gst_pad_pause_task (self->srcpad);
      return ret;
    case GST_EVENT_FLUSH_STOP:
      g_mutex_lock (&self->lock);
      gst_audio_jitter_buffer_reset (self);
      self->flushing = FALSE;
      g_mutex_unlock (&self->lock);
      ret = gst_pad_push_event (self->srcpad, event);
      gst_pad_start_task (self->srcpad,
          (GstTaskFunction) gst_audio_jitter_buffer_loop, self->srcpad, NULL);
      return ret;
    default:
      if (GST_EVENT_IS_SERIALIZED (event)) {
        g_mutex_lock (&self->push_lock);
        ret = gst_pad_push_event (self->srcpad, event);
        g_mutex_unlock (&self->push_lock);
        return ret;
      }
      return gst_pad_event_default (pad, parent, event);
  }
}

static gboolean
gst_audio_jitter_buffer_src_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstAudioJitterBuffer *self = GST_AUDIO_JITTER_BUFFER (parent);

  if (GST_EVENT_TYPE (event) == GST_EVENT_LATENCY) {
    GstClockTime latency;

    /* the pipeline (re)configured its latency: the sink now plays each
     * timestamp that much later; mark the next chunk DISCONT so that it
     * places it by its timestamp again instead of right after the previous
     * one (an audio sink keeps offsets below its alignment threshold) */
    gst_event_parse_latency (event, &latency);
    GST_DEBUG_OBJECT (self, "pipeline latency %" GST_TIME_FORMAT,
        GST_TIME_ARGS (latency));
    g_mutex_lock (&self->lock);
    if (latency != self->configured_latency) {
      self->configured_latency = latency;
      self->out_discont = TRUE;
    }
    g_mutex_unlock (&self->lock);
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_audio_jitter_buffer_src_query (GstPad * pad, GstObject * parent,
    GstQuery * query)
{
  GstAudioJitterBuffer *self = GST_AUDIO_JITTER_BUFFER (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    GstClockTime min, max, target;
    gboolean live;

    if (!gst_pad_peer_query (self->sinkpad, query))
      return FALSE;
    gst_query_parse_latency (query, &live, &min, &max);
    GST_OBJECT_LOCK (self);
    target = self->latency;
    GST_OBJECT_UNLOCK (self);
    GST_DEBUG_OBJECT (self, "upstream latency %" GST_TIME_FORMAT " (live %d), "
        "adding the target %" GST_TIME_FORMAT, GST_TIME_ARGS (min), live,
        GST_TIME_ARGS (target));
    min += target;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += target;
    gst_query_set_latency (query, live, min, max);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

static gboolean
gst_audio_jitter_buffer_src_activate_mode (GstPad * pad, GstObject * parent,
    GstPadMode mode, gboolean active)
{
  GstAudioJitterBuffer *self = GST_AUDIO_JITTER_BUFFER (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (active) {
    g_mutex_lock (&self->lock);
    self->flushing = FALSE;
    g_mutex_unlock (&self->lock);
    return gst_pad_start_task (pad,
        (GstTaskFunction) gst_audio_jitter_buffer_loop, pad, NULL);
  }
  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
  return gst_pad_stop_task (pad);
}

static GstStateChangeReturn
gst_audio_jitter_buffer_change_state (GstElement * element,
    GstStateChange transition)
{
  GstAudioJitterBuffer *self = GST_AUDIO_JITTER_BUFFER (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    GstClockTime latency;
    guint max_corr;
    gboolean adaptive;
    GstClockTime e2e;

    GST_OBJECT_LOCK (self);
    latency = self->latency;
    max_corr = self->max_correction;
    adaptive = self->adaptive;
    e2e = self->end_to_end_latency;
    GST_OBJECT_UNLOCK (self);
    g_mutex_lock (&self->lock);
    self->target = self->floor = latency;
    self->e2e = e2e;
    self->have_sender = FALSE;
    self->sink_full = -1.0;
    self->sink_clock_base = GST_CLOCK_TIME_NONE;
    self->sink_noted = 0;
    self->sink_notes = 0;
    self->adapt = adaptive;
    self->grows = 0;
    self->max_corr = max_corr * 1e-6;
    self->configured_latency = GST_CLOCK_TIME_NONE;
    gst_audio_jitter_buffer_reset (self);
    self->have_info = FALSE;
    self->corrections = self->underruns = self->overruns = self->gaps = 0;
    self->silence_filled = self->dropped = 0;
    self->frames_in = self->frames_out = self->resample_ns = 0;
    self->clk_push_frames = 0;
    self->clk_push_mono = 0;
    g_mutex_unlock (&self->lock);
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    g_mutex_lock (&self->lock);
    g_clear_pointer (&self->fifo, g_free);
    g_clear_pointer (&self->resampler, gst_audio_resampler_free);
    gst_clear_object (&self->sink);
    gst_clear_object (&self->sink_clock);
    self->sink_searched = FALSE;
    self->have_sender = FALSE;
    self->sink_full = -1.0;
    self->sink_clock_base = GST_CLOCK_TIME_NONE;
    self->sink_notes = 0;
    self->fifo_alloc = 0;
    gst_audio_jitter_buffer_reset (self);
    self->have_info = FALSE;
    g_mutex_unlock (&self->lock);
  }
  return ret;
}

/* ---- properties ---- */

static GstStructure *
gst_audio_jitter_buffer_get_stats (GstAudioJitterBuffer * self)
{
  GstStructure *s;

  g_mutex_lock (&self->lock);
  s = gst_structure_new ("audiojitterbuffer-stats",
      "latency", G_TYPE_INT64, (gint64) self->ema,
      "latency-window", G_TYPE_INT64, (gint64) self->win_last,
      "target", G_TYPE_UINT64, (guint64) self->target,
      "room-grown", G_TYPE_UINT, self->grows,
      "drift-ppm", G_TYPE_DOUBLE, (self->step - 1.0) * 1e6,
      "clock-ppm", G_TYPE_DOUBLE, self->clock_ppm,
      "clock-span", G_TYPE_DOUBLE, self->clock_span,
      "corrections", G_TYPE_UINT, self->corrections,
      "silence-filled", G_TYPE_UINT64, self->silence_filled,
      "dropped", G_TYPE_UINT64, self->dropped,
      "underruns", G_TYPE_UINT, self->underruns,
      "overruns", G_TYPE_UINT, self->overruns,
      "gaps", G_TYPE_UINT, self->gaps,
      "samples-in", G_TYPE_UINT64, self->frames_in,
      "samples-out", G_TYPE_UINT64, self->frames_out,
      "pacing", G_TYPE_STRING, !self->locked ? "none" :
      self->sink ? "sink" : "clock",
      "sender-clock", G_TYPE_BOOLEAN, self->have_sender,
      "end-to-end-target", G_TYPE_UINT64, (guint64) self->e2e,
      "end-to-end", G_TYPE_INT64, (gint64) self->e2e_measured,
      "end-to-end-needed", G_TYPE_UINT64, (guint64) self->e2e_need,
      "sink-delay", G_TYPE_INT64, (gint64) self->sink_full,
      "resample-time", G_TYPE_UINT64, self->resample_ns, NULL);
  g_mutex_unlock (&self->lock);
  return s;
}

static void
gst_audio_jitter_buffer_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstAudioJitterBuffer *self = GST_AUDIO_JITTER_BUFFER (object);

  if (prop_id == PROP_LATENCY) {
    GstClockTime latency = g_value_get_uint64 (value), old;

    GST_OBJECT_LOCK (self);
    old = self->latency;
    self->latency = latency;
    GST_OBJECT_UNLOCK (self);
    if (latency == old)
      return;
    /* while playing: the measured latency moves with the target (nothing to
     * correct); the pipeline adds the difference to its latency */
    g_mutex_lock (&self->lock);
    self->ema += (gdouble) latency - (gdouble) self->target;
    self->win_last += (gdouble) latency - (gdouble) self->target;
    self->target = self->floor = latency;
    self->need_n = self->need_i = 0;
    gst_audio_jitter_buffer_window_reset (self, self->win_start);
    g_mutex_unlock (&self->lock);
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_latency (GST_OBJECT (self)));
    return;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MAX_CORRECTION:
      self->max_correction = g_value_get_uint (value);
      break;
    case PROP_ADAPTIVE:
      self->adaptive = g_value_get_boolean (value);
      break;
    case PROP_END_TO_END_LATENCY:
      self->end_to_end_latency = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_audio_jitter_buffer_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAudioJitterBuffer *self = GST_AUDIO_JITTER_BUFFER (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, gst_audio_jitter_buffer_get_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LATENCY:
      g_value_set_uint64 (value, self->latency);
      break;
    case PROP_MAX_CORRECTION:
      g_value_set_uint (value, self->max_correction);
      break;
    case PROP_ADAPTIVE:
      g_value_set_boolean (value, self->adaptive);
      break;
    case PROP_END_TO_END_LATENCY:
      g_value_set_uint64 (value, self->end_to_end_latency);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_audio_jitter_buffer_finalize (GObject * object)
{
  GstAudioJitterBuffer *self = GST_AUDIO_JITTER_BUFFER (object);

  g_free (self->fifo);
  g_free (self->scratch);
  g_clear_pointer (&self->resampler, gst_audio_resampler_free);
  gst_clear_object (&self->sink);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->push_lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_audio_jitter_buffer_class_init (GstAudioJitterBufferClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_audio_jitter_buffer_set_property;
  gobject_class->get_property = gst_audio_jitter_buffer_get_property;
  gobject_class->finalize = gst_audio_jitter_buffer_finalize;

  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint64 ("latency", "Latency",
          "The delay, in nanoseconds, held between the arrival of audio and "
          "its playback: the room for network jitter. It is kept for as long "
          "as the stream runs and added to LATENCY queries. Changing it "
          "while playing asks the pipeline to recalculate its latency.",
          GST_MSECOND, 10 * GST_SECOND, DEFAULT_LATENCY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MAX_CORRECTION,
      g_param_spec_uint ("max-correction", "Maximum correction",
          "The largest rate correction, in parts per million, used to follow "
          "the drift between the sender's and the receiver's clocks; 0 turns "
          "drift correction off.", 0, 20000, DEFAULT_MAX_CORRECTION, rw));
  g_object_class_install_property (gobject_class, PROP_ADAPTIVE,
      g_param_spec_boolean ("adaptive", "Adaptive room",
          "With an audio sink downstream, let the room adapt to the link.  "
          "When audio comes later than the room allows, the sink plays "
          "silence for it once, and the room grows at once (up to 500 ms) "
          "to hold the audio that follows instead of cutting it, so that "
          "the next such delay plays through.  30 s after the last such "
          "delay the room shrinks back by 0.5 ms a second, steered out by "
          "the resampler, down to latency, which is then the least room.  "
          "Off: the room stays at latency and such a backlog is cut.",
          FALSE, rw));
  g_object_class_install_property (gobject_class, PROP_END_TO_END_LATENCY,
      g_param_spec_uint64 ("end-to-end-latency", "End-to-end latency",
          "Play each sample this many nanoseconds after the sender captured "
          "it, on the sender's clock, which framedtcpsrc carries from a "
          "2.1 sender (timed heartbeats): receivers of one sender given the "
          "same value play in step.  It covers capture, codec, network, "
          "this element and the sink's buffer.  The room is then what that "
          "leaves, and latency (with adaptive, the room the link needs) "
          "the least of it: a value too low for the link plays that much "
          "later instead of glitching, and stats says what it needs "
          "(end-to-end-needed).  Until the sender's clock is known, or "
          "with 0 (the default), the room is held as latency says.",
          0, 10 * GST_SECOND, 0, rw));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Figures: latency (the measured latency, smoothed, ns), "
          "latency-window (the last 200 ms average, ns), target (ns; with "
          "adaptive, the room as it is now), room-grown (times the adaptive "
          "room grew), "
          "drift-ppm (the current rate correction), clock-ppm (how much "
          "faster the sender's clock runs than the one here, measured from "
          "the arrivals apart from the correction; 0 until clock-span, the "
          "seconds it spans, is 15 or more), corrections (re-locks: "
          "a stall, a reconnect or a backlog), silence-filled and dropped "
          "(samples), underruns, overruns, gaps, samples-in and samples-out, "
          "pacing (sink: the sink blocks and sets the pace; clock: chunks "
          "leave on the pipeline clock; none: not playing yet), "
          "resample-time (ns spent resampling), sender-clock (the "
          "sender's clock is known), end-to-end-target (the setting, ns), "
          "end-to-end (the delay from capture to the sound, measured on "
          "the sender's clock, ns; -1 until it is), end-to-end-needed (the "
          "delay the link needs when the setting is too low, else 0) and "
          "sink-delay (how long audio the audio sink has just taken waits "
          "in it before it is heard, from its clock, ns; -1 until known).",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Audio jitter buffer", "Filter/Audio",
      "Holds a target latency for live audio from another machine, "
      "absorbing network jitter and correcting clock drift by resampling",
      "qsound authors");

  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_audio_jitter_buffer_change_state);
}

static void
gst_audio_jitter_buffer_init (GstAudioJitterBuffer * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_audio_jitter_buffer_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_audio_jitter_buffer_sink_event));
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_audio_jitter_buffer_src_query));
  gst_pad_set_event_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_audio_jitter_buffer_src_event));
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_audio_jitter_buffer_src_activate_mode));
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->latency = DEFAULT_LATENCY;
  self->max_correction = DEFAULT_MAX_CORRECTION;
  self->target = self->floor = DEFAULT_LATENCY;
  self->max_corr = DEFAULT_MAX_CORRECTION * 1e-6;
  g_mutex_init (&self->lock);
  g_mutex_init (&self->push_lock);
  g_cond_init (&self->cond);
  gst_audio_jitter_buffer_reset (self);
}
