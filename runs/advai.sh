#!/usr/bin/env bash
# AdvAI (extension; not in the paper) on the same grid as the paper's models. Its first phase
# trains only the interpolation module for TRAIN_INT_KIMG (default: 1/8 of TOTAL_KIMG, the
# official 2048/16384).
TRAIN_FLAGS="${TRAIN_FLAGS:-}${TRAIN_INT_KIMG:+ --train_int_kimg=$TRAIN_INT_KIMG}"
source "$(dirname "$0")/common.sh"
run_grid --stage=train --models=advai
