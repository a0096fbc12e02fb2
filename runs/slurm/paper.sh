#!/usr/bin/env bash
# The paper's grid on SLURM: the data step, the training array, the evaluation array and the
# report, each submitted to start once the previous one fully succeeded (afterok; cancelled if
# a task of it failed). Every array
# task runs one job of `python -m acai_tf.grid --stage=STAGE` (runs/slurm/grid.sbatch), so the
# nodes need this repository installed and TRAIN_DIR and DATA_DIR on a file system they share.
# Settings: those of runs/common.sh (TRAIN_DIR, DATA_DIR, RAW_DIR, TOTAL_KIMG, REPORT_KIMG,
# DATASETS, MODELS, N_INIT, TRAIN_FLAGS), and
#   STAGES        stages to submit (default: data train eval report; e.g. "train eval report"
#                 when the TFRecords exist)
#   LIMIT         training tasks running at once (default 8)
#   EVAL_LIMIT    evaluation tasks running at once (default 4)
#   LOG_DIR       the tasks' logs, <job name>-<array id>_<task>.out (default $TRAIN_DIR/slurm)
#   DATA_SBATCH, TRAIN_SBATCH, EVAL_SBATCH, REPORT_SBATCH  more sbatch options per stage, e.g.
#                 TRAIN_SBATCH="--partition=gpu --gres=gpu:1 --cpus-per-task=8 --time=24:00:00"
#   DRY_RUN=1     print the sbatch commands instead of submitting them
# Says "STAGE: N tasks, job ID" per stage on stderr; the report goes to $TRAIN_DIR/report.md.
source "$(dirname "$0")/../common.sh"
here=$(cd "$(dirname "$0")" && pwd)
STAGES=${STAGES:-data train eval report}
LOG_DIR=${LOG_DIR:-$TRAIN_DIR/slurm}
log="$LOG_DIR/%x-%A_%a.out"

previous=
for stage in $STAGES; do
  count=$(python -m acai_tf.grid --stage="$stage" --count "${GRID_FLAGS[@]}")
  if (( count == 0 )); then
    echo "$stage: no jobs" >&2
    continue
  fi
  output=(--output="$log")
  case $stage in
    data) limit=$count; read -ra options <<< "${DATA_SBATCH:-}" ;;
    train) limit=${LIMIT:-8}; read -ra options <<< "${TRAIN_SBATCH:-}" ;;
    eval) limit=${EVAL_LIMIT:-4}; read -ra options <<< "${EVAL_SBATCH:-}" ;;
    report) limit=1; read -ra options <<< "${REPORT_SBATCH:-}"
            output=(--output="$TRAIN_DIR/report.md" --error="$log" --open-mode=truncate) ;;
    *) echo "unknown stage $stage in STAGES" >&2; exit 2 ;;
  esac
  # A stage starts when every task of the previous one succeeded; if one failed, it is cancelled.
  after=(${previous:+--dependency=afterok:$previous --kill-on-invalid-dep=yes})
  command=(sbatch --parsable --job-name="acai-$stage" --array="0-$((count - 1))%$limit"
           "${output[@]}" "${after[@]}" "${options[@]}" "$here/grid.sbatch" "$stage"
           "${GRID_FLAGS[@]}")
  if [[ -n "${DRY_RUN:-}" ]]; then
    echo "${command[*]}"
    previous="<$stage>"
  else
    mkdir -p "$LOG_DIR"
    previous=$("${command[@]}")
    previous=${previous%%;*}  # "id;cluster" on federated clusters
  fi
  echo "$stage: $count tasks, job $previous" >&2
done
