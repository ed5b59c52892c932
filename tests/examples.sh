#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every example against the test server and check what it prints.
set -u
. "${top_srcdir:-.}/tests/server.sh"
server_start "${TESTSERVER:-tests/server/testserver}"
ex=${EXAMPLES_DIR:-examples}
fail=0

check() { # name expected-output actual-output
  if [ "$2" = "$3" ]; then
    echo "ok: $1"
  else
    echo "FAIL: $1"; echo "--- expected"; echo "$2"; echo "--- got"; echo "$3"
    fail=1
  fi
}

# run NAME ARGS...: the example's output in $out, its exit status checked
# (0: every one of its requests succeeded)
run() {
  name=$1
  shift
  out=$(${FETCH_VALGRIND:-} "$ex/$name" "$@")
  status=$?
  [ $status = 0 ] || { echo "FAIL: $name exited $status"; fail=1; }
}

run basic "$BASE/bytes/100"
check basic "status 200, 100 bytes" "$out"

# request order, whatever order they finish in
run gather "$BASE"
check gather "1: delay 300
2: delay 100
3: delay 200" "$(echo "$out" | head -n 3)"
echo "$out" | tail -n 1

# completion order, with no sorting
run as_completed "$BASE"
check as_completed "request 2 finished: delay 100
request 3 finished: delay 200
request 1 finished: delay 300" "$out"

run measure_time "$BASE" 10
check measure_time "10 URLs of 0.2 s each" "$(echo "$out" | head -n 1)"
check "measure_time total / n" "total / n:" "$(echo "$out" | grep '^total / n:' | cut -c1-10)"
check "measure_time every request ok" "failed:     0 of 20" "$(echo "$out" | tail -n 1)"
echo "$out"

# the delays in completion order: shortest first, with no sorting
for prog in wait_n task_wait_n; do
  run "$prog" "$BASE" 5 1
  check "$prog" "0.000
0.200
0.400
0.600
0.800" "$out"
done

run tasks "$BASE"
check tasks "cancelled task 2: cancelled
wait_for task 3 with 0.3 s: timed out
task 1: delay 100
task 4: abcdefghijkl" "$out"

run semaphore "$BASE"
check semaphore "12 pages, 108 bytes, 0 failed
most in flight to the host at once: 3 (limit 3)" "$out"

# completion order, and the program's own timer kept ticking meanwhile
run embed "$BASE"
check embed "done: delay 100
done: delay 200
done: delay 300
ticks while fetching: yes" "$out"

server_stop
exit $fail
