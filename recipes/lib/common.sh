# Shared helpers for the recipes (sourced, never run). Only checks and tool lookup live
# here: the work itself is done by the `evotrans` and fairseq command-line tools.
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
