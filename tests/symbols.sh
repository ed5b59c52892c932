#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports the public fetch_* API and nothing else.
lib=$(ls .libs/libfetch.so 2>/dev/null)
[ -n "$lib" ] || { echo "no shared library built"; exit 77; }
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^fetch_[a-z]')
[ -z "$bad" ] && echo "exports: fetch_* only" && exit 0
echo "unexpected exports:"; echo "$bad"
exit 1
