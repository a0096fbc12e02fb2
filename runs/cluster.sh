#!/usr/bin/env bash
# K-means accuracy (Table 3) of every run of the grid on mnist32, svhn32 and cifar10 (see
# common.sh; N_INIT sets the restarts). Fixed against the original: it globbed no paths by hand
# (those said depth16 for SVHN/CIFAR runs trained at depth 64, and misspelled the denoising
# run), and VQ-VAE is included.
source "$(dirname "$0")/common.sh"
run_grid --stage=eval --evals=cluster
