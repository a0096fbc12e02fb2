#!/usr/bin/env bash
# Post-hoc evaluations of every run of the grid (see common.sh), then the tables: line metrics
# (lines32), linear probes on latents and raw pixels, and clustering (mnist32, svhn32, cifar10).
# The exports are found from the settings, so the runs must have been trained with the same ones.
source "$(dirname "$0")/common.sh"
run_grid --stage=eval
run_grid --stage=report
