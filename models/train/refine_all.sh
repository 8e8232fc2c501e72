#!/usr/bin/env bash
# Second generation of the bundled model family: continue training from the committed models
# instead of starting over (build_all.sh rebuilds from scratch). About 2 hours on 2 cores:
#   committed ONNX -> PyTorch checkpoints (from_onnx.py, checked against each fixture)
#   -> verifier: more epochs of gold answers (fresh optimiser, lower peak LR)
#   -> verifier eval -> distillation set from the new verifier (all training questions that fit)
#   -> AR drafter and dLLM drafter continued on it -> drafter evals -> export, checks, latency.
# Every stage checkpoints and resumes (rerun after an interruption).
# Usage: models/train/refine_all.sh [DATA_DIR] [CKPT_DIR]
set -euo pipefail
source "$(dirname "$0")/pipeline.sh" "$@"
mkdir -p "$TOK"

log "0. checkpoints from the committed models"
cp "$MODELS/tiny-gsm-verifier/tokenizer.json" "$MODELS/tiny-gsm-verifier/tokenizer_config.json" "$TOK/"
[ -f "$CK/verifier_prev.pt" ] || $PY from_onnx.py "$MODELS/tiny-gsm-verifier" "$CK/verifier_prev.pt"
[ -f "$CK/ar_drafter_prev.pt" ] || $PY from_onnx.py "$MODELS/tiny-gsm-ar-drafter" "$CK/ar_drafter_prev.pt"
[ -f "$CK/drafter_prev.pt" ] || $PY from_onnx.py "$MODELS/tiny-gsm-drafter" "$CK/drafter_prev.pt"

log "1. verifier: 3 more epochs of gold answers"
[ -f "$CK/verifier.final.pt" ] || $PY train_ar.py --name verifier --tok "$TOK" \
  --data "gold:$TRAIN" --test "$TEST" --ckpt-dir "$CK" --init "$CK/verifier_prev.pt" \
  --layers 12 --hidden 256 --inter 768 --epochs "${VERIFIER_EPOCHS:-3.0}" --budget 4096 --lr 8e-4 --warmup 10 \
  --ckpt-eval 100 ${VERIFIER_END:+--end-time $VERIFIER_END}

log "2. verifier eval"
[ -f "$CK/verifier_eval.json" ] || $PY eval_verifier.py --ckpt "$CK/verifier.final.pt" --tok "$TOK" --test "$TEST" --out "$CK/verifier_eval.json"

log "3. distillation set"
$PY distill.py --ckpt "$CK/verifier.final.pt" --tok "$TOK" --train "$TRAIN" --out "$CK/distill.jsonl" \
  --minutes "${DISTILL_MINUTES:-25}" --max-new 200 --batch 128 --chunk 512

log "4. drafters, side by side (AR drafter on one thread, dLLM drafter on two)"
[ -f "$CK/ar_drafter.final.pt" ] || $PY train_ar.py --name ar_drafter --tok "$TOK" \
  --data "distill:$CK/distill.jsonl" --test "$TEST" --ckpt-dir "$CK" --init "$CK/ar_drafter_prev.pt" \
  --layers 2 --hidden 256 --inter 480 --epochs "${AR_EPOCHS:-4}" --budget 4096 --lr 1.5e-3 --warmup 20 \
  --threads 1 ${DRAFTER_END:+--end-time $DRAFTER_END} > "$CK/ar_drafter.log" 2>&1 &
AR_PID=$!
[ -f "$CK/drafter.final.pt" ] || $PY train_dllm.py --name drafter --init "$CK/drafter_prev.pt" \
  --tok "$TOK" --data "distill:$CK/distill.jsonl" --ckpt-dir "$CK" --epochs "${DLLM_EPOCHS:-10}" --lr 1e-3 \
  --p-iid 0.3 --p-subblock 0.5 ${DRAFTER_END:+--end-time $DRAFTER_END} > "$CK/drafter.log" 2>&1
wait $AR_PID

log "5. drafter evals"
$PY eval_drafters.py --verifier-out "$CK/verifier_eval.json" --ar "$CK/ar_drafter.final.pt" \
  --dllm "$CK/drafter.final.pt" --out "$CK/drafter_eval.json"

log "6. export, checks, latency"
export_models
check_models
log "done"
