#!/usr/bin/env bash
# The Sandwich Transformer's coefficient sweep (Press, Smith & Levy, ACL 2020, "Improving
# Transformer Models by Reordering their Sublayers"): the WikiText-103 language model of
# Baevski & Auli (16 s/f pairs, adaptive input, 286k updates) with the order sandwich:16:k
# (k s first, k f last, interleaved in between) for k = 0..16 (k = 0 is the interleaved
# baseline; k = 16 is the same order as k = 15 and is trained once), each over SEEDS. The
# training recipe is the [task] of recipes/configs/pdh-wikitext103.toml; see docs/recipes.md.
# Then `evotrans report` (per-order mean +- std over seeds, perplexity against k).
#
#   bash recipes/sweep-sandwich-wikitext103.sh [OUT_DIR]          # default OUT_DIR: runs/sandwich-wikitext103
#   bash recipes/sweep-sandwich-wikitext103.sh --tiny [OUT_DIR]   # or TINY=1: CPU, demo corpus, seconds
#
# Running it again on the same OUT_DIR resumes the sweep (`evotrans resume`): finished trials
# are kept, nothing is retrained.
#
# Environment:
#   KS       sandwich coefficients (default 0..16; tiny 0..2), e.g. 0,2..8
#   PAIRS    s/f pairs (default 16; tiny 2)
#   SEEDS    training seeds (default 1; e.g. 1..5 for mean +- std)
#   STEPS    updates per model (default: the config's 286,000; tiny 10)
#   DATA     prepared WikiText-103 binaries (default data/wikitext103-bin, made by
#            recipes/prepare-wikitext103.sh); with TINY=1 default: the demo corpus, prepared on
#            first use (DATA may name a prepared copy)
#   LAUNCHER local (default; WORKERS trials at once, one GPU each) or slurm (GPUS_PER_TRIAL,
#            which must divide 24, SLURM_PARTITION, SLURM_ACCOUNT, SLURM_TIME_MIN (1440),
#            SLURM_MAX_JOBS (32), SLURM_CPUS_PER_TRIAL; see recipes/lib/search.sh)
#   EVOTRANS, DRY_RUN as in every recipe (recipes/lib/common.sh)
#
# Output: OUT_DIR/experiment.sqlite, OUT_DIR/trials/*/, OUT_DIR/report.html, report.md,
# figures/ (sandwich.png: perplexity against k), sweep.csv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/search.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/wikitext103.sh"

take_tiny_flag "$@"
[ "$TINY_FLAG_TAKEN" = "1" ] && shift
one_of "$TINY" TINY 0 1
search_out_dir "runs/sandwich-wikitext103" "$@"  # "-tiny" appended with TINY=1
if [ "$TINY" = "1" ]; then
    KS="${KS:-0..2}" PAIRS="${PAIRS:-2}" STEPS="${STEPS:-10}"
else
    KS="${KS:-0..16}" PAIRS="${PAIRS:-16}" STEPS="${STEPS:-}"
fi
SEEDS="${SEEDS:-1}"
positive_int "$PAIRS" PAIRS
[ -z "$STEPS" ] || positive_int "$STEPS" STEPS
search_launch_args 1440 32
search_wiki103_batch_args

if search_has_experiment "$OUT_DIR"; then
    search_resume "$OUT_DIR"
else
    search_wiki103_config  # sets config and DATA_ARGS
    args=(sweep sandwich --task "$config" --out "$OUT_DIR" --pairs "$PAIRS" --k "$KS" --seeds "$SEEDS")
    [ -z "$STEPS" ] || args+=(--steps "$STEPS")
    args+=(${DATA_ARGS[@]+"${DATA_ARGS[@]}"} ${LAUNCH_ARGS[@]+"${LAUNCH_ARGS[@]}"})
    args+=(${BATCH_ARGS[@]+"${BATCH_ARGS[@]}"})
    note "sandwich sweep: sandwich:$PAIRS:k for k in $KS, seeds $SEEDS -> $OUT_DIR (LAUNCHER=$LAUNCHER)"
    evotrans "${args[@]}"
fi
search_report "$OUT_DIR"
