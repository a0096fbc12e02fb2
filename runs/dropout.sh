#!/usr/bin/env bash
# The paper's runs of the dropout model (see common.sh for the settings).
# --dropout is a keep probability. The paper's CIFAR-10 runs used 0.75 (their run names say
# dropout0.75), the others the default 0.5.
source "$(dirname "$0")/common.sh"
DATASETS_ALL=$DATASETS
DATASETS=${DATASETS_ALL/cifar10/} grid dropout
for latent in 16 64; do
  DATASETS=$DATASETS_ALL train cifar10 --model=dropout --latent_width=4 --depth=64 --latent=$latent --dropout=0.75
done
