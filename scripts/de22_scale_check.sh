#!/usr/bin/env bash
# One logical step of De et al.'s CIFAR-10 setting (B = 4096, K = 16, WRN-16-4) in virtual batches
# on this machine: synthetic images in the CIFAR-10 file format (N = 50,000, so q is the paper's),
# the config's recipe with --physical_batch_size=P and --max_steps=1, under /usr/bin/time for the
# peak resident memory. Writes results/de22_scale/<name>.{log,time,card.json}.
#   bash scripts/de22_scale_check.sh 16          # the paper's B = 4096: about half an hour here
#   BATCH=256 bash scripts/de22_scale_check.sh 8  # a smaller logical batch: memory against P alone
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-16}"
BATCH="${BATCH:-4096}"
NAME="p$ROWS"
[ "$BATCH" = 4096 ] || NAME="b${BATCH}_p$ROWS"
DATA="${DATA:-/tmp/dpzoo-synthetic-cifar10}"
OUT=results/de22_scale
mkdir -p "$OUT"
if [ ! -f "$DATA/cifar-10-batches-py/test_batch" ]; then
  .venv/bin/python - "$DATA" <<'PY'
import os, pickle, sys
import numpy as np
from dpzoo.data import synthetic

folder = os.path.join(sys.argv[1], "cifar-10-batches-py")
os.makedirs(folder, exist_ok=True)
ds = synthetic("cifar10", 50_000, 1_000)
def write(name, images, labels):
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)  # the file format: channels first
    with open(os.path.join(folder, name), "wb") as f:
        pickle.dump({b"data": rows, b"labels": labels.tolist()}, f)
for i in range(5):
    part = slice(i * 10_000, (i + 1) * 10_000)
    write(f"data_batch_{i + 1}", ds.x_train[part], ds.y_train[part])
write("test_batch", ds.x_test, ds.y_test)
PY
fi
/usr/bin/time -v -o "$OUT/$NAME.time" .venv/bin/dpzoo-train \
  --config=train/configs/de22/cifar10_wrn16_4_eps8.py --data_dir="$DATA" --batch_size="$BATCH" \
  --physical_batch_size="$ROWS" --max_steps=1 --output_dir="/tmp/dpzoo-de22-scale-$NAME" --overwrite \
  > "$OUT/$NAME.log" 2>&1
cp "/tmp/dpzoo-de22-scale-$NAME/model_card.json" "$OUT/$NAME.card.json"
grep -E "Maximum resident|Elapsed" "$OUT/$NAME.time"
