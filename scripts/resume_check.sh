#!/usr/bin/env bash
# The resume acceptance check: kill -9 twice during scripts/quickstart.sh's training (each time a
# few seconds after a checkpoint; checkpoints every 50 steps, as the quickstart trains in about a
# minute, the default cadence), run it again, and compare the card and the weights with an
# uninterrupted run's.
cd "$(dirname "$0")/.."
log=${TMP:-/tmp}/dpzoo_qs_log.txt; : > "$log"
t0=$(date +%s); bash scripts/quickstart.sh > ${TMP:-/tmp}/dpzoo_qs_straight.out 2>&1; echo "straight rc=$? $(( $(date +%s)-t0 )) s" >> $log
cp runs/quickstart/model_card.json ${TMP:-/tmp}/dpzoo_qs_straight.json
rm -rf ${TMP:-/tmp}/dpzoo_qs_straight_run; cp -r runs/quickstart ${TMP:-/tmp}/dpzoo_qs_straight_run
rm -rf runs/quickstart
kill_after_checkpoint() {  # $1: wait for a checkpoint newer than this step; $2 extra seconds
  setsid bash scripts/quickstart.sh --checkpoint_every_steps=50 > ${TMP:-/tmp}/dpzoo_qs_killed_$3.out 2>&1 &
  pid=$!
  while true; do
    last=$(ls runs/.quickstart.partial/resume 2>/dev/null | grep '^step-' | sed 's/step-//' | sort -n | tail -1)
    if [ -n "$last" ] && [ "$last" -gt "$1" ]; then break; fi
    sleep 0.5
  done
  sleep $2
  kill -9 -- -$pid; wait $pid 2>/dev/null
  if grep -q "Wrote checkpoint, SavedModel" ${TMP:-/tmp}/dpzoo_qs_killed_$3.out; then finished="it had FINISHED: no kill"; else finished="mid-run"; fi
  echo "killed run $3 after checkpoint $last (+$2 s), $finished" >> $log
  killed_at=$last
}
kill_after_checkpoint 100 2 1
kill_after_checkpoint $((killed_at + 100)) 3 2
t0=$(date +%s); bash scripts/quickstart.sh --checkpoint_every_steps=50 > ${TMP:-/tmp}/dpzoo_qs_resumed.out 2>&1; echo "resumed rc=$? $(( $(date +%s)-t0 )) s" >> $log
grep -h "Resuming" ${TMP:-/tmp}/dpzoo_qs_killed_2.out ${TMP:-/tmp}/dpzoo_qs_resumed.out >> $log
cp runs/quickstart/model_card.json ${TMP:-/tmp}/dpzoo_qs_resumed.json
.venv/bin/python - >> $log <<'PY'
import json, os
tmp = os.environ.get("TMP", "/tmp")
a = json.load(open(f"{tmp}/dpzoo_qs_straight.json")); b = json.load(open(f"{tmp}/dpzoo_qs_resumed.json"))
for k in ("test_accuracy","test_accuracy_by_weights"): print(k, a["results"][k], b["results"][k])
print("epsilon", a["privacy"]["epsilon"], b["privacy"]["epsilon"], "steps", a["training"]["steps"], b["training"]["steps"])
print("statement", a["privacy"]["statement"] == b["privacy"]["statement"], "results equal", a["results"] == b["results"], "privacy equal", a["privacy"] == b["privacy"])
print("resumed_from", b["training"]["resumed_from_steps"])
va=[{k:v for k,v in r.items() if k.startswith("val_") or k=="epsilon"} for r in a["history"]]
vb=[{k:v for k,v in r.items() if k.startswith("val_") or k=="epsilon"} for r in b["history"]]
print("validation history equal", va==vb)
import numpy as np
from dpzoo.artifacts import run_folder
wa = run_folder.load_run(f"{tmp}/dpzoo_qs_straight_run")[0].get_weights()
wb = run_folder.load_run("runs/quickstart")[0].get_weights()
print("weights bitwise equal", all(np.array_equal(u, v) for u, v in zip(wa, wb, strict=True)))
PY
cat "$log"
