#!/usr/bin/env bash
# Train the Evolved Transformer (So, Liang & Le, 2019) on WMT'14 English->German with the
# training setup of its matched Transformer (recipes/train-transformer-wmt14.sh, lib/wmt14.sh):
# the ET paper trained both with tensor2tensor on TPUs using the Transformer's settings; here
# both use fairseq's scaling-NMT settings. Architectures (this repository's plugin, the published
# ET written out block by block, pre-norm, 3 encoder + 4 decoder cells): base =
# evolved_transformer_base (d=512, 8 heads, the sizes of transformer_wmt_en_de), big =
# evolved_transformer_big (d=1024, 16 heads, dropout 0.3, the sizes of
# transformer_vaswani_wmt_en_de_big). Published tokenized BLEU on newstest2014: ET base 28.4,
# ET big 29.8. Evaluate with recipes/evaluate-mt.sh.
#
#   bash recipes/train-evolved-transformer-wmt14.sh [--tiny] base|big [-- EXTRA_FAIRSEQ_TRAIN_ARGS...]
#
# Hyperparameters (the matched Transformer's, fairseq's examples/scaling_nmt):
#   base  adam (0.9, 0.98), lr 0.0007 inverse_sqrt, warmup 4000 from 1e-7, label smoothing 0.1,
#         max-tokens 4096 x 8 GPUs, 100k updates, average of the last 5 checkpoints (1500 apart)
#   big   the same with lr 0.001, max-tokens 3584 x 8 GPUs x update-freq 16, 30k updates,
#         average of the last 20 checkpoints (200 apart)
#   both  clip-norm 0, weight-decay 0, --share-all-embeddings, seed 1
#
# Environment:
#   DATA          fairseq binaries from recipes/prepare-wmt14-en-de.sh (default data/wmt14-en-de-bin)
#   SAVE_DIR      checkpoints (default runs/evolved_transformer-wmt14-SIZE)
#   SRC_LANG, TGT_LANG  translation direction (default: the one language pair in DATA, en-de)
#   GPUS          GPUs to train on (default: the visible ones, via CUDA_VISIBLE_DEVICES / nvidia-smi)
#   UPDATE_FREQ   gradient accumulation (default: the paper's GPUs x update-freq / GPUS, rounded up)
#   PRECISION     fp16 (default) or fp32; bf16 is refused (fairseq 0.12's --bf16 means TPU)
#   SEED          default 1
#   AVERAGE_LAST  update checkpoints to average with `evotrans average-checkpoints` into
#                 SAVE_DIR/checkpoint_avgN.pt (default 5 base, 20 big, 2 tiny; 0 or 1: none)
#   TINY=1 / --tiny: the same command on CPU with a demo-sized model (d=64, 2 heads, 3+4 cells),
#                 20 updates, 1 epoch at most, checkpoints every 10 updates (the last 2
#                 averaged), fp32
# Everything after `--` goes to fairseq-train unchanged (and wins over the recipe's flags).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/wmt14.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/wmt14.sh"

train_wmt14 evolved_transformer "$@"
