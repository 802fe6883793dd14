# The WMT'14 En-De training recipe shared by train-transformer-wmt14.sh and
# train-evolved-transformer-wmt14.sh (sourced after common.sh, never run): one function, so that
# the Evolved Transformer and its matched Transformer get exactly the same training setup.
#
# Sizes (fairseq's scaling-NMT example, Ott et al. 2018, on top of Vaswani et al. 2017):
#   base  lr 0.0007, max-tokens 4096 per GPU x 8 GPUs (update-freq 1), 100k updates
#         (Vaswani base), checkpoints every 1500 updates, the last 5 averaged
#   big   lr 0.001, max-tokens 3584 per GPU x 8 GPUs x update-freq 16 (Ott et al.'s large
#         batch, ~460k tokens), 30k updates, checkpoints every 200 updates, the last 20 averaged
#   both  adam (0.9, 0.98), inverse_sqrt with 4000 warmup updates from 1e-7, clip-norm 0,
#         weight-decay 0, label_smoothed_cross_entropy with label smoothing 0.1,
#         --share-all-embeddings (joint sentencepiece dictionary), the arch's dropout
#         (0.1 base, 0.3 big), seed 1
# Checkpoint averaging runs `evotrans average-checkpoints` (fairseq's
# scripts/average_checkpoints.py, which the pip package of fairseq does not ship, with the
# plugin's safe weights_only loading): the last AVERAGE_LAST update checkpoints (checkpoint_E_U.pt)
# of SAVE_DIR are averaged into SAVE_DIR/checkpoint_avgN.pt, the checkpoint to evaluate.

# train_wmt14 FAMILY ARGS...: FAMILY is transformer or evolved_transformer; ARGS are the
# recipe's command line ([--tiny] base|big [-- EXTRA_FAIRSEQ_TRAIN_ARGS...]).
train_wmt14() {
    local family="$1"
    shift
    take_tiny_flag "$@"
    [ "$TINY_FLAG_TAKEN" = "1" ] && shift
    split_extra_args "$@"
    [ "${#POSITIONAL[@]}" -eq 1 ] || die "usage: $RECIPE_NAME [--tiny] base|big [-- EXTRA_FAIRSEQ_TRAIN_ARGS...]"
    local size="${POSITIONAL[0]}"
    one_of "$size" size base big

    local arch lr max_tokens paper_batch max_update save_every average
    case "$family:$size" in
    transformer:base) arch=transformer_wmt_en_de ;;
    transformer:big) arch=transformer_vaswani_wmt_en_de_big ;;
    evolved_transformer:base) arch=evolved_transformer_base ;;
    evolved_transformer:big) arch=evolved_transformer_big ;;
    *) die "unknown model family '$family'" ;;
    esac
    if [ "$size" = "base" ]; then
        lr=0.0007 max_tokens=4096 paper_batch=8 max_update=100000 save_every=1500 average=5
    else
        lr=0.001 max_tokens=3584 paper_batch=128 max_update=30000 save_every=200 average=20
    fi

    local data="${DATA:-$REPO_DIR/data/wmt14-en-de-bin}"
    local save_dir="${SAVE_DIR:-runs/${family}-wmt14-$size}"
    require_dir "$data" "DATA must be fairseq binaries from recipes/prepare-wmt14-en-de.sh"
    compgen -G "$data/train.*-*.*.idx" >/dev/null ||
        die "DATA $data holds no translation binaries (train.SRC-TGT.*.idx): prepare it with recipes/prepare-wmt14-en-de.sh"
    local lang_args=()
    if [ -n "${SRC_LANG:-}${TGT_LANG:-}" ]; then
        [ -n "${SRC_LANG:-}" ] && [ -n "${TGT_LANG:-}" ] || die "set both SRC_LANG and TGT_LANG, or neither (then fairseq takes the pair from DATA)"
        lang_args=(--source-lang "$SRC_LANG" --target-lang "$TGT_LANG")
    fi
    local seed="${SEED:-1}"
    nonneg_int "$seed" SEED
    average="${AVERAGE_LAST:-$average}"
    nonneg_int "$average" AVERAGE_LAST

    local gpus update_freq precision mode="" warmup=4000
    local device_args=() size_args=()
    if [ "$TINY" = "1" ]; then
        export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" # demo-sized models: threads only add overhead
        mode=", tiny"
        gpus=1
        update_freq="${UPDATE_FREQ:-1}"
        precision="${PRECISION:-fp32}"
        [ "$precision" = "fp32" ] || die "tiny mode trains on the CPU: PRECISION must be fp32, got '$precision'"
        device_args=(--cpu)
        # sizes and lengths only; every other flag is the full recipe's
        max_update=20 warmup=5 max_tokens=256 save_every=10
        average="${AVERAGE_LAST:-2}"
        size_args=(--encoder-embed-dim 64 --encoder-ffn-embed-dim 128 --encoder-attention-heads 2
            --decoder-embed-dim 64 --decoder-ffn-embed-dim 128 --decoder-attention-heads 2
            --max-epoch 1 --max-valid-steps 2 --log-interval 5)
        if [ "$family" = "transformer" ]; then # (the ET's cell counts are fixed: 3 + 4)
            size_args+=(--encoder-layers 2 --decoder-layers 2)
        fi
    else
        gpus="${GPUS:-$(visible_gpus)}"
        positive_int "$gpus" GPUS
        update_freq="${UPDATE_FREQ:-$(ceil_div "$paper_batch" "$gpus")}"
        precision="${PRECISION:-fp16}"
        device_args=(--distributed-world-size "$gpus")
    fi
    positive_int "$update_freq" UPDATE_FREQ
    precision_flags "$precision"
    if [ "$TINY" != "1" ] && [ $((gpus * update_freq)) -ne "$paper_batch" ]; then
        note "GPUS=$gpus x UPDATE_FREQ=$update_freq = $((gpus * update_freq)) x $max_tokens tokens per update; the paper setting is $paper_batch x $max_tokens"
    fi
    local keep=$((average > 1 ? average : 1))

    local args=(
        "$data"
        --user-dir "$REPO_DIR/fairseq_plugins"
        --task translation
        "${lang_args[@]}"
        --arch "$arch" --share-all-embeddings
        --optimizer adam --adam-betas "(0.9, 0.98)" --clip-norm 0.0
        --lr "$lr" --lr-scheduler inverse_sqrt --warmup-updates "$warmup" --warmup-init-lr 1e-07
        --weight-decay 0.0
        --criterion label_smoothed_cross_entropy --label-smoothing 0.1
        --max-tokens "$max_tokens" --update-freq "$update_freq"
        --max-update "$max_update"
        --seed "$seed"
        --save-dir "$save_dir" --no-epoch-checkpoints
        --save-interval-updates "$save_every" --keep-interval-updates "$keep"
        "${device_args[@]}"
        "${PRECISION_ARGS[@]}"
        "${size_args[@]}"
        "${EXTRA_ARGS[@]}"
    )
    note "training $arch on $data -> $save_dir (GPUs $gpus, update-freq $update_freq, $precision$mode)"
    run mkdir -p "$save_dir"
    run "$(fairseq_tool fairseq-train)" "${args[@]}"

    local eval_ckpt="$save_dir/checkpoint_best.pt"
    if [ "$average" -gt 1 ]; then
        eval_ckpt="$save_dir/checkpoint_avg$average.pt"
        note "averaging the last $average update checkpoints -> $eval_ckpt"
        evotrans average-checkpoints --inputs "$save_dir" \
            --num-update-checkpoints "$average" --output "$eval_ckpt"
    fi
    note "done: evaluate with: bash recipes/evaluate-mt.sh $eval_ckpt $data"
}
