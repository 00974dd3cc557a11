#!/bin/bash
# usage: ab.sh ROUNDS "bench args" binA binB ...   -> one line per (round, bin, case): label type shape thr s speedup sparse_us share
R=$1; ARGS=$2; shift 2
for i in $(seq 1 $R); do
  for b in "$@"; do
    $b --bench $ARGS 2>/dev/null | grep -E '^\| (q|f|b)' | awk -F'|' -v lb=$(basename $(dirname $(dirname $b))) -v i=$i \
      '{gsub(/ /,"",$0); print i, lb, $2, $3"x"$4, "t"$6, "s"$7, "x"$10, $9"us", "share", $14}'
  done
done
