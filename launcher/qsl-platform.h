/* qsound-launch — what differs between Linux and Windows.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QSL_PLATFORM_H
#define QSL_PLATFORM_H

#include <glib.h>

G_BEGIN_DECLS

/* Before gst_init: finds the directory of this executable and, when the
 * plugin directory of a relocated install (the unzipped Windows folder, or
 * a Linux install moved elsewhere) is next to it, adds that directory to
 * GStreamer's plugin path. */
void qsl_platform_init (const gchar * argv0);

/* The directories to look for the mode files in, most wanted first:
 * $QSOUND_PIPELINES_DIR, then the installed share/qsound/pipelines relative
 * to this executable, then the build tree's pipelines/.  NULL-terminated,
 * owned by this module. */
const gchar *const *qsl_platform_pipelines_dirs (void);

/* Ctrl-C, SIGTERM, and on Windows Ctrl-Break and closing the console window
 * call @func(@data) from the main loop.  Windows ends a process whose
 * console closes as soon as the handler returns, so the handler waits (up
 * to 5 s) until qsl_platform_stopped() says the pipeline has stopped. */
void qsl_platform_catch_interrupt (GSourceFunc func, gpointer data);
void qsl_platform_stopped (void);

/* One sentence for a server on @host:@port that nobody has reached yet,
 * naming the firewall fix of this system; NULL when it listens on loopback
 * only.  Free with g_free. */
gchar *qsl_platform_firewall_hint (const gchar * host, gint port);

/* TRUE when stderr is a console (terminal), where the status line is
 * redrawn in place. */
gboolean qsl_platform_stderr_is_console (void);

/* The width of the console (terminal) that stderr writes to, in columns;
 * 0 when unknown. */
guint qsl_platform_console_width (void);

G_END_DECLS

#endif /* QSL_PLATFORM_H */
