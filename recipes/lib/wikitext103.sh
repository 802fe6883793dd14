# The WikiText-103 search settings shared by evolve-pdh-wikitext103.sh and the
# sweep-*-wikitext103.sh recipes (sourced after common.sh and search.sh, never run).

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
