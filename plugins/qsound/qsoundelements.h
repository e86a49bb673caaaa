/* qsound — element registration and helpers shared inside the plugin.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __QSOUND_ELEMENTS_H__
#define __QSOUND_ELEMENTS_H__

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

G_BEGIN_DECLS

G_GNUC_INTERNAL void qsound_element_init (GstPlugin * plugin);

GST_ELEMENT_REGISTER_DECLARE (framedtcpsink);
GST_ELEMENT_REGISTER_DECLARE (framedtcpsrc);
GST_ELEMENT_REGISTER_DECLARE (loopbacksrc);
GST_ELEMENT_REGISTER_DECLARE (audiojitterbuffer);

G_END_DECLS

#endif /* __QSOUND_ELEMENTS_H__ */
