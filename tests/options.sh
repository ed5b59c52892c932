#!/bin/sh
# SPDX-License-Identifier: MIT
# fetchall(1) documents every option of the option table, and no other;
# every command's --help fits 80 columns.
cd "${top_srcdir:-.}" || exit 1
table=${OPTABLE:-tests/optable}
fetchall=${FETCHALL:-src/fetchall/fetchall}
[ -x "$table" ] || { echo "tests/optable not built"; exit 77; }
# an option the man page defines: the first --name after a .TP
man=$(awk '/^\.TP/ { getline; if ($0 !~ /^\.B[IR]? \\-/) next
  if (match($0, /\\-\\-[a-z\\-]+/)) { s = substr($0, RSTART + 4, RLENGTH - 4)
    gsub(/\\-/, "-", s); print s } }' man/fetchall.1 | sort -u)
ours=$("$table" | awk '{ print $1 }' | sort -u)
fail=0
missing=$(printf '%s\n' "$ours" | grep -vxF "$man")
extra=$(printf '%s\n' "$man" | grep -vxF "$ours")
[ -z "$missing" ] || { echo "fetchall(1) lacks:" $missing; fail=1; }
[ -z "$extra" ] || { echo "fetchall(1) documents what the table has not:" $extra; fail=1; }
for c in "" enqueue worker results; do
  wide=$($fetchall $c --help | awk 'length($0) > 80')
  [ -z "$wide" ] || { echo "fetchall $c --help is wider than 80 columns:"; echo "$wide"; fail=1; }
done
[ $fail = 0 ] && echo "options: $(printf '%s\n' "$ours" | wc -l) in the table, all in fetchall(1)"
exit $fail
