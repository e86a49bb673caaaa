/* qsound-launch — a mode's pipeline description, filled from the settings.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __QSL_TEMPLATE_H__
#define __QSL_TEMPLATE_H__

#include <glib.h>

#include "qsl-options.h"

G_BEGIN_DECLS

/* @value in gst-launch-1.0 syntax: bare when it is a plain word, otherwise
 * in double quotes with " and \ escaped.  Newly allocated. */
gchar *qsl_template_quote (const gchar * value);

/* The description of @set's mode (pipelines/<its file>, found in
 * qsl_platform_pipelines_dirs()) with its @PLACEHOLDERS@ filled from @set,
 * its '#' comment lines dropped and the rest joined into one line.  NULL
 * with @error set when the file is missing or unreadable or names an
 * unknown placeholder. */
gchar *qsl_template_fill (const QslSettings * set, GError ** error);

/* @desc as shell words for `gst-launch-1.0 <paste>` (--print). */
gchar *qsl_template_shell_form (const gchar * desc);

G_END_DECLS

#endif /* __QSL_TEMPLATE_H__ */
