#!/usr/bin/env bash
# Third generation: the dLLM drafter alone, continued from the second generation's
# (CK/drafter.final.pt, from refine_all.sh) on the same distillation set, with an objective aimed
# at what the engine asks of it: masks mostly from a uniform point of the block to its end (as
# after a verified prefix of any length), and each masked position's loss weighted by
# 0.8^(distance from the block's first mask), since a draft is accepted only up to its first
# miss. About 90 minutes on 2 cores per stage; checkpoints and resumes (rerun after an
# interruption; the logs are appended to).
# The fourth generation continues the third with a lower peak LR, a new seed, and half of the
# suffix-masked blocks cut after their first mask's sub-block (--p-trunc 0.5), so that the
# runtime can feed denoising windows that end there ("denoise_window": "sub_block_end").
# The verifier and the AR drafter are unchanged.
# Usage: models/train/refine_drafter.sh [DATA_DIR] [CKPT_DIR]
#   (DRAFTER3_END / DRAFTER4_END=HH:MM UTC fit a stage to a deadline)
set -euo pipefail
source "$(dirname "$0")/pipeline.sh" "$@"

log "1. dLLM drafter, continued with offset-weighted suffix masks"
[ -f "$CK/drafter3.final.pt" ] || $PY train_dllm.py --name drafter3 --init "$CK/drafter.final.pt" \
  --tok "$TOK" --data "distill:$CK/distill.jsonl" --ckpt-dir "$CK" --epochs 30 --lr 5e-4 --warmup 20 \
  --p-iid 0.1 --p-subblock 0.2 --offset-decay 0.8 ${DRAFTER3_END:+--end-time $DRAFTER3_END} >> "$CK/drafter3.log" 2>&1

log "2. dLLM drafter, continued again (fourth generation)"
[ -f "$CK/drafter4.final.pt" ] || $PY train_dllm.py --name drafter4 --init "$CK/drafter3.final.pt" \
  --tok "$TOK" --data "distill:$CK/distill.jsonl" --ckpt-dir "$CK" --epochs 30 --lr 3e-4 --warmup 20 --seed 4322 \
  --p-trunc 0.5 --p-iid 0.1 --p-subblock 0.2 --offset-decay 0.8 ${DRAFTER4_END:+--end-time $DRAFTER4_END} >> "$CK/drafter4.log" 2>&1

log "3. drafter eval (8-token sub-blocks, both windows; 4-token sub-blocks)"
$PY eval_drafters.py --verifier-out "$CK/verifier_eval.json" --dllm "$CK/drafter4.final.pt" --out "$CK/drafter4_eval.json"
$PY eval_drafters.py --verifier-out "$CK/verifier_eval.json" --dllm "$CK/drafter4.final.pt" --window sub_block_end \
  --out "$CK/drafter4_eval_trunc.json"
$PY eval_drafters.py --verifier-out "$CK/verifier_eval.json" --dllm "$CK/drafter4.final.pt" --sub-block 4 --out "$CK/drafter4_eval_sub4.json"

log "4. export (windows ending with the sub-block), checks, latency"
$PY export_onnx.py --ckpt "$CK/drafter4.final.pt" --tok "$TOK" --out "$MODELS/tiny-gsm-drafter" --kind drafter --test "$TEST" \
  --denoise-window sub_block_end
check_models
log "done"
