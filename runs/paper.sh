#!/usr/bin/env bash
# Everything behind the paper's Tables 1-3: every model's grid, the evaluations, the tables
# (python -m acai_tf.grid lists them; settings: common.sh). On a CPU, shorten it, e.g.:
#   TOTAL_KIMG=256 DATASETS="lines32 mnist32" bash runs/paper.sh
# The real datasets must be built first (python -m acai_tf.grid --stage=data lists how). On a
# cluster: runs/slurm/paper.sh or runs/k8s/paper.sh (docs/scaling.md).
source "$(dirname "$0")/common.sh"
run_grid --stage=train
run_grid --stage=eval
run_grid --stage=report
