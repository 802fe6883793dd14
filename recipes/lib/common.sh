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

# --- added for the paper-scale recipes (issue #7) -------------------------------------------

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

# -- search recipes (evolve-pdh-*.sh, sweep-*.sh) ------------------------------------------------
# Environment understood by the search recipes (see docs/recipes.md):
#   LAUNCHER=local|slurm   where trials run (default local: one GPU per worker, CPU without GPUs)
#   WORKERS                local: trials at once (default: the config's launcher.workers)
#   GPUS_PER_TRIAL         slurm: GPUs of one trial's job (default 1)
#   SLURM_PARTITION, SLURM_ACCOUNT   slurm: where jobs go (default: the cluster's defaults)
#   SLURM_TIME_MIN         slurm: time limit of one job; a job that runs out (or is preempted)
#                          is requeued and its trial resumes from its checkpoint
#   SLURM_MAX_JOBS         slurm: trials queued or running at once
#   SLURM_CPUS_PER_TRIAL   slurm: CPUs of one trial's job (default 8)
#   DATA                   prepared fairseq binaries (default: the recipe's prepare recipe's output)

# search_help: print the recipe's header comment (its usage) on stdout.
search_help() {
    local line
    while IFS= read -r line; do
        case "$line" in
            '#!'*) continue ;;
            '#'*)
                line="${line#\#}"
                echo "${line# }"
                ;;
            *) break ;;
        esac
    done <"$0"
}

# search_out_dir DEFAULT ARGS...: set OUT_DIR from the recipe's arguments (after take_tiny_flag's
# shift): [OUT_DIR], default DEFAULT (DEFAULT-tiny with TINY=1); -h/--help prints the header;
# anything else dies.
search_out_dir() {
    local default="$1"
    shift
    [ "$TINY" = "1" ] && default="$default-tiny"
    local usage="usage: $RECIPE_NAME [--tiny] [OUT_DIR]"
    case "${1:-}" in
        -h | --help)
            search_help
            exit 0
            ;;
        --tiny) die "--tiny must be the first argument ($usage)" ;;
        -*) die "unknown option '$1' ($usage)" ;;
    esac
    [ $# -le 1 ] || die "too many arguments ($usage)"
    OUT_DIR="${1:-$default}"
    [ -n "$OUT_DIR" ] || die "OUT_DIR must not be empty ($usage)"
}

# search_slurm_name VALUE NAME: die unless VALUE is a plain Slurm name (partition, account).
search_slurm_name() {
    [[ "$1" =~ ^[A-Za-z0-9_.,:-]+$ ]] || die "$2 must be a Slurm name (letters, digits, _.,:-), got '$1'"
}

# search_launch_args TIME_MIN MAX_JOBS: set LAUNCH_ARGS, the evotrans options (--workers,
# --launcher slurm --set launcher...) of LAUNCHER & co.; TIME_MIN and MAX_JOBS are the recipe's
# defaults for SLURM_TIME_MIN and SLURM_MAX_JOBS. Dies on bad values before anything runs.
search_launch_args() {
    LAUNCHER="${LAUNCHER:-local}"
    one_of "$LAUNCHER" LAUNCHER local slurm
    LAUNCH_ARGS=()
    if [ "$LAUNCHER" = "local" ]; then
        if [ -n "${WORKERS:-}" ]; then
            positive_int "$WORKERS" WORKERS
            LAUNCH_ARGS+=(--workers "$WORKERS")
        fi
        return 0
    fi
    [ -z "${WORKERS:-}" ] || die "WORKERS applies to LAUNCHER=local (with LAUNCHER=slurm set SLURM_MAX_JOBS)"
    GPUS_PER_TRIAL="${GPUS_PER_TRIAL:-1}"
    SLURM_TIME_MIN="${SLURM_TIME_MIN:-$1}"
    SLURM_MAX_JOBS="${SLURM_MAX_JOBS:-$2}"
    SLURM_CPUS_PER_TRIAL="${SLURM_CPUS_PER_TRIAL:-8}"
    positive_int "$GPUS_PER_TRIAL" GPUS_PER_TRIAL
    positive_int "$SLURM_TIME_MIN" SLURM_TIME_MIN
    positive_int "$SLURM_MAX_JOBS" SLURM_MAX_JOBS
    positive_int "$SLURM_CPUS_PER_TRIAL" SLURM_CPUS_PER_TRIAL
    LAUNCH_ARGS+=(
        --launcher slurm
        --set 'launcher.cluster="slurm"'
        --set "launcher.max_in_flight=$SLURM_MAX_JOBS"
        --set "launcher.params.nodes=1"
        --set "launcher.params.tasks_per_node=1"
        --set "launcher.params.gpus_per_node=$GPUS_PER_TRIAL"
        --set "launcher.params.cpus_per_task=$SLURM_CPUS_PER_TRIAL"
        --set "launcher.params.timeout_min=$SLURM_TIME_MIN"
    )
    if [ -n "${SLURM_PARTITION:-}" ]; then
        search_slurm_name "$SLURM_PARTITION" SLURM_PARTITION
        LAUNCH_ARGS+=(--set "launcher.params.slurm_partition=\"$SLURM_PARTITION\"")
    fi
    if [ -n "${SLURM_ACCOUNT:-}" ]; then
        search_slurm_name "$SLURM_ACCOUNT" SLURM_ACCOUNT
        LAUNCH_ARGS+=(--set "launcher.params.slurm_account=\"$SLURM_ACCOUNT\"")
    fi
}

# search_data_args DEFAULT HOW FILE...: set DATA_ARGS (--data DIR) for DIR = $DATA, else DEFAULT;
# both empty: no option (the config's own task.data/task.raw). Dies, naming DIR and HOW (how to
# make it), unless DIR is a directory holding every FILE.
search_data_args() {
    local default="$1" how="$2"
    shift 2
    local dir="${DATA:-$default}" file
    DATA_ARGS=()
    [ -n "$dir" ] || return 0
    require_dir "$dir" "$how"
    for file in "$@"; do
        require_file "$dir/$file" "$how"
    done
    DATA_ARGS=(--data "$dir")
}

# search_has_experiment DIR: true when DIR holds an experiment store (evotrans resume DIR works).
search_has_experiment() {
    [ -e "$1/experiment.sqlite" ]
}

# search_resume DIR: continue the experiment in DIR with LAUNCH_ARGS (finished trials are kept).
search_resume() {
    note "$1 holds an experiment: resuming it (finished trials are kept, none is retrained;" \
        "the stored config is used, DATA and the recipe's settings are not read again)"
    evotrans resume "$1" ${LAUNCH_ARGS[@]+"${LAUNCH_ARGS[@]}"}
}

# search_report DIR: report.html, report.md, figures/ and CSV tables of the experiment in DIR.
search_report() {
    evotrans report "$1" --csv
    note "report: $1/report.html ($1/report.md, $1/figures/, $1/*.csv)"
}

# search_wiki103_batch_args: set BATCH_ARGS for the WikiText-103 recipes: with LAUNCHER=slurm and
# GPUS_PER_TRIAL > 1 (not in the tiny form), update-freq 24 / GPUS_PER_TRIAL keeps the paper's
# 73,728 tokens per update (8 GPUs x update-freq 3 x 3,072 tokens).
search_wiki103_batch_args() {
    BATCH_ARGS=()
    [ "$TINY" != "1" ] && [ "$LAUNCHER" = "slurm" ] && [ "$GPUS_PER_TRIAL" != "1" ] || return 0
    [ $((24 % GPUS_PER_TRIAL)) -eq 0 ] ||
        die "GPUS_PER_TRIAL must divide 24 (the paper's 8 GPUs x update-freq 3), got $GPUS_PER_TRIAL"
    BATCH_ARGS=(--set "task.train_args.update-freq=$((24 / GPUS_PER_TRIAL))")
}

# search_wiki103_config: the WikiText-103 search config (its tiny form with TINY=1) in
# `config`, and the data directory checks and --data arguments in DATA_ARGS.
search_wiki103_config() {
    if [ "$TINY" = "1" ]; then
        config="$RECIPES_DIR/configs/pdh-wikitext103-tiny.toml"
        search_data_args "" "a prepared copy of data/demo/lm, e.g. from recipes/prepare-demo.sh" \
            dict.txt
    else
        config="$RECIPES_DIR/configs/pdh-wikitext103.toml"
        search_data_args "$REPO_DIR/data/wikitext103-bin" \
            "make it with recipes/prepare-wikitext103.sh, or set DATA to its output" dict.txt
    fi
}
