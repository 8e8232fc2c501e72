#!/usr/bin/env bash
# Rebuild the whole bundled model family, in order, on a 2-core CPU (about 2.5 hours):
#   tokenizer -> verifier -> verifier eval -> distillation set -> AR drafter -> dLLM drafter
#   -> drafter evals -> ONNX export + fixtures -> onnxruntime-node checks + latency bench.
# Every training step checkpoints and resumes, so rerunning after an interruption continues.
# Usage: models/train/build_all.sh [DATA_DIR] [CKPT_DIR]
#   DATA_DIR: holds gsm8k-train.jsonl and gsm8k-test.jsonl (default ../shared/data)
#   CKPT_DIR: checkpoints, logs, eval outputs (default /work/scratch/ckpt; never the repo)
# Needs Debian's python3-torch, python3-onnx, libopenblas0-pthread (run with /usr/bin/python3)
# and node with node_modules/onnxruntime-node and @huggingface/tokenizers for the checks.
set -euo pipefail
source "$(dirname "$0")/pipeline.sh" "$@"

log "1. tokenizer"
[ -f "$TOK/tokenizer.json" ] || $PY train_tokenizer.py --train "$TRAIN" --out "$TOK"

log "2. verifier (12 x 256, 10.5M params, about 2.8 epochs of gold answers)"
[ -f "$CK/verifier.final.pt" ] || $PY train_ar.py --name verifier --tok "$TOK" \
  --data "gold:$TRAIN" --test "$TEST" --ckpt-dir "$CK" \
  --layers 12 --hidden 256 --inter 768 --epochs 2.8 --budget 4096 --lr 1.8e-3 --warmup 30

log "3. verifier eval (first 200 test questions, greedy, 256 new tokens)"
$PY eval_verifier.py --ckpt "$CK/verifier.final.pt" --tok "$TOK" --test "$TEST" --out "$CK/verifier_eval.json"

log "4. distillation set (verifier greedy answers to training questions, time-boxed)"
$PY distill.py --ckpt "$CK/verifier.final.pt" --tok "$TOK" --train "$TRAIN" --out "$CK/distill.jsonl" \
  --minutes "${DISTILL_MINUTES:-12}" --max-new 200 --batch 128

log "5. AR drafter (2 x 256, distilled answers, embedding from the verifier)"
[ -f "$CK/ar_drafter.final.pt" ] || $PY train_ar.py --name ar_drafter --tok "$TOK" \
  --data "distill:$CK/distill.jsonl" --test "$TEST" --ckpt-dir "$CK" \
  --layers 2 --hidden 256 --inter 480 --epochs "${AR_EPOCHS:-6}" --budget 4096 --lr 2e-3 --warmup 20 \
  --init-embed "$CK/verifier.final.pt"

log "6. dLLM drafter (block diffusion from the AR drafter)"
[ -f "$CK/drafter.final.pt" ] || $PY train_dllm.py --name drafter --init "$CK/ar_drafter.final.pt" \
  --tok "$TOK" --data "distill:$CK/distill.jsonl" --ckpt-dir "$CK" --epochs "${DLLM_EPOCHS:-8.3}" --lr 1e-3

log "7. drafter evals"
$PY eval_drafters.py --verifier-out "$CK/verifier_eval.json" --ar "$CK/ar_drafter.final.pt" \
  --dllm "$CK/drafter.final.pt" --out "$CK/drafter_eval.json"

log "8. export"
export_models
$PY dump_tokenizer_ids.py --tok "$TOK" --test "$TEST" --out "$MODELS/tiny-gsm-verifier/tokenizer_fixture.json" --n 200

log "9. onnxruntime-node checks, tokenizer check, latency"
check_models
$PY dump_tokenizer_ids.py --tok "$TOK" --test "$TEST" --out "$CK/tokenizer_ids_all.json" --n 0 --with-answers
(cd "$ROOT" && node models/train/tokenizer_ids_check.mjs models/tiny-gsm-verifier "$CK/tokenizer_ids_all.json")
log "done"
