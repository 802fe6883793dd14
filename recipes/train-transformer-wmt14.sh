#!/usr/bin/env bash
# Train the Transformer on WMT'14 English->German: the matched baseline of the Evolved
# Transformer recipe (same data, same training setup, see lib/wmt14.sh). Architectures are
# fairseq's own: base = transformer_wmt_en_de (d=512, FFN 2048, 8 heads, 6+6 layers, dropout
# 0.1), big = transformer_vaswani_wmt_en_de_big (d=1024, FFN 4096, 16 heads, dropout 0.3);
# post-norm as in Vaswani et al. (add `-- --encoder-normalize-before --decoder-normalize-before`
# for the pre-norm Transformer of tensor2tensor, which the Evolved Transformer paper compared
# against). Published tokenized BLEU on newstest2014: Vaswani et al. (2017) base 27.3, big 28.4;
# Ott et al. (2018) big with large batches 29.3. Evaluate with recipes/evaluate-mt.sh.
#
#   bash recipes/train-transformer-wmt14.sh [--tiny] base|big [-- EXTRA_FAIRSEQ_TRAIN_ARGS...]
#
# Hyperparameters (fairseq's examples/scaling_nmt):
#   base  adam (0.9, 0.98), lr 0.0007 inverse_sqrt, warmup 4000 from 1e-7, label smoothing 0.1,
#         max-tokens 4096 x 8 GPUs, 100k updates, average of the last 5 checkpoints (1500 apart)
#   big   the same with lr 0.001, max-tokens 3584 x 8 GPUs x update-freq 16, 30k updates,
#         average of the last 20 checkpoints (200 apart)
#   both  clip-norm 0, weight-decay 0, --share-all-embeddings, seed 1
#
# Environment:
#   DATA          fairseq binaries from recipes/prepare-wmt14-en-de.sh (default data/wmt14-en-de-bin)
#   SAVE_DIR      checkpoints (default runs/transformer-wmt14-SIZE)
#   SRC_LANG, TGT_LANG  translation direction (default: the one language pair in DATA, en-de)
#   GPUS          GPUs to train on (default: the visible ones, via CUDA_VISIBLE_DEVICES / nvidia-smi)
#   UPDATE_FREQ   gradient accumulation (default: the paper's GPUs x update-freq / GPUS, rounded up)
#   PRECISION     fp16 (default) or fp32; bf16 is refused (fairseq 0.12's --bf16 means TPU)
#   SEED          default 1
#   AVERAGE_LAST  update checkpoints to average with `evotrans average-checkpoints` into
#                 SAVE_DIR/checkpoint_avgN.pt (default 5 base, 20 big, 2 tiny; 0 or 1: none)
#   TINY=1 / --tiny: the same command on CPU with a demo-sized model (d=64, 2 heads, 2+2 layers),
#                 20 updates, 1 epoch at most, checkpoints every 10 updates (the last 2
#                 averaged), fp32
# Everything after `--` goes to fairseq-train unchanged (and wins over the recipe's flags).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/wmt14.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/wmt14.sh"

train_wmt14 transformer "$@"
