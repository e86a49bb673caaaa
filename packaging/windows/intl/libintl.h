/* A stub libintl for the Windows runtime of qsound (packaging/windows).
 * The runtime is built without native language support (-Dnls=disabled),
 * so GLib only needs these names to link: every message stays in English.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef QSOUND_LIBINTL_STUB_H
#define QSOUND_LIBINTL_STUB_H

#include <locale.h>
/* Windows has no LC_MESSAGES; GNU gettext's libintl.h defines it so */
#ifndef LC_MESSAGES
#define LC_MESSAGES 1729
#endif

#ifdef __cplusplus
extern "C" {
#endif

char *gettext (const char *msgid);
char *dgettext (const char *domain, const char *msgid);
char *dcgettext (const char *domain, const char *msgid, int category);
char *ngettext (const char *msgid, const char *msgid_plural,
    unsigned long n);
char *dngettext (const char *domain, const char *msgid,
    const char *msgid_plural, unsigned long n);
char *dcngettext (const char *domain, const char *msgid,
    const char *msgid_plural, unsigned long n, int category);
char *textdomain (const char *domain);
char *bindtextdomain (const char *domain, const char *dirname);
char *bind_textdomain_codeset (const char *domain, const char *codeset);

#ifdef __cplusplus
}
#endif
#endif
