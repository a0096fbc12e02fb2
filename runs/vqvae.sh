#!/usr/bin/env bash
# The paper's runs of VQ-VAE (see common.sh for the settings). Unlike the others, its lines32 run
# used a 4x4 latent (d_z 256). The original script nested the dataset directory twice; here
# runs land in $TRAIN_DIR/<dataset>/ like every other model.
source "$(dirname "$0")/common.sh"
train lines32 --model=vqvae --latent_width=4 --depth=16 --latent=16
for latent in 16 2; do train mnist32 --model=vqvae --latent_width=4 --depth=16 --latent=$latent; done
for latent in 16 2; do train svhn32 --model=vqvae --latent_width=4 --depth=64 --latent=$latent; done
for latent in 16 2; do train celeba32 --model=vqvae --latent_width=4 --depth=64 --latent=$latent; done
for latent in 16 64; do train cifar10 --model=vqvae --latent_width=4 --depth=64 --latent=$latent; done
