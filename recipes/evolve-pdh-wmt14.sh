#!/usr/bin/env bash
# The Evolved Transformer search (So, Liang & Le, ICML 2019): progressive dynamic hurdles over
# the ET genome space on WMT'14 English-German, seeded with the Transformer (population 100,
# 15,000 children, mutation 2.5 %, stages of 60k + 60k + 120k updates; see
# recipes/configs/pdh-wmt14.toml and docs/recipes.md). Then `evotrans report`.
#
#   bash recipes/evolve-pdh-wmt14.sh [OUT_DIR]          # default OUT_DIR: runs/pdh-wmt14
#   bash recipes/evolve-pdh-wmt14.sh --tiny [OUT_DIR]   # or TINY=1: CPU, demo corpus, seconds
#
# Running it again on the same OUT_DIR resumes the search (`evotrans resume`): finished trials
# are kept, interrupted ones continue from their checkpoints, nothing is retrained.
#
# Environment:
#   DATA             prepared WMT'14 En-De binaries (default data/wmt14-en-de-bin, made by
#                    recipes/prepare-wmt14-en-de.sh); with TINY=1 default: the demo corpus,
#                    prepared on first use (DATA may name a prepared copy)
#   MAX_CHILDREN     child models (default: the config's 15,000; 3 in the tiny form)
#   LAUNCHER         local (default; WORKERS trials at once, one GPU each) or slurm
#                    (GPUS_PER_TRIAL, SLURM_PARTITION, SLURM_ACCOUNT, SLURM_TIME_MIN (720),
#                    SLURM_MAX_JOBS (64), SLURM_CPUS_PER_TRIAL; see recipes/lib/search.sh)
#   EVOTRANS, DRY_RUN as in every recipe (recipes/lib/common.sh)
#
# Output: OUT_DIR/experiment.sqlite (the store), OUT_DIR/trials/*/ (every fairseq-train run),
# OUT_DIR/report.html, report.md, figures/, *.csv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/search.sh"

take_tiny_flag "$@"
[ "$TINY_FLAG_TAKEN" = "1" ] && shift
one_of "$TINY" TINY 0 1
search_out_dir "runs/pdh-wmt14" "$@"  # "-tiny" appended with TINY=1
search_launch_args 720 64
if [ -n "${MAX_CHILDREN:-}" ]; then
    positive_int "$MAX_CHILDREN" MAX_CHILDREN
fi

if search_has_experiment "$OUT_DIR"; then
    search_resume "$OUT_DIR"
else
    if [ "$TINY" = "1" ]; then
        config="$RECIPES_DIR/configs/pdh-wmt14-tiny.toml"
        search_data_args "" "a prepared copy of data/demo/mt, e.g. from recipes/prepare-demo.sh" \
            dict.de.txt dict.en.txt
    else
        config="$RECIPES_DIR/configs/pdh-wmt14.toml"
        search_data_args "$REPO_DIR/data/wmt14-en-de-bin" \
            "make it with recipes/prepare-wmt14-en-de.sh, or set DATA to its output" \
            dict.en.txt dict.de.txt
    fi
    args=(evolve "$config" --out "$OUT_DIR")
    args+=(${DATA_ARGS[@]+"${DATA_ARGS[@]}"} ${LAUNCH_ARGS[@]+"${LAUNCH_ARGS[@]}"})
    [ -z "${MAX_CHILDREN:-}" ] || args+=(--max-children "$MAX_CHILDREN")
    note "PDH over ET genomes: $config -> $OUT_DIR (LAUNCHER=$LAUNCHER)"
    evotrans "${args[@]}"
fi
search_report "$OUT_DIR"
