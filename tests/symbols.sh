#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports the public fetch_* API and nothing else, and
# links only what it uses: libcurl and libevent (no hiredis, jansson or
# libcrypto, which are the command's; a sanitizer build its runtimes too).
lib=$(ls .libs/libfetch.so 2>/dev/null)
[ -n "$lib" ] || { echo "no shared library built"; exit 77; }
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^fetch_[a-z]')
[ -z "$bad" ] || { echo "unexpected exports:"; echo "$bad"; exit 1; }
needed=$(objdump -p "$lib" | awk '$1 == "NEEDED" { print $2 }')
others=$(printf '%s\n' "$needed" | grep -v \
  -e '^libcurl\.so' -e '^libevent\(_pthreads\)\?-2\.1\.so' -e '^libm\.so' \
  -e '^libc\.so' -e '^libpthread\.so' -e '^lib[atl]san\.so' -e '^libubsan\.so')
[ -z "$others" ] || { echo "libfetch.so needs more than it uses:" $others; exit 1; }
echo "exports: fetch_* only; needs:" $needed
