/* qsound-launch — a receiver takes the next sender in another codec.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * decodebin picks its decoder once, at the first caps; a second sender that
 * sends Opus after an mp3 one would meet mpegaudioparse and stop the
 * pipeline (not-negotiated).  framedtcpsrc marks the change with a new
 * stream-start; a probe on its pad swaps in a fresh decodebin right before
 * that event passes, and the old one is shut down off the streaming thread.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsl-replug.h"

typedef struct
{
  GstBin *bin;
  guint starts;
} QslReplug;

static void
qsl_replug_pad_added (GstElement * decode, GstPad * pad, gpointer user_data)
{
  GstPad *downstream = user_data;

  if (GST_PAD_IS_SRC (pad) && !gst_pad_is_linked (downstream)
      && gst_pad_link (pad, downstream) != GST_PAD_LINK_OK)
    GST_WARNING_OBJECT (decode, "could not link the new decoder's output");
}

static void
qsl_replug_unref (gpointer data, GClosure * closure)
{
  gst_object_unref (data);
}

static void
qsl_replug_drop (GstElement * old, gpointer user_data)
{
  GstBin *bin = user_data;

  gst_element_set_state (old, GST_STATE_NULL);
  gst_bin_remove (bin, old);
}

/* The sink pad the old decodebin's output feeds, or NULL. */
static GstPad *
qsl_replug_downstream (GstElement * old)
{
  GstIterator *it = gst_element_iterate_src_pads (old);
  GValue v = G_VALUE_INIT;
  GstPad *peer = NULL;

  while (!peer && gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    peer = gst_pad_get_peer (g_value_get_object (&v));
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return peer;
}

static GstPadProbeReturn
qsl_replug_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  QslReplug *r = user_data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstPad *old_sink, *downstream, *new_sink;
  GstElement *old, *fresh;

  if (GST_EVENT_TYPE (event) != GST_EVENT_STREAM_START || r->starts++ == 0)
    return GST_PAD_PROBE_OK;

  old_sink = gst_pad_get_peer (pad);
  if (!old_sink)
    return GST_PAD_PROBE_OK;
  old = gst_pad_get_parent_element (old_sink);
  downstream = old ? qsl_replug_downstream (old) : NULL;
  if (!downstream) {
    /* the first stream never got decoded: nothing to take over */
    gst_clear_object (&old);
    gst_object_unref (old_sink);
    return GST_PAD_PROBE_OK;
  }

  fresh = gst_element_factory_make ("decodebin", NULL);
  if (!fresh) {
    gst_object_unref (downstream);
    gst_object_unref (old);
    gst_object_unref (old_sink);
    return GST_PAD_PROBE_OK;
  }
  GST_INFO_OBJECT (old, "a new stream: replacing the decodebin");
  gst_pad_unlink (pad, old_sink);
  {
    GstPad *old_src = gst_pad_get_peer (downstream);

    if (old_src) {
      gst_pad_unlink (old_src, downstream);
      gst_object_unref (old_src);
    }
  }
  gst_bin_add (r->bin, fresh);
  g_signal_connect_data (fresh, "pad-added",
      G_CALLBACK (qsl_replug_pad_added), downstream,
      qsl_replug_unref, 0);
  gst_element_sync_state_with_parent (fresh);
  new_sink = gst_element_get_static_pad (fresh, "sink");
  gst_pad_link (pad, new_sink);
  gst_object_unref (new_sink);

  gst_element_call_async (old, qsl_replug_drop, gst_object_ref (r->bin),
      gst_object_unref);
  gst_object_unref (old);
  gst_object_unref (old_sink);
  return GST_PAD_PROBE_OK;
}

void
qsl_replug_install (GstElement * pipeline)
{
  GstElement *net = gst_bin_get_by_name (GST_BIN (pipeline), "net");
  GstElement *decode = gst_bin_get_by_name (GST_BIN (pipeline), "decode");
  GstPad *pad;
  QslReplug *r;

  if (net && decode && GST_IS_BIN (decode)
      && g_str_equal (G_OBJECT_TYPE_NAME (net), "GstFramedTcpSrc")) {
    r = g_new0 (QslReplug, 1);
    r->bin = GST_BIN (pipeline);
    pad = gst_element_get_static_pad (net, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        qsl_replug_probe, r, g_free);
    gst_object_unref (pad);
  }
  gst_clear_object (&net);
  gst_clear_object (&decode);
}
