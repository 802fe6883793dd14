#!/usr/bin/env bash
# Progressive dynamic hurdles (the ET search procedure of So et al. 2019) over the sublayer
# orders of the Sandwich Transformer's WikiText-103 language model (Press, Smith & Levy, ACL
# 2020): equal-parameter orders of 16 s and 16 f in Baevski & Auli's adaptive-input LM, seeded
# with the interleaved Transformer, population 100, 500 children, stages of 50k + 50k + 186k
# updates (a model that clears both hurdles has the paper's full 286k-update training); see
# recipes/configs/pdh-wikitext103.toml and docs/recipes.md. Then `evotrans report`.
#
#   bash recipes/evolve-pdh-wikitext103.sh [OUT_DIR]          # default OUT_DIR: runs/pdh-wikitext103
#   bash recipes/evolve-pdh-wikitext103.sh --tiny [OUT_DIR]   # or TINY=1: CPU, demo corpus, seconds
#
# Running it again on the same OUT_DIR resumes the search (`evotrans resume`): finished trials
# are kept, interrupted ones continue from their checkpoints, nothing is retrained.
#
# Environment:
#   DATA             prepared WikiText-103 binaries (default data/wikitext103-bin, made by
#                    recipes/prepare-wikitext103.sh); with TINY=1 default: the demo corpus,
#                    prepared on first use (DATA may name a prepared copy)
#   MAX_CHILDREN     child models (default: the config's 500; 3 in the tiny form)
#   LAUNCHER         local (default; WORKERS trials at once, one GPU each) or slurm
#                    (GPUS_PER_TRIAL, SLURM_PARTITION, SLURM_ACCOUNT, SLURM_TIME_MIN (1440),
#                    SLURM_MAX_JOBS (32), SLURM_CPUS_PER_TRIAL; see recipes/lib/search.sh).
#                    GPUS_PER_TRIAL must divide 24: update-freq becomes 24 / GPUS_PER_TRIAL, so
#                    an update keeps the paper's 8 GPUs x 3 x 3,072 tokens.
#   EVOTRANS, DRY_RUN as in every recipe (recipes/lib/common.sh)
#
# Output: OUT_DIR/experiment.sqlite (the store), OUT_DIR/trials/*/ (every fairseq-train run),
# OUT_DIR/report.html, report.md, figures/, *.csv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/search.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/wikitext103.sh"

take_tiny_flag "$@"
[ "$TINY_FLAG_TAKEN" = "1" ] && shift
one_of "$TINY" TINY 0 1
search_out_dir "runs/pdh-wikitext103" "$@"  # "-tiny" appended with TINY=1
search_launch_args 1440 32
if [ -n "${MAX_CHILDREN:-}" ]; then
    positive_int "$MAX_CHILDREN" MAX_CHILDREN
fi
search_wiki103_batch_args

if search_has_experiment "$OUT_DIR"; then
    search_resume "$OUT_DIR"
else
    search_wiki103_config  # sets config and DATA_ARGS
    args=(evolve "$config" --out "$OUT_DIR")
    args+=(${DATA_ARGS[@]+"${DATA_ARGS[@]}"} ${LAUNCH_ARGS[@]+"${LAUNCH_ARGS[@]}"})
    args+=(${BATCH_ARGS[@]+"${BATCH_ARGS[@]}"})
    [ -z "${MAX_CHILDREN:-}" ] || args+=(--max-children "$MAX_CHILDREN")
    note "PDH over sublayer orders: $config -> $OUT_DIR (LAUNCHER=$LAUNCHER)"
    evotrans "${args[@]}"
fi
search_report "$OUT_DIR"
