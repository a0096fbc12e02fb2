# Shared by the runs/*.sh scripts, thin wrappers over `python -m acai_tf.grid`, which holds the
# paper's grid (its module docstring; docs/scaling.md). Settings come from the environment:
#   TRAIN_DIR    where runs go                    (default ./experiments)
#   DATA_DIR     TFRecords from data_prep         (default $ACAI_DATA, else ./data)
#   RAW_DIR      official raw files for the data step, one folder per dataset (default: download)
#   TOTAL_KIMG   training length per run          (default 16384, the paper's 2^24 images)
#   REPORT_KIMG  report/checkpoint period         (default TOTAL_KIMG/256: the paper's 256 reports)
#   DATASETS     which datasets of the grid       (default: lines32 mnist32 svhn32 celeba32 cifar10)
#   MODELS       which models                     (default: the paper's seven)
#   SEEDS        seeds; every run once per seed   (default 0; the paper's tables: reruns, e.g. "0 1 2")
#   N_INIT       K-means restarts                 (default 1000, the paper's; 20 for a quick look)
#   TRAIN_FLAGS  more training flags, e.g. "--batch=128 --seed=1" (they replace the grid's values)
#   DRY_RUN=1    print the commands instead of running them
set -euo pipefail
TRAIN_DIR=${TRAIN_DIR:-./experiments}
DATA_DIR=${DATA_DIR:-${ACAI_DATA:-./data}}
TOTAL_KIMG=${TOTAL_KIMG:-16384}
DATASETS=${DATASETS:-lines32 mnist32 svhn32 celeba32 cifar10}
N_INIT=${N_INIT:-1000}
SEEDS=${SEEDS:-0}

# The flags of acai_tf.grid for these settings; they end with `-- TRAIN_FLAGS`.
GRID_FLAGS=(--train_dir="$TRAIN_DIR" --data_dir="$DATA_DIR" --total_kimg="$TOTAL_KIMG"
            --datasets="${DATASETS// /,}" --n_init="$N_INIT"
            --seeds="${SEEDS// /,}")
if [[ -n "${REPORT_KIMG:-}" ]]; then GRID_FLAGS+=(--report_kimg="$REPORT_KIMG"); fi
if [[ -n "${MODELS:-}" ]]; then GRID_FLAGS+=(--models="${MODELS// /,}"); fi
if [[ -n "${RAW_DIR:-}" ]]; then GRID_FLAGS+=(--raw_dir="$RAW_DIR"); fi
read -ra train_flags <<< "${TRAIN_FLAGS:-}"
GRID_FLAGS+=(-- "${train_flags[@]}")

# run_grid --stage=STAGE [grid flags]: runs the jobs of STAGE one after the other, stopping at
# the first that fails (DRY_RUN=1: prints them).
run_grid() {
  local commands command
  commands=$(python -m acai_tf.grid "$@" "${GRID_FLAGS[@]}")
  if [[ -n "${DRY_RUN:-}" ]]; then
    if [[ -n "$commands" ]]; then echo "$commands"; fi
    return
  fi
  while IFS= read -r command; do
    if [[ -n "$command" ]]; then bash -c "$command" < /dev/null; fi
  done <<< "$commands"
}
