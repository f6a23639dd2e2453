#!/usr/bin/env bash
# LoRA for text: a BiLSTM pretrained without privacy on Debian package descriptions by section
# (public), fine-tuned privately on another section task over other packages (debian_tools, the
# stand-in private set) with each fine-tuning mode, against the same model trained from scratch.
# Results: results/text_finetuning.md (scripts/text_finetuning_results.py).
set -euo pipefail
RUNS=${RUNS:-runs/text}
EPSILON=${EPSILON:-3}
TRAIN=.venv/bin/dpzoo-train
$TRAIN --dataset=debian_descriptions --model=bilstm --engine=nonprivate --epochs=30 --batch_size=64 \
  --optimizer=adam --learning_rate=0.01 --output_dir="$RUNS/bilstm_debian" --overwrite
PRIVATE=(--dataset=debian_tools --model=bilstm --epochs=30 --batch_size=256 --optimizer=adam --learning_rate=0.01
  --l2_norm_clip=1 --target_epsilon="$EPSILON")
$TRAIN "${PRIVATE[@]}" --output_dir="$RUNS/scratch_eps$EPSILON" --overwrite
for mode in full lora head; do
  $TRAIN "${PRIVATE[@]}" --init_from="$RUNS/bilstm_debian" --finetune=$mode --output_dir="$RUNS/${mode}_eps$EPSILON" --overwrite
done
