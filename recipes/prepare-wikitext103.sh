#!/usr/bin/env bash
# WikiText-103 (raw token files) -> word-level fairseq binaries, the way fairseq's language-model
# example prepares it (examples/language_model: `fairseq-preprocess --only-source` on
# wiki.{train,valid,test}.tokens, no BPE, the vocabulary is every word of the training split,
# about 267k types). This is the data of Baevski & Auli (2019) and of the sandwich transformer
# (Press et al., 2020); train on it with recipes/train-sandwich-lm-wikitext103.sh.
#
#   bash recipes/prepare-wikitext103.sh [--tiny] RAW_DIR OUT_DIR
#
# RAW_DIR is the unzipped wikitext-103/ directory:
#   wget https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-v1.zip
#   unzip wikitext-103-v1.zip          # -> wikitext-103/wiki.{train,valid,test}.tokens
# The files must have 1801350 / 3760 / 4358 lines (checked before any work; not in tiny mode).
#
# OUT_DIR gets dict.txt and {train,valid,test}.{bin,idx} (fairseq --task language_modeling).
# The work is done by `evotrans prepare lm --tokenizer word`: it builds in a hidden temporary
# sibling of OUT_DIR and renames it into place at the end, OUT_DIR/prepared.json (inputs'
# sha256 and options) marks a finished output, and running again on a finished OUT_DIR with the
# same inputs is a no-op. An existing OUT_DIR that is not such an output is refused.
#
# Environment: WORKERS (fairseq-preprocess workers, default: number of CPUs), TINY=1 (or
# --tiny): RAW_DIR holds small files laid out like the real corpus, line counts not checked.
# See also lib/common.sh (EVOTRANS, FAIRSEQ_BIN, DRY_RUN).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

take_tiny_flag "$@"
[ "$TINY_FLAG_TAKEN" = "1" ] && shift
[ $# -eq 2 ] || die "usage: $RECIPE_NAME [--tiny] RAW_DIR OUT_DIR"
raw="$1"
out="$2"
how="download https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-v1.zip, unzip it and pass its wikitext-103/ directory as RAW_DIR"

require_dir "$raw" "$how"
for split in train valid test; do
    require_file "$raw/wiki.$split.tokens" "$how"
done
require_lines "$raw/wiki.train.tokens" 1801350 "$how"
require_lines "$raw/wiki.valid.tokens" 3760 "$how"
require_lines "$raw/wiki.test.tokens" 4358 "$how"
require_output_dir "$out" prepared.json
workers="${WORKERS:-$(nproc 2>/dev/null || echo 2)}"
positive_int "$workers" WORKERS

evotrans prepare lm "$raw" "$out" --tokenizer word --workers "$workers"
note "done: $out (word-level WikiText-103 for fairseq-train --task language_modeling)"
