# Shared helpers of every recipe (sourced, never run): messages, tool lookup, input checks
# and fairseq argument helpers. The work itself is done by the `evotrans` and fairseq
# command-line tools. Topic libraries, sourced after this one: search.sh (the search
# recipes), wikitext103.sh (the WikiText-103 searches), wmt14.sh (the WMT'14 training).
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# Environment understood by every recipe:
#   TINY=1       run the recipe's tiny form (CPU, demo-sized models, a few updates) so that it
#                finishes in seconds; `--tiny` as the first argument does the same.
#   EVOTRANS     the evotrans command (default: the repository's .venv, else `evotrans` on PATH)
#   FAIRSEQ_BIN  directory holding fairseq-train & co. (default: next to EVOTRANS's python,
#                else PATH)
#   DRY_RUN=1    print the commands instead of running them (argument lists, one per line)

RECIPES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$RECIPES_DIR/.." && pwd)"
RECIPE_NAME="$(basename "${0}")"
TINY="${TINY:-0}"
DRY_RUN="${DRY_RUN:-0}"

# die MESSAGE: one line on stderr naming the recipe, exit 2 (bad input / usage).
die() {
    echo "$RECIPE_NAME: error: $*" >&2
    exit 2
}

# note MESSAGE: progress on stderr.
note() {
    echo "$RECIPE_NAME: $*" >&2
}

# take_tiny_flag "$@": sets TINY=1 when the first argument is --tiny; the caller then
# runs `shift` if TINY_FLAG_TAKEN=1.
take_tiny_flag() {
    TINY_FLAG_TAKEN=0
    if [ "${1:-}" = "--tiny" ]; then
        TINY=1
        TINY_FLAG_TAKEN=1
    fi
}

# The evotrans command as an array (EVOTRANS may be "python -m evotrans").
if [ -n "${EVOTRANS:-}" ]; then
    # shellcheck disable=SC2206
    EVOTRANS_CMD=(${EVOTRANS})
elif [ -x "$REPO_DIR/.venv/bin/evotrans" ]; then
    EVOTRANS_CMD=("$REPO_DIR/.venv/bin/evotrans")
else
    EVOTRANS_CMD=(evotrans)
fi

# fairseq_tool NAME: path of a fairseq console script.
fairseq_tool() {
    local name="$1"
    if [ -n "${FAIRSEQ_BIN:-}" ]; then
        echo "$FAIRSEQ_BIN/$name"
    elif [ -x "$(dirname "${EVOTRANS_CMD[0]}")/$name" ]; then
        echo "$(dirname "${EVOTRANS_CMD[0]}")/$name"
    elif [ -x "$REPO_DIR/.venv/bin/$name" ]; then
        echo "$REPO_DIR/.venv/bin/$name"
    else
        command -v "$name" || die "$name not found (run \`make setup\` or set FAIRSEQ_BIN)"
    fi
}

# python_tool: the Python interpreter next to the fairseq tools (to run fairseq's own scripts).
python_tool() {
    local train
    train="$(fairseq_tool fairseq-train)"
    if [ -x "$(dirname "$train")/python" ]; then
        echo "$(dirname "$train")/python"
    else
        command -v python3 || die "python3 not found"
    fi
}

# run CMD ARGS...: run (or, with DRY_RUN=1, print) one command given as an argument list.
run() {
    if [ "$DRY_RUN" = "1" ]; then
        printf '%q ' "$@"
        echo
    else
        "$@"
    fi
}

# evotrans ARGS...: run the evotrans CLI.
evotrans() {
    run "${EVOTRANS_CMD[@]}" "$@"
}

# require_file PATH HOW: die unless PATH is a non-empty file; HOW says how to get it.
require_file() {
    [ -s "$1" ] || die "missing input file $1 ($2)"
}

# require_dir PATH HOW
require_dir() {
    [ -d "$1" ] || die "missing directory $1 ($2)"
}

# require_lines PATH N HOW: die unless PATH exists and has exactly N lines (skipped when TINY=1,
# whose inputs are small files laid out like the real corpus).
require_lines() {
    local path="$1" expected="$2" how="$3" got
    require_file "$path" "$how"
    [ "$TINY" = "1" ] && return 0
    got=$(wc -l <"$path")
    [ "$got" -eq "$expected" ] || die "$path has $got lines, expected $expected ($how)"
}

# one_of VALUE NAME CHOICE...: die unless VALUE is one of the choices.
one_of() {
    local value="$1" name="$2"
    shift 2
    local choice
    for choice in "$@"; do
        [ "$value" = "$choice" ] && return 0
    done
    die "unknown $name '$value' (choose from: $*)"
}

# positive_int VALUE NAME
positive_int() {
    [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ] || die "$2 must be a positive integer, got '$1'"
}

# nonneg_int VALUE NAME
nonneg_int() {
    [[ "$1" =~ ^[0-9]+$ ]] || die "$2 must be a non-negative integer, got '$1'"
}

# require_output_dir PATH MARKER: die unless PATH is absent, an empty directory, or a directory
# holding MARKER (the completion marker of an earlier run, which may then be updated).
require_output_dir() {
    local out="$1" marker="$2"
    [ -e "$out" ] || [ -L "$out" ] || return 0
    [ -d "$out" ] || die "output path $out exists and is not a directory"
    [ -e "$out/$marker" ] && return 0
    [ -z "$(ls -A "$out")" ] ||
        die "output directory $out exists but is not a finished output of this recipe (no $marker): remove it or choose another OUT_DIR"
}

# -- fairseq command lines (training and evaluation recipes) ---------------------------------

# split_extra_args ARGS...: sets POSITIONAL (the arguments before a `--`) and EXTRA_ARGS (those
# after it, passed through to the fairseq tool unchanged).
split_extra_args() {
    POSITIONAL=()
    EXTRA_ARGS=()
    while [ $# -gt 0 ]; do
        if [ "$1" = "--" ]; then
            shift
            EXTRA_ARGS=("$@")
            return 0
        fi
        POSITIONAL+=("$1")
        shift
    done
}

# visible_gpus: the number of GPUs a training run would see (CUDA_VISIBLE_DEVICES if set, else
# `nvidia-smi -L`), at least 1.
visible_gpus() {
    local count=0
    if [ -n "${CUDA_VISIBLE_DEVICES+set}" ]; then
        if [ -n "$CUDA_VISIBLE_DEVICES" ] && [ "$CUDA_VISIBLE_DEVICES" != "-1" ]; then
            count=$(tr ',' '\n' <<<"$CUDA_VISIBLE_DEVICES" | grep -c .)
        fi
    elif command -v nvidia-smi >/dev/null 2>&1; then
        count=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
    fi
    [ "$count" -gt 0 ] 2>/dev/null || count=1
    echo "$count"
}

# ceil_div A B: ceiling of A/B for positive integers.
ceil_div() {
    echo $((($1 + $2 - 1) / $2))
}

# precision_flags PRECISION: sets PRECISION_ARGS for fairseq-train / -generate / -eval-lm.
#   fp16  --fp16 (mixed precision with dynamic loss scaling; what the papers' fairseq runs used)
#   fp32  nothing
#   bf16  refused: in fairseq 0.12 `--bf16` implies `--tpu` (the model goes to an XLA device,
#         torch_xla required) and `--amp` autocasts to float16, so there is no CUDA bf16 path.
precision_flags() {
    case "$1" in
    fp16) PRECISION_ARGS=(--fp16) ;;
    fp32) PRECISION_ARGS=() ;;
    bf16) die "PRECISION=bf16 is not available: fairseq 0.12's --bf16 implies --tpu (XLA device) and --amp autocasts to float16; use PRECISION=fp16 or fp32" ;;
    *) die "unknown PRECISION '$1' (choose from: fp16 fp32; bf16 is not supported by fairseq 0.12 on CUDA)" ;;
    esac
}

# json_str TEXT: TEXT as a JSON string literal (quotes, backslashes and control characters escaped).
json_str() {
    local s="$1"
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\t'/\\t}
    s=${s//$'\n'/\\n}
    s=${s//$'\r'/\\r}
    printf '"%s"' "$(tr -d '\000-\037' <<<"$s")"
}
