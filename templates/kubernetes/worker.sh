#!/usr/bin/env bash
# trtdeploy: a worker pod of a LeaderWorkerSet group. It holds the pod's GPUs and waits; the leader's
# mpirun starts this pod's ranks in it through kubectl exec. It ends when the pod is stopped
# (the group's restartPolicy recreates every pod of the group when one of them restarts).
set -euo pipefail
trap 'exit 0' TERM INT
while true; do
  sleep 3600 &
  wait $!
done
