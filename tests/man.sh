#!/bin/sh
# SPDX-License-Identifier: MIT
# The man pages render without warnings.
cd "${top_srcdir:-.}" || exit 1
command -v groff >/dev/null || { echo "groff not installed"; exit 77; }
pages=$(grep -L '^\.so ' man/*.1 man/*.3) # not the one-line aliases
# 72 columns: what man shows in an 80-column terminal, less its margins
out=$(for p in $pages; do groff -t -ww -man -Tutf8 -rLL=72n "$p" 2>&1 >/dev/null; done)
if command -v mandoc >/dev/null; then
  out="$out$(mandoc -T lint -W warning $pages 2>&1)"
fi
[ -z "$out" ] && echo "man pages: clean" && exit 0
echo "$out"
exit 1
