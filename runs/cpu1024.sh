#!/usr/bin/env bash
# The queue behind the README's 1,024-kimg tables (results/cpu1024), one run at a time, each
# run's records committed as it finishes, with the README's tables and docs/learning_curves.png
# redrawn from them in the same commit; run it again to go on where it stopped:
#   TRAIN_DIR=/somewhere/cpu1024 bash runs/cpu1024.sh
# Tables 2 and 3 first (baseline and ACAI on mnist32), then Table 1's seven models on lines32,
# seed by seed. mnist32 must be built first (python -m acai_tf.grid --stage=data lists how).
set -euo pipefail
cd "$(dirname "$0")/.."
TRAIN_DIR=${TRAIN_DIR:-./experiments/cpu1024}
DATA_DIR=${DATA_DIR:-${ACAI_DATA:-./data}}
queue() {
  python runs/run_queue.py --results=results/cpu1024 --train_dir="$TRAIN_DIR" \
    --data_dir="$DATA_DIR" --total_kimg=1024 --seeds=0,1,2 --commit "$@" \
    --refresh='python docs/readme_results.py && python docs/learning_curves.py --train_dir=results/cpu1024' \
    -- --latent=16
}
queue --datasets=mnist32 --models=baseline,acai
queue --datasets=lines32
