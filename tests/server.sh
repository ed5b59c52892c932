# SPDX-License-Identifier: MIT
# Shell helper: start tests/server/testserver on an ephemeral port.
# Sourced by tests/examples.sh and tests/demo.sh. Sets $BASE; server_stop
# ends it (it also ends by itself when this shell goes away).
server_start() {
  _ts_dir=$(mktemp -d)
  mkfifo "$_ts_dir/in"
  "$1" <"$_ts_dir/in" >"$_ts_dir/port" &
  _ts_pid=$!
  exec 9>"$_ts_dir/in" # the server runs while this stays open
  for _i in $(seq 100); do
    [ -s "$_ts_dir/port" ] && break
    sleep 0.05
  done
  BASE="http://127.0.0.1:$(head -n1 "$_ts_dir/port")"
}

server_stop() {
  exec 9>&-
  wait "$_ts_pid" 2>/dev/null
  rm -rf "$_ts_dir"
}
