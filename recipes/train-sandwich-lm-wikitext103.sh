#!/usr/bin/env bash
# Train the sandwich transformer LM of Press, Smith & Levy (2020) on WikiText-103: Baevski &
# Auli's (2019) adaptive-input transformer LM (fairseq `transformer_lm_wiki103`: 16 s/f pairs,
# d=1024, FFN 4096, 8 heads, adaptive input and adaptive softmax with cutoffs 20000,60000 and
# tied weights, dropout 0.3) with its 32 sublayers in the order sandwich:16:K (K self-attention
# sublayers first, K feed-forward sublayers last, interleaved in between). K=0 is the interleaved
# baseline, i.e. Baevski & Auli's model itself. Published (test perplexity): Baevski & Auli 18.7;
# Press et al. sandwich:16:6 17.96. Evaluate with recipes/evaluate-lm.sh.
#
#   bash recipes/train-sandwich-lm-wikitext103.sh [--tiny] K [-- EXTRA_FAIRSEQ_TRAIN_ARGS...]
#
# Hyperparameters (fairseq's examples/language_model/README.adaptive_inputs.md, which Press et
# al. kept unchanged): nag optimizer, lr 1.0 with cosine schedule (t-mult 2, lr-period-updates
# 270000, lr-shrink 0.75, min-lr 1e-4), warmup 16000 updates from 1e-7, clip-norm 0.1,
# max-update 286000, criterion adaptive_loss, tokens-per-sample 3072 (sample-break-mode none),
# max-tokens 3072 per GPU with update-freq 3 on 8 GPUs (24 x 3072 tokens per update), seed 1,
# --ddp-backend legacy_ddp (the adaptive loss needs it); checkpoint_best.pt and
# checkpoint_last.pt are kept (no per-epoch checkpoints: an epoch is ~1400 updates). Arch: the plugin's sandwich_lm_wiki103
# with --sandwich-coef K (= --decoder-sublayer-order sandwich:16:K).
#
# Environment:
#   DATA         fairseq binaries from recipes/prepare-wikitext103.sh (default data/wikitext103-bin)
#   SAVE_DIR     checkpoints (default runs/sandwich-lm-wt103-kK)
#   GPUS         GPUs to train on (default: the visible ones, via CUDA_VISIBLE_DEVICES / nvidia-smi)
#   UPDATE_FREQ  gradient accumulation (default: 24 / GPUS rounded up, so that the effective batch
#                is the paper's 8 GPUs x update-freq 3)
#   PRECISION    fp16 (default) or fp32; bf16 is refused (fairseq 0.12's --bf16 means TPU)
#   SEED         default 1
#   TINY=1 / --tiny: the same command on CPU with a demo-sized model (d=32, 16 pairs, small
#                adaptive cutoffs), 20 updates, 1 epoch at most, tokens-per-sample 64, fp32
# Everything after `--` goes to fairseq-train unchanged (and wins over the recipe's flags).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

take_tiny_flag "$@"
[ "$TINY_FLAG_TAKEN" = "1" ] && shift
split_extra_args "$@"
[ "${#POSITIONAL[@]}" -eq 1 ] || die "usage: $RECIPE_NAME [--tiny] K [-- EXTRA_FAIRSEQ_TRAIN_ARGS...]  (K: sandwich coefficient 0..16)"
k="${POSITIONAL[0]}"
[[ "$k" =~ ^[0-9]{1,2}$ ]] && [ "$((10#$k))" -le 16 ] ||
    die "K must be an integer from 0 to 16 (the sandwich coefficient of sandwich:16:K; 0 = interleaved baseline), got '$k'"
k=$((10#$k))

data="${DATA:-$REPO_DIR/data/wikitext103-bin}"
save_dir="${SAVE_DIR:-runs/sandwich-lm-wt103-k$k}"
require_file "$data/dict.txt" "DATA must be fairseq binaries from recipes/prepare-wikitext103.sh"
seed="${SEED:-1}"
nonneg_int "$seed" SEED

mode=""
if [ "$TINY" = "1" ]; then
    mode=", tiny"
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" # demo-sized models: threads only add overhead
    gpus=1
    update_freq="${UPDATE_FREQ:-1}"
    precision="${PRECISION:-fp32}"
    [ "$precision" = "fp32" ] || die "tiny mode trains on the CPU: PRECISION must be fp32, got '$precision'"
    device_args=(--cpu)
    # sizes and lengths only; every other flag is the full recipe's
    max_update=20 warmup=5 lr_period=15 tokens=64 max_tokens=256
    size_args=(--decoder-embed-dim 32 --decoder-ffn-embed-dim 64 --decoder-attention-heads 2
        --adaptive-input-cutoff 500,1000 --adaptive-softmax-cutoff 500,1000
        --max-epoch 1 --max-valid-steps 2 --log-interval 5)
else
    gpus="${GPUS:-$(visible_gpus)}"
    positive_int "$gpus" GPUS
    update_freq="${UPDATE_FREQ:-$(ceil_div 24 "$gpus")}"
    precision="${PRECISION:-fp16}"
    device_args=(--distributed-world-size "$gpus")
    max_update=286000 warmup=16000 lr_period=270000 tokens=3072 max_tokens=3072
    size_args=()
fi
positive_int "$update_freq" UPDATE_FREQ
precision_flags "$precision"
if [ "$TINY" != "1" ] && [ $((gpus * update_freq)) -ne 24 ]; then
    note "GPUS=$gpus x UPDATE_FREQ=$update_freq = $((gpus * update_freq)) x 3072 tokens per update; the paper used 24 x 3072 (8 GPUs x 3)"
fi

args=(
    "$data"
    --user-dir "$REPO_DIR/fairseq_plugins"
    --task language_modeling
    --arch sandwich_lm_wiki103 --sandwich-coef "$k"
    --max-update "$max_update"
    --lr 1.0 --t-mult 2 --lr-period-updates "$lr_period" --lr-scheduler cosine --lr-shrink 0.75
    --warmup-updates "$warmup" --warmup-init-lr 1e-07 --stop-min-lr 1e-09 --min-lr 0.0001
    --optimizer nag --clip-norm 0.1
    --criterion adaptive_loss
    --tokens-per-sample "$tokens" --sample-break-mode none --max-tokens "$max_tokens"
    --update-freq "$update_freq"
    --seed "$seed"
    --skip-invalid-size-inputs-valid-test
    --ddp-backend legacy_ddp
    --save-dir "$save_dir" --no-epoch-checkpoints
    "${device_args[@]}"
    "${PRECISION_ARGS[@]}"
    "${size_args[@]}"
    "${EXTRA_ARGS[@]}"
)
note "training sandwich:16:$k on $data -> $save_dir (GPUs $gpus, update-freq $update_freq, $precision$mode)"
run mkdir -p "$save_dir"
run "$(fairseq_tool fairseq-train)" "${args[@]}"
note "done: checkpoints in $save_dir (evaluate: bash recipes/evaluate-lm.sh $save_dir/checkpoint_best.pt $data)"
