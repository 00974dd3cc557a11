#!/bin/bash
# source me: wait_quiet waits until no other user process has been running for ~3 s (the other helper's niced compiles
# make every 2-thread ggml run 10-40x slower); busy_now prints the running foreign user processes (kernel threads, this
# shell's children and the bench itself left out)
busy_now() {
  for p in $(ps -eo stat=,pid= | awk '$1 ~ /^R/ {print $2}'); do
    [ -s /proc/$p/cmdline ] || continue
    c=$(cat /proc/$p/comm 2>/dev/null)
    case "$c" in ps|awk|bash|cat|test-mul-mat-sp*|python*|llama-bench|sleep) continue;; esac
    echo "$c"
  done
}
wait_quiet() {
  local n=0
  while (( n < 3 )); do
    if [ -z "$(busy_now)" ]; then n=$((n+1)); else n=0; fi
    sleep 1
  done
}
