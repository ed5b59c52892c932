#!/bin/sh
# The man pages render without warnings.
cd "${top_srcdir:-.}" || exit 1
command -v groff >/dev/null || { echo "groff not installed"; exit 77; }
out=$(groff -t -ww -man -Tutf8 man/fetchall.1 man/libfetch.3 2>&1 >/dev/null)
if command -v mandoc >/dev/null; then
  out="$out$(mandoc -T lint -W warning man/fetchall.1 man/libfetch.3 2>&1)"
fi
[ -z "$out" ] && echo "man pages: clean" && exit 0
echo "$out"
exit 1
