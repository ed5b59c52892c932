#!/bin/bash
# SPDX-License-Identifier: MIT
# The bash completion made from the option table, called as bash calls it
# (COMP_WORDS, COMP_CWORD): commands, each command's own options and no
# other's, fixed values, files and directories where they go; every option
# a command's --help lists is offered for it. The zsh one must parse (when
# zsh is here).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
build=${top_builddir:-.}
fetchall=${FETCHALL:-$build/src/fetchall/fetchall}
script=$build/completions/fetchall
[ -f "$script" ] || { echo "completions/fetchall not built"; exit 77; }
# shellcheck source=/dev/null
. "$script"
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# complete WORD...: COMPREPLY for the command line, the last word being
# completed, one a line, sorted
complete_() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _fetchall
  printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort
}
# expect WHAT WANT WORD...: the completion is exactly WANT (lines)
expect() {
  local what=$1 want=$2 got
  shift 2
  got=$(complete_ "$@")
  if [ "$got" != "$want" ]; then
    echo "FAIL $what: '$*' completes to:"; echo "$got"; echo "wanted:"; echo "$want"
    fail=1
  fi
}
# offers yes|no WHAT WORD... -- WORD...: the completion holds (yes) or
# lacks (no) each of these; has and lacks say it shorter
offers() {
  local want=$1 what=$2 line=() got w
  shift 2
  while [ "$1" != -- ]; do line+=("$1"); shift; done
  shift
  got=$(complete_ "${line[@]}")
  for w in "$@"; do
    if printf '%s\n' "$got" | grep -qxF -- "$w"; then [ "$want" = yes ]; else [ "$want" = no ]; fi ||
      { echo "FAIL $what: '${line[*]}' $([ "$want" = yes ] && echo "does not offer" || echo offers) $w"; fail=1; }
  done
}
has() { offers yes "$@"; }
lacks() { offers no "$@"; }

expect "the commands" "$(printf '%s\n' completion enqueue help results worker)" fetchall ""
expect "a command by its start" "worker" fetchall wo
expect "help's argument" "$(printf '%s\n' enqueue results worker)" fetchall help ""
expect "completion's argument" "$(printf '%s\n' bash zsh)" fetchall completion ""
expect "--progress's values" "$(printf '%s\n' auto bar none plain)" fetchall --progress ""
expect "--progress=VALUE" "plain" fetchall --progress=pl
expect "a number: nothing to offer" "" fetchall -j ""
expect "a later word: no commands" "" fetchall -i urls ""
has "fetchall's options" fetchall --w -- --warc --warc-max-size
lacks "fetchall's options" fetchall - -- --claim-idle --max-queued --fsync
has "worker's options" fetchall worker - -- --claim-idle --follow --max-results -j
lacks "worker's options" fetchall worker - -- --jsonl --warc --journal --max-queued
has "enqueue's options" fetchall enqueue --max -- --max-queued
lacks "results' options" fetchall results - -- -j --warc --max-queued

# files and directories
mkdir -p "$tmp/dir.d" && : >"$tmp/list.txt"
for opt in -i --journal --warc --cacert --sitemap; do
  expect "$opt: files" "$(printf '%s\n' "$tmp/dir.d" "$tmp/list.txt")" fetchall "$opt" "$tmp/"
done
expect "-o: directories only" "$tmp/dir.d" fetchall -o "$tmp/"
expect "--output-dir=DIR" "$tmp/dir.d" fetchall --output-dir="$tmp/"

# every option each command's --help lists is offered for that command
for c in "" enqueue worker results; do
  # the options it lists: "  -x, --name" or "      --name" at a line's start
  for o in $($fetchall $c --help | grep -oE -- '^  (-[A-Za-z], |    )--[a-z][a-z-]*' |
    grep -oE -- '--[a-z][a-z-]*$' | sort -u); do
    if [ -z "$c" ]; then line=(fetchall "$o"); else line=(fetchall "$c" "$o"); fi
    complete_ "${line[@]}" | grep -qxF -- "$o" ||
      { echo "FAIL: fetchall $c $o is in --help, not offered"; fail=1; }
  done
done

if command -v zsh >/dev/null; then
  zsh -n "$build/completions/_fetchall" || { echo "FAIL: _fetchall does not parse"; fail=1; }
fi
[ $fail = 0 ] && echo "completion: bash offers what the option table says"
exit $fail
