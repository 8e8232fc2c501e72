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
# The verifier and the AR drafter are unchanged by these two.
# The fifth generation adds distillation data: the training questions with their numbers
# replaced (perturb_questions.py, two copies), answered greedily by the verifier, so that the
# drafters must predict the verifier rather than recall its answers to 7,473 questions; both
# drafters continue on the old and new answers together (the AR drafter too, so that the
# baseline learns from the same data).
# Usage: models/train/refine_drafter.sh [DATA_DIR] [CKPT_DIR]
#   (DRAFTER3_END / DRAFTER4_END / AR5_END / DRAFTER5_END=HH:MM UTC fit a stage to a deadline;
#    DISTILL5_MINUTES bounds the new distillation set's generation, default 38)
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
E4="$PY eval_drafters.py --verifier-out $CK/verifier_eval.json --dllm $CK/drafter4.final.pt"
[ -f "$CK/drafter4_eval.json" ] || $E4 --out "$CK/drafter4_eval.json"
[ -f "$CK/drafter4_eval_trunc.json" ] || $E4 --window sub_block_end --out "$CK/drafter4_eval_trunc.json"
[ -f "$CK/drafter4_eval_sub4.json" ] || $E4 --sub-block 4 --out "$CK/drafter4_eval_sub4.json"

log "4. distillation set on perturbed training questions (fifth generation)"
[ -f "$CK/perturbed.jsonl" ] || $PY perturb_questions.py --train "$TRAIN" --out "$CK/perturbed.jsonl" --copies 2 --seed 7
[ -f "$CK/drafter5.final.pt" ] || $PY distill.py --ckpt "$CK/verifier.final.pt" --tok "$TOK" --train "$CK/perturbed.jsonl" \
  --out "$CK/distill_perturbed.jsonl" --minutes "${DISTILL5_MINUTES:-38}" --max-new 200 --batch 128 --chunk 512 --seed 99 \
  >> "$CK/distill_perturbed.log" 2>&1
DATA5=("distill:$CK/distill.jsonl" "distill:$CK/distill_perturbed.jsonl")

log "5. both drafters continued on old + new answers (AR drafter on one thread, side by side)"
[ -f "$CK/ar_drafter5.final.pt" ] || $PY train_ar.py --name ar_drafter5 --init "$CK/ar_drafter.final.pt" --tok "$TOK" \
  --data "${DATA5[@]}" --test "$TEST" --ckpt-dir "$CK" --layers 2 --hidden 256 --inter 480 --epochs 2 --budget 4096 \
  --lr 1e-3 --warmup 20 --seed 1235 --threads 1 ${AR5_END:+--end-time $AR5_END} >> "$CK/ar_drafter5.log" 2>&1 &
AR_PID=$!
[ -f "$CK/drafter5.final.pt" ] || $PY train_dllm.py --name drafter5 --init "$CK/drafter4.final.pt" \
  --tok "$TOK" --data "${DATA5[@]}" --ckpt-dir "$CK" --epochs 10 --lr 4e-4 --warmup 20 --seed 4323 \
  --p-trunc 0.5 --p-iid 0.1 --p-subblock 0.2 --offset-decay 0.8 ${DRAFTER5_END:+--end-time $DRAFTER5_END} >> "$CK/drafter5.log" 2>&1
wait $AR_PID

log "6. drafter evals (windows ending with the sub-block, as exported; 4-token sub-blocks)"
E5="$PY eval_drafters.py --verifier-out $CK/verifier_eval.json --dllm $CK/drafter5.final.pt"
$E5 --ar "$CK/ar_drafter5.final.pt" --window sub_block_end --out "$CK/drafter5_eval_trunc.json"
$E5 --out "$CK/drafter5_eval.json"
$E5 --sub-block 4 --out "$CK/drafter5_eval_sub4.json"

log "7. export of both drafters, checks, latency"
$PY export_onnx.py --ckpt "$CK/drafter5.final.pt" --tok "$TOK" --out "$MODELS/tiny-gsm-drafter" --kind drafter --test "$TEST" \
  --denoise-window sub_block_end
$PY export_onnx.py --ckpt "$CK/ar_drafter5.final.pt" --tok "$TOK" --out "$MODELS/tiny-gsm-ar-drafter" --kind ar-drafter --test "$TEST"
check_models
log "done"
