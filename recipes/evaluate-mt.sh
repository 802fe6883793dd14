#!/usr/bin/env bash
# BLEU of a translation checkpoint on WMT'14 En-De newstest2014 (the test split of
# recipes/prepare-wmt14-en-de.sh): fairseq-generate with beam 4, length penalty 0.6 and maximum
# output length source + 50 (Vaswani et al., 2017), sentencepiece removed (--post-process
# sentencepiece), then two scores:
#   sacreBLEU   detokenized output against the raw reference (REF), 13a tokenization, with its
#               signature: the number to compare across toolkits and papers that use sacreBLEU
#   tokenized BLEU (compound-split)   the number older papers report (Vaswani 27.3 / 28.4,
#               Ott et al. 29.3, ET 28.4 / 29.8): tensor2tensor's get_ende_bleu.sh and fairseq's
#               compound_split_bleu.sh tokenize with Moses and split hyphenated compounds
#               (a-b -> a ##AT##-##AT## b) before multi-bleu; so does this recipe
#               (evotrans.tokenized_bleu: sacremoses, the Python Moses tokenizer, then BLEU over
#               the tokens). NOT comparable to sacreBLEU.
#
#   bash recipes/evaluate-mt.sh [--tiny] CKPT [DATA] [-- EXTRA_FAIRSEQ_GENERATE_ARGS...]
#
# DATA: the binaries the model was trained on (default data/wmt14-en-de-bin).
# REF: the raw (untokenized) reference of the split, e.g. RAW_DIR/newstest2014.de; hypotheses
# are matched to its lines by sentence id. Without REF the references fairseq decodes from DATA
# (T- lines) are used, with a note: they differ from the raw text where sentencepiece had no
# piece (shown as ⁇), so give REF for a reportable score.
# Writes OUT (default: next to the checkpoint, CKPT_NAME.eval-mt.SUBSET.json) with both scores,
# signatures and settings, and beside it the generation log (.gen.txt), hypotheses (.hyp.txt)
# and references (.ref.txt) in sentence-id order. The last line printed is
# `SUBSET sacreBLEU: X (SIGNATURE); tokenized BLEU (Moses, compound-split): Y`.
#
# Environment: BEAM (4), LENPEN (0.6), MAX_LEN_A (1), MAX_LEN_B (50), BATCH_SIZE (128),
# SUBSET (test), REF, SRC_LANG/TGT_LANG (default: the pair in DATA; TGT_LANG is also the Moses
# tokenizer's language), PRECISION (fp32, the
# default, or fp16), OUT, TINY=1 / --tiny: on the CPU, outputs of at most 8 pieces
# (MAX_LEN_A 0, MAX_LEN_B 8). Everything after `--` goes to fairseq-generate unchanged.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

take_tiny_flag "$@"
[ "$TINY_FLAG_TAKEN" = "1" ] && shift
split_extra_args "$@"
[ "${#POSITIONAL[@]}" -ge 1 ] && [ "${#POSITIONAL[@]}" -le 2 ] ||
    die "usage: $RECIPE_NAME [--tiny] CKPT [DATA] [-- EXTRA_FAIRSEQ_GENERATE_ARGS...]"
ckpt="${POSITIONAL[0]}"
data="${POSITIONAL[1]:-$REPO_DIR/data/wmt14-en-de-bin}"
require_file "$ckpt" "CKPT must be a checkpoint written by fairseq-train, e.g. runs/transformer-wmt14-base/checkpoint_best.pt"
require_dir "$data" "DATA must be the fairseq binaries the model was trained on"
compgen -G "$data/*.*-*.*.idx" >/dev/null ||
    die "DATA $data holds no translation binaries (SPLIT.SRC-TGT.LANG.idx)"
subset="${SUBSET:-test}"
one_of "$subset" SUBSET test valid train
ref="${REF:-}"
[ -z "$ref" ] || require_file "$ref" "REF must be the raw reference text of the $subset split, e.g. newstest2014.de"
sacrebleu="$(dirname "$(fairseq_tool fairseq-generate)")/sacrebleu"
[ -x "$sacrebleu" ] || sacrebleu="$(command -v sacrebleu || true)"
[ -n "$sacrebleu" ] || die "sacrebleu not found (run \`make setup\`)"

beam="${BEAM:-4}"
lenpen="${LENPEN:-0.6}"
batch_size="${BATCH_SIZE:-128}"
if [ "$TINY" = "1" ]; then
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
    max_len_a="${MAX_LEN_A:-0}" max_len_b="${MAX_LEN_B:-8}"
    device_args=(--cpu)
else
    max_len_a="${MAX_LEN_A:-1}" max_len_b="${MAX_LEN_B:-50}"
    device_args=()
fi
positive_int "$beam" BEAM
positive_int "$batch_size" BATCH_SIZE
positive_int "$max_len_b" MAX_LEN_B
[[ "$lenpen" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "LENPEN must be a non-negative number, got '$lenpen'"
[[ "$max_len_a" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "MAX_LEN_A must be a non-negative number, got '$max_len_a'"
lang_args=()
if [ -n "${SRC_LANG:-}${TGT_LANG:-}" ]; then
    [ -n "${SRC_LANG:-}" ] && [ -n "${TGT_LANG:-}" ] || die "set both SRC_LANG and TGT_LANG, or neither (then fairseq takes the pair from DATA)"
    lang_args=(--source-lang "$SRC_LANG" --target-lang "$TGT_LANG")
fi
precision="${PRECISION:-fp32}"
[ "$TINY" != "1" ] || [ "$precision" = "fp32" ] || die "tiny mode runs on the CPU: PRECISION must be fp32, got '$precision'"
precision_flags "$precision"
out="${OUT:-$(dirname "$ckpt")/$(basename "$ckpt" .pt).eval-mt.$subset.json}"
stem="${out%.json}"

args=(
    "$data"
    --user-dir "$REPO_DIR/fairseq_plugins"
    --task translation
    "${lang_args[@]}"
    --path "$ckpt"
    --gen-subset "$subset"
    --beam "$beam" --lenpen "$lenpen"
    --max-len-a "$max_len_a" --max-len-b "$max_len_b"
    --batch-size "$batch_size"
    --post-process sentencepiece
    "${device_args[@]}"
    "${PRECISION_ARGS[@]}"
    "${EXTRA_ARGS[@]}"
)
if [ "$DRY_RUN" = "1" ]; then
    run "$(fairseq_tool fairseq-generate)" "${args[@]}"
    exit 0
fi
mkdir -p "$(dirname "$out")"
note "translating $subset of $data with $ckpt (beam $beam, lenpen $lenpen) -> $out"
"$(fairseq_tool fairseq-generate)" "${args[@]}" >"$stem.gen.txt"

# hypotheses (D- lines: id, score, detokenized text) in sentence-id order
ids_hyp="$stem.ids-hyp.tsv"
awk -F'\t' '/^D-[0-9]+\t/ { id = substr($1, 3); sub(/^[^\t]*\t[^\t]*\t/, ""); print id "\t" $0 }' \
    "$stem.gen.txt" | sort -t "$(printf '\t')" -k1,1n >"$ids_hyp"
count=$(wc -l <"$ids_hyp")
if [ "$count" -eq 0 ]; then
    echo "$RECIPE_NAME: fairseq-generate produced no translations (see $stem.gen.txt)" >&2
    exit 1
fi
cut -f2- "$ids_hyp" >"$stem.hyp.txt"
if [ -n "$ref" ]; then
    ref_lines=$(wc -l <"$ref")
    awk -F'\t' 'NR == FNR { line[FNR - 1] = $0; next }
        !($1 in line) { missing = 1; exit } { print line[$1] }
        END { exit missing ? 3 : 0 }' "$ref" "$ids_hyp" >"$stem.ref.txt" ||
        { echo "$RECIPE_NAME: sentence ids beyond the $ref_lines lines of REF $ref: is it the $subset split?" >&2; exit 1; }
    [ "$count" -eq "$ref_lines" ] || note "scored $count of the $ref_lines sentences of $ref"
    ref_name="$ref"
else
    note "REF not set: scoring against the references fairseq decoded from $data (⁇ where sentencepiece had no piece); set REF to the raw reference for a reportable score"
    awk -F'\t' '/^T-[0-9]+\t/ { id = substr($1, 3); sub(/^[^\t]*\t/, ""); print id "\t" $0 }' \
        "$stem.gen.txt" | sort -t "$(printf '\t')" -k1,1n | cut -f2- >"$stem.ref.txt"
    ref_name="fairseq-decoded $subset references"
fi

# bleu_line REF HYP [SACREBLEU_ARGS...]: "SIGNATURE<TAB>SCORE" from sacrebleu's text output
# (`BLEU|nrefs:1|...|version:2.x = 27.31 ...` in sacrebleu 2, `BLEU+case.mixed+... = 27.31 ...` in 1.x)
bleu_line() {
    local refs="$1" hyps="$2" line sig score
    shift 2
    line="$("$sacrebleu" "$refs" -i "$hyps" -m bleu -w 2 --format text "$@")"
    line="$(grep -m 1 ' = ' <<<"$line")"
    sig="${line%% = *}"
    sig="${sig#BLEU|}"
    score="${line#* = }"
    score="${score%% *}"
    printf '%s\t%s\n' "$sig" "$score"
}
IFS=$'\t' read -r signature score < <(bleu_line "$stem.ref.txt" "$stem.hyp.txt")
# the target language (Moses tokenizer): TGT_LANG, or the one language pair of the split in DATA
if [ -n "${TGT_LANG:-}" ]; then
    tgt_lang="$TGT_LANG"
else
    pairs="$(for idx in "$data/$subset".*-*.*.idx; do
        name="${idx##*/}" && name="${name#"$subset".}" && echo "${name%%.*}"
    done | sort -u)"
    [ -n "$pairs" ] && [[ "$pairs" != *"*"* ]] && [ "$(wc -l <<<"$pairs")" -eq 1 ] ||
        die "cannot tell the target language of $data ($subset pairs: ${pairs:-none}): set SRC_LANG and TGT_LANG"
    tgt_lang="${pairs#*-}"
fi
IFS=$'\t' read -r tok_signature tok_score < <("$(python_tool)" -m evotrans.tokenized_bleu \
    --lang "$tgt_lang" "$stem.ref.txt" "$stem.hyp.txt")
rm -f "$ids_hyp"
[[ "$score" =~ ^[0-9.]+$ ]] && [[ "$tok_score" =~ ^[0-9.]+$ ]] ||
    { echo "$RECIPE_NAME: could not read sacrebleu's scores ('$score', '$tok_score')" >&2; exit 1; }

{
    printf '{\n'
    printf '  "checkpoint": %s,\n' "$(json_str "$ckpt")"
    printf '  "data": %s,\n' "$(json_str "$data")"
    printf '  "subset": %s,\n' "$(json_str "$subset")"
    printf '  "reference": %s,\n' "$(json_str "$ref_name")"
    printf '  "sentences": %s,\n' "$count"
    printf '  "beam": %s,\n' "$beam"
    printf '  "lenpen": %s,\n' "$lenpen"
    printf '  "max_len_a": %s,\n' "$max_len_a"
    printf '  "max_len_b": %s,\n' "$max_len_b"
    printf '  "sacrebleu": {"score": %s, "signature": %s, "detokenized": true},\n' \
        "$score" "$(json_str "$signature")"
    printf '  "tokenized_bleu_compound_split": {"score": %s, "signature": %s, "note": %s}\n' \
        "$tok_score" "$(json_str "$tok_signature")" \
        "$(json_str "Moses tokenizer (sacremoses) + ##AT##-##AT## compound splitting + BLEU over the tokens, as compound_split_bleu.sh / get_ende_bleu.sh; not comparable to sacreBLEU")"
    printf '}\n'
} >"$out"
echo "sacreBLEU (detokenized, against $ref_name): $score  $signature"
echo "tokenized BLEU (Moses tokenizer + compound split, as compound_split_bleu.sh; not comparable to sacreBLEU): $tok_score  $tok_signature"
echo "$subset sacreBLEU: $score ($signature); tokenized BLEU (Moses, compound-split): $tok_score"
