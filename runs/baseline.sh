#!/usr/bin/env bash
# The paper's runs of the baseline model (see common.sh for the settings).
source "$(dirname "$0")/common.sh"
grid baseline
