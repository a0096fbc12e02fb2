#!/usr/bin/env bash
# K-means accuracy (Table 3) for every exported run on mnist32, svhn32 and cifar10.
# Fixed against the original: it globbed no paths by hand (those said depth16 for SVHN/CIFAR
# runs trained at depth 64, and misspelled the denoising run), and VQ-VAE is included.
#   N_INIT  K-means restarts (default 1000, the paper's; use e.g. 20 for a quick look)
source "$(dirname "$0")/common.sh"
N_INIT=${N_INIT:-1000}
for dataset in mnist32 svhn32 cifar10; do
  wanted "$dataset" || continue
  for export in "$TRAIN_DIR/$dataset"/*/export; do
    [[ -e "$export" ]] || continue
    run acai_tf.eval.cluster --export="$export" --dataset="$dataset" --data_dir="$DATA_DIR" --n_init="$N_INIT"
  done
done
