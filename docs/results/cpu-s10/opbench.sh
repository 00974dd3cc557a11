#!/bin/bash
# usage: opbench.sh <label> <binary-dir or base> <args...>
label=$1; shift; which=$1; shift
if [ "$which" = base ] || [ "$which" = nopack ]; then
  LD_LIBRARY_PATH=/work/dev/scratch-a512/$which /work/dev/scratch-a512/$which/test-mul-mat-sparse --bench "$@" 2>&1 | grep "^| [a-z]" | grep -v "^| type" | sed "s/^/$label /"
else
  /work/dev/build-a512/bin/test-mul-mat-sparse --bench "$@" 2>&1 | grep "^| [a-z]" | grep -v "^| type" | sed "s/^/$label /"
fi
