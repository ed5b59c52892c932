#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian packages, as root on a Debian 12 machine (run by .ci/run):
# built from a clean copy of the tree with dpkg-buildpackage, lintian with
# no error or warning, installed with dpkg -i, the installed
# /usr/bin/fetchall run against the test server, a program built with
# pkg-config against the installed header and library and run, then the
# packages removed. Usage: tests/packages.sh BUILD (a built tree: its
# tests/server/testserver is the server).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-.}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/server.sh
. "$src/tests/server.sh"

echo "== dpkg-buildpackage -us -uc -b"
mkdir "$work/libfetch"
git -C "$src" archive HEAD | tar -x -C "$work/libfetch"
(cd "$work/libfetch" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) ||
  { tail -50 "$work/build.log"; exit 1; }
debs=$(cd "$work" && ls libfetch1_*.deb libfetch-dev_*.deb fetchall_*.deb)
for d in $debs; do
  echo "-- $d"
  dpkg-deb -c "$work/$d" | awk '{ print "   ", $6, $7, $8 }'
done

echo "== lintian"
lintian --fail-on error,warning --display-info "$work"/libfetch_*.changes
echo "lintian: no error, no warning"

echo "== dpkg -i"
(cd "$work" && dpkg -i $debs)
trap 'dpkg -r fetchall libfetch-dev libfetch1 >/dev/null || true; rm -rf "$work"' EXIT
# the system's copy (/lib is /usr/lib on Debian 12), not the build's;
# no grep -q in a pipe: it ends the pipe early, and pipefail sees that
installed='libfetch\.so\.1 => (/usr)?/lib/'
[[ $(ldd /usr/bin/fetchall) =~ $installed ]] ||
  { echo "installed fetchall does not use the installed libfetch.so.1"; exit 1; }
[ -f /usr/share/bash-completion/completions/fetchall ]
[ -f /usr/share/zsh/vendor-completions/_fetchall ]
[ -f /usr/share/man/man1/fetchall.1.gz ] && [ -f /usr/share/man/man3/fetch_gather.3.gz ]

echo "== /usr/bin/fetchall against the test server"
server_start "$build/tests/server/testserver"
out=$(/usr/bin/fetchall -j 4 "$BASE/bytes/10" "$BASE/status/404" "$BASE/redirect/2")
want="$(printf 'abcdefghij')status 404
redirected"
[ "$out" = "$want" ] || { echo "got: $out"; echo "wanted: $want"; exit 1; }
[[ $(/usr/bin/fetchall --version) == *$'\nlibcurl '* ]]
[[ $(/usr/bin/fetchall --jsonl "$BASE/bytes/5") == *'"status":200'* ]]
echo "fetchall: ok"

echo "== a program built with pkg-config against the installed library"
cc -Wall -Werror -o "$work/basic" "$src/examples/basic.c" \
  $(pkg-config --cflags --libs libfetch)
[[ $(ldd "$work/basic") =~ $installed ]]
got=$("$work/basic" "$BASE/bytes/1000")
[ "$got" = "status 200, 1000 bytes" ] || { echo "basic said: $got"; exit 1; }
echo "basic: $got"
server_stop

echo "== dpkg -r"
dpkg -r fetchall libfetch-dev libfetch1
trap 'rm -rf "$work"' EXIT
! [ -e /usr/bin/fetchall ]
echo "packages: built, lintian-clean, installed, used and removed"
