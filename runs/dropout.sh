#!/usr/bin/env bash
# The paper's runs of the dropout model (the grid: python -m acai_tf.grid; see common.sh).
# --dropout is a keep probability: the paper's CIFAR-10 runs used 0.75 (their run names say
# dropout0.75), the others the default 0.5.
source "$(dirname "$0")/common.sh"
run_grid --stage=train --models=dropout
