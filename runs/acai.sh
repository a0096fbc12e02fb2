#!/usr/bin/env bash
# The paper's runs of the acai model (the grid: python -m acai_tf.grid; see common.sh).
source "$(dirname "$0")/common.sh"
run_grid --stage=train --models=acai
