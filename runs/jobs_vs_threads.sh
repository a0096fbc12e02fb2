#!/usr/bin/env bash
# Is a queue of runs finished sooner by N single-threaded runs side by side, or by one run at a
# time using every core? Trains the same short run NJOBS times both ways and prints the wall
# time and the total images/s of each (docs/performance.md, "Runs side by side").
#   MODEL=acai DATASET=lines32 KIMG=16 NJOBS=2 bash runs/jobs_vs_threads.sh
# Side by side, job i is pinned to core i (taskset) with one TensorFlow and OpenMP thread.
set -euo pipefail
MODEL=${MODEL:-acai}
DATASET=${DATASET:-lines32}
KIMG=${KIMG:-16}
NJOBS=${NJOBS:-2}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
train() {  # train RUN_FOLDER: one short run of the settings above, seed 0, in RUN_FOLDER
  python -m acai_tf.train --model="$MODEL" --dataset="$DATASET" --total_kimg="$KIMG" \
    --report_kimg="$KIMG" --train_dir="$1" > "$1.log" 2>&1
}
rate() {  # rate SECONDS: the images/s of NJOBS runs of KIMG kimg in SECONDS
  python -c "import sys; print(f'{$NJOBS * $KIMG * 1024 / float(sys.argv[1]):.0f}')" "$1"
}

start=$(date +%s.%N)
for ((i = 0; i < NJOBS; i++)); do
  train "$scratch/one$i"
done
one=$(python -c "print(f'{$(date +%s.%N) - $start:.1f}')")
echo "one run at a time, all cores: $NJOBS runs in $one s, $(rate "$one") img/s"

start=$(date +%s.%N)
pids=()
for ((i = 0; i < NJOBS; i++)); do
  TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1 \
    taskset -c "$i" bash -c "$(declare -f train); MODEL=$MODEL DATASET=$DATASET KIMG=$KIMG \
    train '$scratch/side$i'" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
side=$(python -c "print(f'{$(date +%s.%N) - $start:.1f}')")
echo "$NJOBS side by side, one thread each: $NJOBS runs in $side s, $(rate "$side") img/s"
