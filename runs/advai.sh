#!/usr/bin/env bash
# AdvAI (extension; not in the paper) on the same grid as ACAI. Its first phase trains only the
# interpolation module for TRAIN_INT_KIMG (default: 1/8 of TOTAL_KIMG, the official 2048/16384).
source "$(dirname "$0")/common.sh"
TRAIN_INT_KIMG=${TRAIN_INT_KIMG:-$(python -c "print($TOTAL_KIMG / 8)")}
grid advai --train_int_kimg="$TRAIN_INT_KIMG"
