#!/bin/sh
# SPDX-License-Identifier: MIT
# Calls go one way only, checked from the object files' symbols: a file
# refers only to files below it. The library is one stack; the command has
# rooms: common/ below local/ and cluster/, which never refer to each
# other, and main.c above them all. A circle cannot pass.
cd "${top_builddir:-.}" || exit 1
command -v nm >/dev/null || { echo "nm not installed"; exit 77; }

# LIST: "room/unit rank" lines, bottom first; the objects' names give the
# units. Prints every reference that goes up or sideways.
check() { # title objects...
  title=$1
  shift
  for o in "$@"; do
    u=$(basename "$o" .o | sed 's/^libfetch_la-//; s/^fetchall-//')
    case $o in
    */common/*) u=common/$u ;;
    */local/*) u=local/$u ;;
    */cluster/*) u=cluster/$u ;;
    esac
    nm --defined-only "$o" | awk -v u="$u" '$2 ~ /^[TDBRC]$/ { print "def", $3, u }'
    nm --undefined-only "$o" | awk -v u="$u" '{ print "use", $2, u }'
  done | awk -v title="$title" -v order="$ORDER" '
    BEGIN { n = split(order, o, " "); for (i = 1; i <= n; i++) rank[o[i]] = i }
    $1 == "def" { owner[$2] = $3; next }
    { uses[++m] = $3 " " $2 }
    END {
      bad = 0
      for (i = 1; i <= m; i++) {
        split(uses[i], p, " "); from = p[1]; sym = p[2]
        if (!(sym in owner) || owner[sym] == from) continue
        to = owner[sym]
        if (!(from in rank) || !(to in rank)) {
          printf "%s: %s or %s has no place in the order\n", title, from, to; bad = 1; continue
        }
        rf = substr(from, 1, index(from "/", "/") - 1)
        rt = substr(to, 1, index(to "/", "/") - 1)
        side = (rf == "local" && rt == "cluster") || (rf == "cluster" && rt == "local")
        if (rank[to] >= rank[from] || side) {
          printf "%s: %s calls %s (%s): upwards or sideways\n", title, from, to, sym; bad = 1
        }
      }
      exit bad
    }'
}

lib=$(ls src/.libs/libfetch_la-*.o 2>/dev/null || ls src/libfetch_la-*.o 2>/dev/null)
[ -n "$lib" ] || { echo "the library is not built"; exit 77; }
ORDER="clock error text robots queue retry response easy loop task client wait"
check library $lib || exit 1

cli=$(ls src/fetchall/fetchall-*.o src/fetchall/*/fetchall-*.o 2>/dev/null)
[ -n "$cli" ] || { echo "fetchall is not built"; exit 77; }
ORDER="common/util common/message common/jsonline common/record common/input
  common/outdir common/warc common/version common/options common/completion
  common/sitemap
  local/journal local/revalidate local/progress local/sink local/stream
  local/writer local/run
  local/fetch
  cluster/lua.gen cluster/rqueue cluster/redis cluster/hostgate cluster/enqueue cluster/results
  cluster/worker cluster/cluster main"
check fetchall $cli || exit 1
echo "layers: the library and fetchall's rooms call downwards only"
