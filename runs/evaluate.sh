#!/usr/bin/env bash
# Post-hoc evaluations of every exported run, then the tables:
# line metrics (lines32), linear probes on latents and raw pixels, clustering (cluster.sh).
source "$(dirname "$0")/common.sh"
if wanted lines32; then
  for export in "$TRAIN_DIR/lines32"/*/export; do
    [[ -e "$export" ]] && run acai_tf.eval.lines --export="$export"
  done
fi
for dataset in mnist32 svhn32 cifar10; do
  wanted "$dataset" || continue
  [[ -d "$TRAIN_DIR/$dataset" ]] || continue
  run acai_tf.eval.probe --pixels --dataset="$dataset" --data_dir="$DATA_DIR" \
    --output="$TRAIN_DIR/$dataset/eval_probe_pixels_$dataset.json"
  for export in "$TRAIN_DIR/$dataset"/*/export; do
    [[ -e "$export" ]] && run acai_tf.eval.probe --export="$export" --data_dir="$DATA_DIR"
  done
done
bash "$(dirname "$0")/cluster.sh"
run acai_tf.report --train_dir="$TRAIN_DIR"
