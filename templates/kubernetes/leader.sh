#!/usr/bin/env bash
# trtdeploy: the leader pod of a LeaderWorkerSet group (the manifest's command; its arguments are the
# mpirun command line, passed as words, never parsed by a shell).
# It writes the group's Open MPI hostfile with itself first, so that MPI rank 0, the rank that
# trtllm-llmapi-launch makes the HTTP server, runs in this pod behind the Service; waits until each
# worker pod accepts `kubectl exec` (the way mpirun will reach it); then runs mpirun.
# Pod names are LeaderWorkerSet's: the leader is the first label of LWS_LEADER_ADDRESS
# (<lws>-<group>.<subdomain>.<namespace>) and worker i is <leader>-<i> for 1 <= i < LWS_GROUP_SIZE
# (kubernetes-sigs/lws pkg/utils/pod/pod_utils.go, pkg/controllers/pod_controller.go @ 060ab4da).
set -euo pipefail
: "${LWS_LEADER_ADDRESS:?is set by the LeaderWorkerSet controller}"
: "${LWS_GROUP_SIZE:?is set by the LeaderWorkerSet controller}"
: "${TRTDEPLOY_GROUP_SIZE:?}" "${TRTDEPLOY_SLOTS:?}" "${TRTDEPLOY_HOSTFILE:?}"
: "${TRTDEPLOY_WORKER_CONTAINER:?}" "${TRTDEPLOY_WORKER_WAIT:?}"
if [[ "$LWS_GROUP_SIZE" != "$TRTDEPLOY_GROUP_SIZE" ]]; then
  echo "trtdeploy: this group has $LWS_GROUP_SIZE pods; the launch was compiled for $TRTDEPLOY_GROUP_SIZE" >&2
  exit 2
fi
leader=${LWS_LEADER_ADDRESS%%.*}
if [[ "$HOSTNAME" != "$leader" ]]; then
  echo "trtdeploy: this pod is $HOSTNAME, not the group's leader $leader" >&2
  exit 2
fi
if ! command -v kubectl >/dev/null; then
  echo "trtdeploy: the image has no kubectl; mpirun reaches the worker pods with kubectl exec" \
    "(docs/kubernetes.md: add kubectl to the image)" >&2
  exit 127
fi
mkdir -p "$(dirname "$TRTDEPLOY_HOSTFILE")"
{
  echo "$leader slots=$TRTDEPLOY_SLOTS"
  for ((i = 1; i < LWS_GROUP_SIZE; i++)); do
    echo "$leader-$i slots=$TRTDEPLOY_SLOTS"
  done
} >"$TRTDEPLOY_HOSTFILE"
deadline=$((SECONDS + TRTDEPLOY_WORKER_WAIT))
for ((i = 1; i < LWS_GROUP_SIZE; i++)); do
  until kubectl exec "$leader-$i" -c "$TRTDEPLOY_WORKER_CONTAINER" -- true >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "trtdeploy: worker pod $leader-$i did not accept kubectl exec within ${TRTDEPLOY_WORKER_WAIT}s" >&2
      exit 1
    fi
    sleep 2
  done
done
exec "$@"
