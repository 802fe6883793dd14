#!/usr/bin/env bash
# Test perplexity of a language-model checkpoint with fairseq-eval-lm, scored the way fairseq's
# WikiText-103 example scores Baevski & Auli (2019) and Press et al. (2020) report: every token
# predicted with at least CONTEXT_WINDOW tokens of context (--context-window 2560 inside blocks of
# --tokens-per-sample 3072, i.e. 512 new tokens a block), --sample-break-mode complete.
# Published: Baevski & Auli 18.7, sandwich:16:6 (Press et al.) 17.96 test perplexity.
#
#   bash recipes/evaluate-lm.sh [--tiny] CKPT [DATA] [-- EXTRA_FAIRSEQ_EVAL_LM_ARGS...]
#
# DATA: the fairseq binaries the model was trained on (default data/wikitext103-bin).
# Prints, as its last line, `SUBSET ppl: X (loss Y base 2, context window Z)` and writes the same
# as JSON (checkpoint, data, subset, loss_base2, perplexity, context_window, tokens_per_sample,
# tokens_scored) to OUT (default: next to the checkpoint, CKPT_NAME.eval-lm.SUBSET.json), with
# fairseq's log beside it (.log). fairseq-eval-lm silently skips blocks longer than the model's
# positions (in tiny mode: the paragraphs longer than 64 pieces); tokens_scored says how many
# tokens were scored.
#
# Environment: CONTEXT_WINDOW (2560), TOKENS_PER_SAMPLE (3072; must not exceed the model's
# --tokens-per-sample), MAX_TOKENS (3072), MAX_SENTENCES (batch size, unset by default),
# SOFTMAX_BATCH (1024), SUBSET (test), PRECISION (fp32, the default, or fp16), OUT,
# TINY=1 / --tiny: on the CPU with CONTEXT_WINDOW 32, TOKENS_PER_SAMPLE 64, MAX_TOKENS 1024.
# Everything after `--` goes to fairseq-eval-lm unchanged.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

take_tiny_flag "$@"
[ "$TINY_FLAG_TAKEN" = "1" ] && shift
split_extra_args "$@"
[ "${#POSITIONAL[@]}" -ge 1 ] && [ "${#POSITIONAL[@]}" -le 2 ] ||
    die "usage: $RECIPE_NAME [--tiny] CKPT [DATA] [-- EXTRA_FAIRSEQ_EVAL_LM_ARGS...]"
ckpt="${POSITIONAL[0]}"
data="${POSITIONAL[1]:-$REPO_DIR/data/wikitext103-bin}"
require_file "$ckpt" "CKPT must be a checkpoint written by fairseq-train, e.g. runs/sandwich-lm-wt103-k6/checkpoint_best.pt"
require_file "$data/dict.txt" "DATA must be the fairseq binaries the model was trained on"
subset="${SUBSET:-test}"
one_of "$subset" SUBSET test valid train

if [ "$TINY" = "1" ]; then
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
    context="${CONTEXT_WINDOW:-32}" tokens="${TOKENS_PER_SAMPLE:-64}" max_tokens="${MAX_TOKENS:-1024}"
    device_args=(--cpu)
else
    context="${CONTEXT_WINDOW:-2560}" tokens="${TOKENS_PER_SAMPLE:-3072}" max_tokens="${MAX_TOKENS:-3072}"
    device_args=()
fi
nonneg_int "$context" CONTEXT_WINDOW
positive_int "$tokens" TOKENS_PER_SAMPLE
positive_int "$max_tokens" MAX_TOKENS
[ "$context" -lt "$tokens" ] || die "CONTEXT_WINDOW ($context) must be smaller than TOKENS_PER_SAMPLE ($tokens)"
softmax_batch="${SOFTMAX_BATCH:-1024}"
positive_int "$softmax_batch" SOFTMAX_BATCH
batch_args=()
if [ -n "${MAX_SENTENCES:-}" ]; then
    positive_int "$MAX_SENTENCES" MAX_SENTENCES
    batch_args=(--max-sentences "$MAX_SENTENCES")
fi
precision="${PRECISION:-fp32}"
[ "$TINY" != "1" ] || [ "$precision" = "fp32" ] || die "tiny mode runs on the CPU: PRECISION must be fp32, got '$precision'"
precision_flags "$precision"
out="${OUT:-$(dirname "$ckpt")/$(basename "$ckpt" .pt).eval-lm.$subset.json}"
log="${out%.json}.log"

args=(
    "$data"
    --user-dir "$REPO_DIR/fairseq_plugins"
    --path "$ckpt"
    --gen-subset "$subset"
    --sample-break-mode complete
    --tokens-per-sample "$tokens" --context-window "$context"
    --max-tokens "$max_tokens" --softmax-batch "$softmax_batch"
    "${batch_args[@]}"
    "${device_args[@]}"
    "${PRECISION_ARGS[@]}"
    "${EXTRA_ARGS[@]}"
)
if [ "$DRY_RUN" = "1" ]; then
    run "$(fairseq_tool fairseq-eval-lm)" "${args[@]}"
    exit 0
fi
mkdir -p "$(dirname "$out")"
note "scoring $ckpt on $data ($subset, context window $context) -> $out"
"$(fairseq_tool fairseq-eval-lm)" "${args[@]}" 2>&1 | tee "$log" >&2

result="$(grep -o 'Loss (base 2): [^,]*, Perplexity: [^ ]*' "$log" | tail -n 1 || true)"
if [ -z "$result" ]; then
    echo "$RECIPE_NAME: fairseq-eval-lm printed no perplexity (see $log)" >&2
    exit 1
fi
loss="$(sed -E 's/^Loss \(base 2\): ([^,]*),.*/\1/' <<<"$result")"
ppl="$(sed -E 's/.*Perplexity: //' <<<"$result")"
scored="$(grep -o 'Evaluated [0-9,]* tokens' "$log" | tail -n 1 | tr -dc '0-9' || true)"
json_num() { if [[ "$1" =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then echo "$1"; else echo null; fi; }
{
    printf '{\n'
    printf '  "checkpoint": %s,\n' "$(json_str "$ckpt")"
    printf '  "data": %s,\n' "$(json_str "$data")"
    printf '  "subset": %s,\n' "$(json_str "$subset")"
    printf '  "loss_base2": %s,\n' "$(json_num "$loss")"
    printf '  "perplexity": %s,\n' "$(json_num "$ppl")"
    printf '  "context_window": %s,\n' "$context"
    printf '  "tokens_per_sample": %s,\n' "$tokens"
    printf '  "tokens_scored": %s,\n' "${scored:-null}"
    printf '  "sample_break_mode": "complete",\n'
    printf '  "tool": "fairseq-eval-lm"\n'
    printf '}\n'
} >"$out"
echo "$subset ppl: $ppl (loss $loss base 2, context window $context)"
