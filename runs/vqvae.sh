#!/usr/bin/env bash
# The paper's runs of VQ-VAE (the grid: python -m acai_tf.grid; see common.sh). Unlike the
# others, its lines32 run used a 4x4 latent (d_z 256). The original script nested the dataset
# directory twice; here runs land in $TRAIN_DIR/<dataset>/ like every other model.
source "$(dirname "$0")/common.sh"
run_grid --stage=train --models=vqvae
