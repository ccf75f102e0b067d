#!/usr/bin/env bash
# trtdeploy: Open MPI's remote start agent in a LeaderWorkerSet group (mpirun -mca plm_rsh_agent),
# in place of ssh, as LeaderWorkerSet's TensorRT-LLM example does with its kubessh. Open MPI calls it
# as `AGENT HOST COMMAND...` to start its daemon on HOST; this runs COMMAND in that worker pod.
# Like ssh, it hands COMMAND's words to a shell in the pod: they are Open MPI's daemon command line,
# which Open MPI writes for a remote shell; no value of the spec is among them.
set -euo pipefail
pod=${1%%.*}
shift
exec kubectl exec "$pod" -c "${TRTDEPLOY_WORKER_CONTAINER:?}" -- /bin/sh -c "$*"
