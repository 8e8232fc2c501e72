# Shared by build_all.sh and refine_all.sh (sourced, with their arguments): paths, the log line,
# and the last stages both run (export of the three models, onnxruntime checks, latency).
#   $1 DATA_DIR: holds gsm8k-train.jsonl and gsm8k-test.jsonl (default ../shared/data)
#   $2 CKPT_DIR: checkpoints, logs, eval outputs (default /work/scratch/ckpt; never the repo)
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DATA="${1:-$ROOT/../shared/data}"
CK="${2:-/work/scratch/ckpt}"
PY=/usr/bin/python3
TRAIN="$DATA/gsm8k-train.jsonl"
TEST="$DATA/gsm8k-test.jsonl"
MODELS="$ROOT/models"
TOK="$CK/tokenizer"
mkdir -p "$CK"
cd "$HERE"
log() { echo "[$(date -u +%H:%M:%S)] $*"; }

# ONNX export, config and PyTorch fixture of each final checkpoint into models/.
export_models() {
  $PY export_onnx.py --ckpt "$CK/verifier.final.pt" --tok "$TOK" --out "$MODELS/tiny-gsm-verifier" --kind verifier --test "$TEST"
  $PY export_onnx.py --ckpt "$CK/ar_drafter.final.pt" --tok "$TOK" --out "$MODELS/tiny-gsm-ar-drafter" --kind ar-drafter --test "$TEST"
  $PY export_onnx.py --ckpt "$CK/drafter.final.pt" --tok "$TOK" --out "$MODELS/tiny-gsm-drafter" --kind drafter --test "$TEST"
}

# onnxruntime-node against the fixtures, then the cost ratios (run from the repository root).
check_models() {
  (cd "$ROOT" &&
    node models/train/check_onnx.mjs models/tiny-gsm-verifier models/tiny-gsm-ar-drafter models/tiny-gsm-drafter &&
    node models/train/bench_latency.mjs models/tiny-gsm-verifier models/tiny-gsm-drafter models/tiny-gsm-ar-drafter 300 1)
}
