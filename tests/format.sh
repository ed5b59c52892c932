#!/bin/sh
# SPDX-License-Identifier: MIT
# The sources follow .clang-format.
cd "${top_srcdir:-.}" || exit 1
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 77; }
files=$(ls include/*.h src/*.c src/*.h src/fetchall/*.[ch] src/fetchall/*/*.[ch] \
  tests/*.[ch] tests/preload/*.c \
  tests/server/*.c examples/*.c | grep -v '\.gen\.c$')
clang-format --dry-run --Werror $files && echo "formatted: $(echo $files | wc -w) files"
