/* qsound-launch — keys: a fresh random one for --new-key.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __QSL_KEY_H__
#define __QSL_KEY_H__

#include <glib.h>

G_BEGIN_DECLS

/* Bits of randomness in a key from qsl_key_new(). */
#define QSL_KEY_BITS 140

/* A fresh random key, easy to read aloud and type: 28 characters of
 * lower-case base32 (a-z, 2-7; 5 bits each) in 7 groups of 4 joined by '-'.
 * Newly allocated; NULL only if the system has no random source. */
gchar * qsl_key_new (void);

G_END_DECLS

#endif /* __QSL_KEY_H__ */
