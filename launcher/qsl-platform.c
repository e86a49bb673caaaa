/* qsound-launch — what differs between Linux and Windows (qsl-platform.h).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Relocation: meson compiles in only paths relative to the executable's
 * directory (QSOUND_BINDIR_TO_PLUGINS, QSOUND_BINDIR_TO_PIPELINES), never
 * an absolute one, so that the unzipped Windows folder and a Linux install
 * moved elsewhere run from where they are.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsl-platform.h"

#include <string.h>

#ifdef G_OS_UNIX
#include <glib-unix.h>
#include <sys/ioctl.h>
#include <unistd.h>
#else
#include <io.h>
#include <windows.h>
#endif

static gchar *qsl_exe_dir;
static gchar *qsl_dirs[4];

static gchar *
qsl_find_exe_dir (const gchar * argv0)
{
  gchar *exe = NULL, *dir;

#ifdef G_OS_WIN32
  wchar_t buf[MAX_PATH * 4];
  DWORD n = GetModuleFileNameW (NULL, buf, G_N_ELEMENTS (buf));

  if (n > 0 && n < G_N_ELEMENTS (buf))
    exe = g_utf16_to_utf8 ((const gunichar2 *) buf, n, NULL, NULL, NULL);
#else
  exe = g_file_read_link ("/proc/self/exe", NULL);
#endif
  if (!exe && argv0) {
    /* no /proc: argv[0], as a path or found on PATH */
    if (strchr (argv0, G_DIR_SEPARATOR) || strchr (argv0, '/'))
      exe = g_canonicalize_filename (argv0, NULL);
    else
      exe = g_find_program_in_path (argv0);
  }
  if (!exe)
    return NULL;
  dir = g_path_get_dirname (exe);
  g_free (exe);
  return dir;
}

/* @rel (a path relative to the executable's directory, '/'-separated) as a
 * full path, or NULL when there is no such directory */
static gchar *
qsl_exe_relative (const gchar * rel)
{
  gchar *path, *canon;

  if (!qsl_exe_dir)
    return NULL;
  path = g_build_filename (qsl_exe_dir, rel, NULL);
  canon = g_canonicalize_filename (path, NULL);
  g_free (path);
  if (!g_file_test (canon, G_FILE_TEST_IS_DIR)) {
    g_free (canon);
    return NULL;
  }
  return canon;
}

void
qsl_platform_init (const gchar * argv0)
{
  gchar *plugins;
  guint n = 0;
  const gchar *env;

  qsl_exe_dir = qsl_find_exe_dir (argv0);

  /* the plugins installed next to this executable come first; a plugin path
   * the user set stays, after them */
  plugins = qsl_exe_relative (QSOUND_BINDIR_TO_PLUGINS);
  if (plugins) {
    const gchar *old = g_getenv ("GST_PLUGIN_PATH_1_0");
    gchar *path = old && *old ?
        g_strconcat (plugins, G_SEARCHPATH_SEPARATOR_S, old, NULL) :
        g_strdup (plugins);

    g_setenv ("GST_PLUGIN_PATH_1_0", path, TRUE);
    g_free (path);
    g_free (plugins);
  }

  env = g_getenv ("QSOUND_PIPELINES_DIR");
  if (env && *env)
    qsl_dirs[n++] = g_strdup (env);
  if ((qsl_dirs[n] = qsl_exe_relative (QSOUND_BINDIR_TO_PIPELINES)))
    n++;
  /* the build tree: build/launcher/qsound-launch, build/pipelines/ */
  if ((qsl_dirs[n] = qsl_exe_relative ("../pipelines")))
    n++;
  qsl_dirs[n] = NULL;

#ifdef G_OS_WIN32
  /* the status line rewrites itself with \r; colours are never used */
  SetConsoleOutputCP (CP_UTF8);
#endif
}

const gchar *const *
qsl_platform_pipelines_dirs (void)
{
  return (const gchar * const *) qsl_dirs;
}

gchar *
qsl_platform_firewall_hint (const gchar * host, gint port)
{
  if (g_str_has_prefix (host, "127.") || g_strcmp0 (host, "::1") == 0
      || g_ascii_strcasecmp (host, "localhost") == 0)
    return NULL;
#ifdef G_OS_WIN32
  return g_strdup_printf ("nobody has connected to port %d yet; if the other "
      "computer cannot reach this one, allow qsound-launch through Windows "
      "Defender Firewall (Windows Security > Firewall & network protection > "
      "Allow an app through firewall, private networks)", port);
#else
  return g_strdup_printf ("nobody has connected to port %d yet; if the other "
      "computer cannot reach this one, open that port in this machine's "
      "firewall (for example sudo ufw allow %d/tcp, or sudo firewall-cmd "
      "--add-port=%d/tcp)", port, port, port);
#endif
}

gboolean
qsl_platform_stderr_is_console (void)
{
#ifdef G_OS_WIN32
  return _isatty (2) != 0;
#else
  return isatty (STDERR_FILENO) != 0;
#endif
}

guint
qsl_platform_console_width (void)
{
#ifdef G_OS_WIN32
  CONSOLE_SCREEN_BUFFER_INFO info;

  if (GetConsoleScreenBufferInfo (GetStdHandle (STD_ERROR_HANDLE), &info))
    return (guint) (info.srWindow.Right - info.srWindow.Left + 1);
#else
  struct winsize ws;

  if (ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) == 0)
    return ws.ws_col;
#endif
  return 0;
}

#ifdef G_OS_UNIX
void
qsl_platform_catch_interrupt (GSourceFunc func, gpointer data)
{
  g_unix_signal_add (SIGINT, func, data);
  g_unix_signal_add (SIGTERM, func, data);
}

void
qsl_platform_stopped (void)
{
}
#else
static GSourceFunc qsl_interrupt_func;
static gpointer qsl_interrupt_data;
static HANDLE qsl_stopped_event;

static gboolean
qsl_interrupt_idle (gpointer unused)
{
  qsl_interrupt_func (qsl_interrupt_data);
  return G_SOURCE_REMOVE;
}

static BOOL WINAPI
qsl_console_handler (DWORD type)
{
  switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
      /* this runs on a thread of its own: hand over to the main loop */
      g_idle_add (qsl_interrupt_idle, NULL);
      return TRUE;
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      /* the process ends when this returns: let the stream end first */
      g_idle_add (qsl_interrupt_idle, NULL);
      WaitForSingleObject (qsl_stopped_event, 5000);
      return TRUE;
    default:
      return FALSE;
  }
}

void
qsl_platform_catch_interrupt (GSourceFunc func, gpointer data)
{
  qsl_interrupt_func = func;
  qsl_interrupt_data = data;
  if (!qsl_stopped_event)
    qsl_stopped_event = CreateEventW (NULL, TRUE, FALSE, NULL);
  SetConsoleCtrlHandler (qsl_console_handler, TRUE);
}

void
qsl_platform_stopped (void)
{
  if (qsl_stopped_event)
    SetEvent (qsl_stopped_event);
}
#endif
