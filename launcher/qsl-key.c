/* qsound-launch — keys: a fresh random one for --new-key.
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The key a user shares between two machines.  It is a passphrase like any
 * other to the elements (they stretch it with Argon2id), but one with 140
 * random bits that no guessing can reach, unlike a made-up word.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "qsl-key.h"

#include <sodium.h>

#define QSL_KEY_GROUPS     7
#define QSL_KEY_GROUP_LEN  4

G_STATIC_ASSERT (QSL_KEY_GROUPS * QSL_KEY_GROUP_LEN * 5 == QSL_KEY_BITS);

gchar *
qsl_key_new (void)
{
  /* RFC 4648 base32, lower case: no 0/1/8/9, so no O/0 or l/1 mix-ups */
  static const gchar alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  GString *key;
  guint g, i;

  G_STATIC_ASSERT (sizeof (alphabet) - 1 == 32);
  if (sodium_init () < 0)
    return NULL;
  key = g_string_sized_new (QSL_KEY_GROUPS * (QSL_KEY_GROUP_LEN + 1));
  for (g = 0; g < QSL_KEY_GROUPS; g++) {
    if (g > 0)
      g_string_append_c (key, '-');
    for (i = 0; i < QSL_KEY_GROUP_LEN; i++)
      g_string_append_c (key, alphabet[randombytes_uniform (32)]);
  }
  return g_string_free (key, FALSE);
}
