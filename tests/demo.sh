#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: fetchall on 1,000 URLs of a local test server: fast, slow,
# never-answering and failing ones mixed, as a scraping run meets them.
set -u
build=${1:-.}
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/tests/server.sh"
server_start "$build/tests/server/testserver"
work=$(mktemp -d)

i=0
while [ $i -lt 1000 ]; do
  i=$((i + 1))
  case $((i % 20)) in
    0) echo "$BASE/delay/10000?i=$i" ;;            # never in time: timeout
    1) echo "$BASE/status/404?i=$i" ;;             # HTTP error (--fail)
    2) echo "http://127.0.0.1:1/refused?i=$i" ;;   # connection refused
    3) echo "$BASE/delay/$(( (i * 37) % 1500 ))?i=$i" ;; # slow
    4) echo "$BASE/delay/$(( (i * 53) % 900 ))?i=$i" ;;
    5) echo "$BASE/redirect/2?i=$i" ;;
    6) case $((i % 100)) in
         6) echo "htp:/bad url $i" ;;                # malformed
         46) echo "ftp://files.invalid/$i" ;;       # not http(s)
         *) echo "$BASE/bytes/10?i=$i" ;;
       esac ;;
    7) [ $((i % 100)) = 7 ] && echo "$BASE/close/4000?i=$i" || echo "$BASE/bytes/5000?i=$i" ;;
    *) echo "$BASE/bytes/$(( (i * 97) % 20000 ))?i=$i" ;;
  esac
done >"$work/urls.txt"

cmd="fetchall -j 200 -t 2 --fail -o $work/out --jsonl -i urls.txt"
echo "1,000 URLs of a local server: most fast, some slow (up to 1.5 s), 50 that"
echo "never answer in time, and refused, malformed, 404 and broken ones."
echo
echo "\$ $cmd > results.jsonl"
start=$(date +%s.%N)
"$build/src/fetchall/fetchall" -j 200 -t 2 --fail -o "$work/out" --jsonl \
  -i "$work/urls.txt" >"$work/results.jsonl" 2>"$work/errors.txt"
status=$?
end=$(date +%s.%N)

ok=$(grep -c '"ok":true' "$work/results.jsonl")
failed=$(grep -c '"ok":false' "$work/results.jsonl")
files=$(ls "$work/out" | wc -l)
partial=$(ls "$work/out" | grep -c '\.part$')
bytes=$(cat "$work/out"/* | wc -c)
echo
printf 'done in %.2f s, exit status %d (1: some requests failed)\n' \
  "$(awk "BEGIN { print $end - $start }")" "$status"
printf '  %4d ok      -> %d files, %d bytes, %d partial files\n' "$ok" "$files" \
  "$bytes" "$partial"
printf '  %4d failed  -> one line each on stderr:\n' "$failed"
for what in "timed out" "Couldn't connect" "HTTP status" "malformed URL" \
  "unsupported scheme" "transfer closed"; do
  printf '       %4d %s\n' "$(grep -c "$what" "$work/errors.txt")" "$what"
done
echo
echo "first lines of stderr:"
head -n 5 "$work/errors.txt" | sed 's/^/  /'
echo
echo "one JSON line (results.jsonl, in request order):"
sed -n 3p "$work/results.jsonl" | cut -c1-300 | sed 's/^/  /'
echo
echo "longest wait in the queue (200 at a time):"
grep -o '"time_queued":[0-9.e-]*' "$work/results.jsonl" | cut -d: -f2 |
  sort -g | tail -n 1 | sed 's/^/  /; s/$/ s (not charged to its 2 s timeout)/'

server_stop
rm -rf "$work"
