#!/usr/bin/env bash
# Everything behind the paper's Tables 1-3: every model's grid, the evaluations, the tables.
# On a CPU, shorten it, e.g.:  TOTAL_KIMG=256 DATASETS="lines32 mnist32" bash runs/paper.sh
set -euo pipefail
here=$(dirname "$0")
for model in baseline dropout denoising vae aae vqvae acai; do bash "$here/$model.sh"; done
bash "$here/evaluate.sh"
