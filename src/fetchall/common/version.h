/* SPDX-License-Identifier: MIT */
/*
 * fetchall --version: its own and libfetch's versions, and those of the
 * libraries it runs on with what they can do, as curl --version says it.
 */
#ifndef FETCHALL_VERSION_H
#define FETCHALL_VERSION_H

#include <stdio.h>

void version_print(FILE *f);

#endif
