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
# The sixth generation adds more of the same: the rest of the fifth's rewritten questions and two
# more rewritten copies with another seed, answered by the verifier; both drafters continue from
# the fifth on all answers.
# The seventh generation changes the dLLM drafter's target rather than its data: the verifier's
# top-16 next-token distributions over the sixth's answers (teacher_logits.py) are learnt beside
# the greedy tokens (soft-target distillation, train_dllm.py --teacher, alpha 0.5). A control run
# continues the sixth the same way (same seed, batches, masks, schedule) without them, side by
# side on one thread each, so that the evals tell what the soft targets bought over more steps.
# The AR drafter stays the sixth's. A seventh dLLM drafter replaces the sixth only if it drafts
# clearly better: at least 0.1 more leading matches (the committed binaries are re-committed only
# for a clear gain). In the run of 2026-11-30 neither did (1.98 and 1.99 against 1.96).
# Usage: models/train/refine_drafter.sh [DATA_DIR] [CKPT_DIR]
#   (DRAFTER3_END / DRAFTER4_END / AR5_END / DRAFTER5_END / AR6_END / DRAFTER6_END /
#    DRAFTER7_END=HH:MM UTC fit a stage to a deadline; DISTILL5_MINUTES / DISTILL6_MINUTES bound the distillation sets'
#    generation, defaults 38 and 40)
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

# The verifier's greedy answers to the questions in CK/QUESTIONS.jsonl, appended to CK/OUT.jsonl
# (rerunning resumes) in the order that SEED shuffles them, for at most MINUTES; log CK/OUT.log.
distill_into() {
  local QUESTIONS=$1 OUT=$2 MINUTES=$3 SEED=$4
  $PY distill.py --ckpt "$CK/verifier.final.pt" --tok "$TOK" --train "$CK/$QUESTIONS.jsonl" --out "$CK/$OUT.jsonl" \
    --minutes "$MINUTES" --max-new 200 --batch 128 --chunk 512 --seed "$SEED" >> "$CK/$OUT.log" 2>&1
}

log "4. distillation set on perturbed training questions (fifth generation)"
[ -f "$CK/perturbed.jsonl" ] || $PY perturb_questions.py --train "$TRAIN" --out "$CK/perturbed.jsonl" --copies 2 --seed 7
[ -f "$CK/drafter5.final.pt" ] || distill_into perturbed distill_perturbed "${DISTILL5_MINUTES:-38}" 99
DATA5=("distill:$CK/distill.jsonl" "distill:$CK/distill_perturbed.jsonl")

# Generation G of both drafters, continued from the checkpoints AR_INIT and DLLM_INIT on the data
# sets after the first five arguments: the AR drafter 2 epochs on one thread at AR_LR, beside the
# dLLM drafter (10 epochs planned at DLLM_LR, usually cut by DRAFTER<G>_END). Seeds 1230+G, 4318+G.
continue_drafters() {
  local G=$1 AR_INIT=$2 AR_LR=$3 DLLM_INIT=$4 DLLM_LR=$5
  shift 5
  local AR_END_VAR="AR${G}_END" DLLM_END_VAR="DRAFTER${G}_END"
  local AR_END="${!AR_END_VAR:-}" DLLM_END="${!DLLM_END_VAR:-}"
  [ -f "$CK/ar_drafter$G.final.pt" ] || $PY train_ar.py --name "ar_drafter$G" --init "$AR_INIT" --tok "$TOK" \
    --data "$@" --test "$TEST" --ckpt-dir "$CK" --layers 2 --hidden 256 --inter 480 --epochs 2 --budget 4096 \
    --lr "$AR_LR" --warmup 20 --seed $((1230 + G)) --threads 1 ${AR_END:+--end-time $AR_END} >> "$CK/ar_drafter$G.log" 2>&1 &
  local AR_PID=$!
  [ -f "$CK/drafter$G.final.pt" ] || $PY train_dllm.py --name "drafter$G" --init "$DLLM_INIT" \
    --tok "$TOK" --data "$@" --ckpt-dir "$CK" --epochs 10 --lr "$DLLM_LR" --warmup 20 --seed $((4318 + G)) \
    --p-trunc 0.5 --p-iid 0.1 --p-subblock 0.2 --offset-decay 0.8 ${DLLM_END:+--end-time $DLLM_END} >> "$CK/drafter$G.log" 2>&1
  wait $AR_PID
}

log "5. both drafters continued on old + new answers (AR drafter on one thread, side by side)"
continue_drafters 5 "$CK/ar_drafter.final.pt" 1e-3 "$CK/drafter4.final.pt" 4e-4 "${DATA5[@]}"

# Evals of one generation G of both drafters (first 200 test questions): 8-token sub-blocks with
# windows ending with the sub-block (as exported) and with whole-block windows; 4-token sub-blocks.
eval_generation() {
  local G=$1
  local E="$PY eval_drafters.py --verifier-out $CK/verifier_eval.json --dllm $CK/drafter$G.final.pt"
  [ -f "$CK/drafter${G}_eval_trunc.json" ] || $E --ar "$CK/ar_drafter$G.final.pt" --window sub_block_end \
    --out "$CK/drafter${G}_eval_trunc.json"
  [ -f "$CK/drafter${G}_eval.json" ] || $E --out "$CK/drafter${G}_eval.json"
  [ -f "$CK/drafter${G}_eval_sub4.json" ] || $E --sub-block 4 --out "$CK/drafter${G}_eval_sub4.json"
}

log "6. fifth-generation drafter evals"
eval_generation 5

log "7. distillation set on more perturbed training questions (sixth generation)"
D6_MIN="${DISTILL6_MINUTES:-40}"
[ -f "$CK/perturbed6.jsonl" ] || $PY perturb_questions.py --train "$TRAIN" --out "$CK/perturbed6.jsonl" --copies 2 --seed 11
if [ ! -f "$CK/drafter6.final.pt" ]; then
  START=$(date +%s)
  distill_into perturbed distill_perturbed "$D6_MIN" 99
  LEFT=$(( D6_MIN * 60 - ($(date +%s) - START) ))
  [ "$LEFT" -le 60 ] || distill_into perturbed6 distill_perturbed6 "$(( LEFT / 60 ))" 98
fi
DATA6=("${DATA5[@]}" "distill:$CK/distill_perturbed6.jsonl")

log "8. both drafters continued from the fifth generation on all answers"
continue_drafters 6 "$CK/ar_drafter5.final.pt" 7e-4 "$CK/drafter5.final.pt" 3e-4 "${DATA6[@]}"

log "9. sixth-generation drafter evals"
eval_generation 6

log "10. the verifier's top-16 next-token distributions over all the sixth's answers"
[ -f "$CK/teacher6.pt" ] || $PY teacher_logits.py --ckpt "$CK/verifier.final.pt" --tok "$TOK" --data "${DATA6[@]}" \
  --out "$CK/teacher6.pt" >> "$CK/teacher6.log" 2>&1

log "11. dLLM drafter continued from the sixth with soft targets, and its control without them"
# NAME EXTRA...: the two runs differ only in EXTRA (same seed, so the same batches and masks)
seventh() {
  local NAME=$1
  shift
  [ -f "$CK/$NAME.final.pt" ] || $PY train_dllm.py --name "$NAME" --init "$CK/drafter6.final.pt" --tok "$TOK" \
    --data "${DATA6[@]}" --ckpt-dir "$CK" --epochs 10 --lr 2e-4 --warmup 20 --seed 4325 --threads 1 \
    --p-trunc 0.5 --p-iid 0.1 --p-subblock 0.2 --offset-decay 0.8 ${DRAFTER7_END:+--end-time $DRAFTER7_END} \
    "$@" >> "$CK/$NAME.log" 2>&1
}
seventh drafter7 --teacher "$CK/teacher6.pt" --kd-alpha 0.5 &
KD_PID=$!
seventh drafter7_hard
wait $KD_PID

log "12. seventh-generation evals (the AR drafter is the sixth's)"
for NAME in drafter7 drafter7_hard; do
  E="$PY eval_drafters.py --verifier-out $CK/verifier_eval.json --dllm $CK/$NAME.final.pt"
  [ -f "$CK/${NAME}_eval_trunc.json" ] || $E --window sub_block_end --out "$CK/${NAME}_eval_trunc.json"
  [ -f "$CK/${NAME}_eval.json" ] || $E --out "$CK/${NAME}_eval.json"
done

log "13. export of the dLLM drafter (a seventh only if >= 0.1 more leading matches) and of the sixth AR drafter"
BEST=$($PY - "$CK" drafter6 drafter7 drafter7_hard <<'PYEOF'
import json, sys
ck, names = sys.argv[1], sys.argv[2:]
lead = {n: json.load(open(f"{ck}/{n}_eval_trunc.json"))["dllm_drafter"]["mean_leading_matches"] for n in names}
best = max(names[1:], key=lambda n: (lead[n], -names.index(n)))
print(best if lead[best] >= lead[names[0]] + 0.1 else names[0])
PYEOF
)
log "exporting $BEST"
$PY export_onnx.py --ckpt "$CK/$BEST.final.pt" --tok "$TOK" --out "$MODELS/tiny-gsm-drafter" --kind drafter --test "$TEST" \
  --denoise-window sub_block_end
$PY export_onnx.py --ckpt "$CK/ar_drafter6.final.pt" --tok "$TOK" --out "$MODELS/tiny-gsm-ar-drafter" --kind ar-drafter --test "$TEST"
check_models
log "done"
