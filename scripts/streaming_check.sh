#!/usr/bin/env bash
# The streaming acceptance checks (results/streaming.md), each run on this machine:
#  1. the ImageNet NF-ResNet-50 config trains 3 logical steps on a synthetic ImageNet-shaped
#     ArrayRecord data set (varying-size JPEGs around 224x224x3), B, K and P overridden to fit a CPU;
#     peak resident memory and seconds per step;
#  2. the quickstart on Fashion-MNIST written as ArrayRecord against the in-memory quickstart;
#  3. dpzoo-bench --inputs: records/s in memory and streamed, beside the private step.
# Usage: bash scripts/streaming_check.sh [records]   (records: ImageNet-shaped training records, 4000)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-4000}
work=${TMP:-/tmp}/dpzoo_streaming; rm -rf "$work"; mkdir -p "$work"
py=.venv/bin/python
$py - "$work" "$records" <<'PY'
import sys
from dpzoo import data
from dpzoo.data import record_writer
work, n = sys.argv[1], int(sys.argv[2])
spec = data.SPECS["imagenet2012"]
print(record_writer.write_synthetic(f"{work}/tfds", "imagenet2012", n, 200, image_shape=spec.input_shape, num_classes=spec.num_classes))
fashion = data.load("fashion_mnist")
arrays = {"train": (fashion.x_train, fashion.y_train), "test": (fashion.x_test, fashion.y_test)}
print(record_writer.write_arrays(f"{work}/tfds", "fashion_mnist", arrays))
PY
du -sh "$work"/tfds/*
# 1. ImageNet config, 3 logical steps, a checkpoint (and a timestamped log line) after each
/usr/bin/time -v .venv/bin/dpzoo-train --config=train/configs/de22/imagenet_nf_resnet50_eps8.py \
  --data_dir="$work/tfds" --batch_size=32 --augmult=2 --physical_batch_size=16 --max_steps=3 \
  --checkpoint_every_steps=1 --output_dir="$work/imagenet" > "$work/imagenet.log" 2>&1
grep -E "checkpoint at step|Maximum resident|Elapsed \(wall" "$work/imagenet.log"
# 2. the quickstart streamed and in memory
.venv/bin/dpzoo-train --config=train/configs/fashion_mnist/quickstart.py --dataset=tfds:fashion_mnist \
  --data_dir="$work/tfds" --output_dir="$work/quickstart_streamed" > "$work/quickstart_streamed.log" 2>&1
.venv/bin/dpzoo-train --config=train/configs/fashion_mnist/quickstart.py \
  --output_dir="$work/quickstart_in_memory" > "$work/quickstart_in_memory.log" 2>&1
$py - "$work" <<'PY'
import json, sys
work = sys.argv[1]
cards = {k: json.load(open(f"{work}/quickstart_{k}/model_card.json")) for k in ("streamed", "in_memory")}
for k, c in cards.items():
    print(k, c["dataset"]["source"], c["results"]["test_accuracy"], c["privacy"]["statement"], c["wall_time_s"])
a, b = cards["streamed"], cards["in_memory"]
print("results equal", a["results"] == b["results"], "privacy equal", a["privacy"] == b["privacy"])
PY
# 3. records/s
.venv/bin/dpzoo-bench --inputs=fashion_mnist,tfds:fashion_mnist --data_dir="$work/tfds" --models=tutorial_cnn \
  --batch_size=256 --augmult=2 --output=results/bench_input_fashion_mnist_cpu 2>&1 | grep -v "^[IW][0-9]"
.venv/bin/dpzoo-bench --inputs=imagenet2012 --data_dir="$work/tfds" --models=nf_resnet50 --batch_size=32 \
  --augmult=2 --physical_batch_size=16 --input_steps=10 --rounds=1 --seconds_per_round=1 \
  --output=results/bench_input_imagenet_cpu 2>&1 | grep -v "^[IW][0-9]"
