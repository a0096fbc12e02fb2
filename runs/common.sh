# Shared by the runs/*.sh scripts. Settings come from the environment:
#   TRAIN_DIR   where runs go                 (default ./experiments)
#   DATA_DIR    TFRecords from data_prep      (default $ACAI_DATA, else ./data)
#   TOTAL_KIMG  training length per run       (default 16384, the paper's 2^24 images)
#   REPORT_KIMG report/checkpoint period      (default 64)
#   DATASETS    which datasets of the grid    (default: lines32 mnist32 svhn32 celeba32 cifar10)
#   DRY_RUN=1   print the commands instead of running them
set -euo pipefail
TRAIN_DIR=${TRAIN_DIR:-./experiments}
DATA_DIR=${DATA_DIR:-${ACAI_DATA:-./data}}
TOTAL_KIMG=${TOTAL_KIMG:-16384}
REPORT_KIMG=${REPORT_KIMG:-64}
DATASETS=${DATASETS:-lines32 mnist32 svhn32 celeba32 cifar10}

run() {
  if [[ -n "${DRY_RUN:-}" ]]; then echo "python -m $*"; else python -m "$@"; fi
}

wanted() { [[ " $DATASETS " == *" $1 "* ]]; }

train() {  # train DATASET FLAGS...
  local dataset=$1; shift
  wanted "$dataset" || return 0
  run acai_tf.train --dataset="$dataset" --train_dir="$TRAIN_DIR" --data_dir="$DATA_DIR" \
    --total_kimg="$TOTAL_KIMG" --report_kimg="$REPORT_KIMG" "$@"
}

# The 9 runs every model of the paper had (the original's runs/<model>.sh).
grid() {  # grid MODEL [FLAGS...]
  local model=$1; shift
  train lines32 --model="$model" --latent_width=2 --depth=16 --latent=16 "$@"
  for latent in 2 16; do train mnist32 --model="$model" --latent_width=4 --depth=16 --latent=$latent "$@"; done
  for latent in 2 16; do train svhn32 --model="$model" --latent_width=4 --depth=64 --latent=$latent "$@"; done
  for latent in 2 16; do train celeba32 --model="$model" --latent_width=4 --depth=64 --latent=$latent "$@"; done
  for latent in 16 64; do train cifar10 --model="$model" --latent_width=4 --depth=64 --latent=$latent "$@"; done
}
