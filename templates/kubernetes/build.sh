#!/usr/bin/env bash
# trtdeploy: the build Job, run in the build folder. Its arguments are pairs STEP OUTPUT in plan
# order: a step script (steps/NN-<id>.sh) and the store folder it fills. A step whose output folder
# exists is done and skipped, so a Job that was stopped resumes; a step runs into a temporary folder
# that is renamed into place when it succeeds, as `trtdeploy build` does.
set -euo pipefail
if (($# % 2)); then
  echo "trtdeploy: the arguments are STEP OUTPUT pairs" >&2
  exit 2
fi
mkdir -p store/.tmp
while (($#)); do
  step=$1
  output=$2
  shift 2
  if [[ -d "$output" ]]; then
    echo "trtdeploy: $step: done ($output)" >&2
    continue
  fi
  partial="store/.tmp/job-${output##*/}"
  rm -rf -- "$partial"
  echo "trtdeploy: $step: running" >&2
  STEP_OUT="$partial" bash -- "$step"
  mv -T -- "$partial" "$output"
done
