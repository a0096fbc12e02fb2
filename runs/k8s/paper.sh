#!/usr/bin/env bash
# The paper's grid on Kubernetes: one Indexed Job per stage (data, train, eval, report), each
# made from runs/k8s/paper-train.yaml and applied once the previous one completed. Pod I of a
# stage runs job I of `python -m acai_tf.grid --stage=STAGE` (see that file for the image, the
# shared volume and how exit codes map to retries). Needs kubectl; the Jobs are named
# acai-<RUN_ID>-<stage>.
# Settings: those of runs/common.sh (TRAIN_DIR, DATA_DIR, RAW_DIR, TOTAL_KIMG, REPORT_KIMG,
# DATASETS, MODELS, N_INIT, TRAIN_FLAGS; paths as the pods see them, relative to /shared; no
# spaces in them), and
#   STAGES      stages to run (default: data train eval report)
#   LIMIT       training pods running at once (default 8)
#   EVAL_LIMIT  evaluation pods running at once (default 4)
#   RUN_ID      part of the Jobs' names (default: the date and time)
#   DRY_RUN=1   print the manifests instead of applying them
source "$(dirname "$0")/../common.sh"
here=$(cd "$(dirname "$0")" && pwd)
STAGES=${STAGES:-data train eval report}
RUN_ID=${RUN_ID:-$(date +%Y%m%d-%H%M%S)}

# manifest STAGE COUNT PARALLELISM: the Job of one stage.
manifest() {
  local gpu=null
  if [[ $1 == train ]]; then gpu=1; fi
  local patch="{\"metadata\": {\"name\": \"acai-$RUN_ID-$1\"},
    \"spec\": {\"completions\": $2, \"parallelism\": $3, \"template\": {\"spec\": {\"containers\":
      [{\"name\": \"grid\", \"resources\": {\"limits\": {\"nvidia.com/gpu\": $gpu}}}]}}}}"
  kubectl patch --local -f "$here/paper-train.yaml" -p "$patch" -o yaml |
    kubectl set env --local -f - GRID_STAGE="$1" GRID_FLAGS="${GRID_FLAGS[*]}" -o yaml
}

# finish JOB: waits until the Job completed (0) or failed (1).
finish() {
  local state
  while true; do
    state=$(kubectl get job "$1" -o jsonpath='{.status.conditions[?(@.status=="True")].type}')
    case " $state " in
      *" Complete "*) return 0 ;;
      *" Failed "*) echo "$1 failed: kubectl describe job $1" >&2; return 1 ;;
    esac
    sleep 30
  done
}

for stage in $STAGES; do
  count=$(python -m acai_tf.grid --stage="$stage" --count "${GRID_FLAGS[@]}")
  case $stage in
    data) parallelism=$count ;;
    train) parallelism=${LIMIT:-8} ;;
    eval) parallelism=${EVAL_LIMIT:-4} ;;
    report) parallelism=1 ;;
    *) echo "unknown stage $stage in STAGES" >&2; exit 2 ;;
  esac
  if (( count == 0 )); then
    echo "$stage: no jobs" >&2
  elif [[ -n "${DRY_RUN:-}" ]]; then
    echo "---"
    manifest "$stage" "$count" "$parallelism"
  else
    manifest "$stage" "$count" "$parallelism" | kubectl apply -f -
    finish "acai-$RUN_ID-$stage"
  fi
done
