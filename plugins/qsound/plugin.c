/* qsound — plugin registration.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsoundelements.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (framedtcpsink, plugin);
  ret |= GST_ELEMENT_REGISTER (framedtcpsrc, plugin);
  ret |= GST_ELEMENT_REGISTER (loopbacksrc, plugin);
  ret |= GST_ELEMENT_REGISTER (audiojitterbuffer, plugin);

  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, qsound,
    "Live system-audio capture and framed TCP transport",
    plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
