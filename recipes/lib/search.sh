# Helpers of the search recipes (evolve-pdh-*.sh, sweep-*.sh; sourced after common.sh, never
# run): usage, OUT_DIR, the launcher and data arguments, resume and report.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/search.sh"
#
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
