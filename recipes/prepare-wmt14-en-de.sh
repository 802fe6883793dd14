#!/usr/bin/env bash
# WMT'14 English-German -> one joint sentencepiece model -> fairseq binaries (en -> de), the
# data of Vaswani et al. (2017), Ott et al. (2018) and the Evolved Transformer (So et al., 2019):
# newstest2013 is the dev set, newstest2014 (the full 3003-sentence version, as in fairseq's
# prepare-wmt14en2de.sh and tensor2tensor) the test set. Train on it with
# recipes/train-transformer-wmt14.sh and recipes/train-evolved-transformer-wmt14.sh.
#
#   bash recipes/prepare-wmt14-en-de.sh [--tiny] RAW_DIR OUT_DIR
#
# RAW_DIR layout (one sentence a line, untokenized, parallel line by line):
#   train.en, train.de                europarl-v7 + commoncrawl + news-commentary-v9 (de-en),
#                                     concatenated in that order: about 4.5M lines (4,520,620)
#   newstest2013.en, newstest2013.de  3000 lines (dev)
#   newstest2014.en, newstest2014.de  3003 lines (test)
# How to get them:
#   wget https://statmt.org/wmt13/training-parallel-europarl-v7.tgz \
#        https://statmt.org/wmt13/training-parallel-commoncrawl.tgz \
#        https://statmt.org/wmt14/training-parallel-nc-v9.tgz
#   for f in training-parallel-*.tgz; do tar xzf "$f"; done
#   for l in en de; do
#     cat training/europarl-v7.de-en.$l commoncrawl.de-en.$l training/news-commentary-v9.de-en.$l > train.$l
#   done
#   sacrebleu -t wmt13 -l en-de --echo src > newstest2013.en
#   sacrebleu -t wmt13 -l en-de --echo ref > newstest2013.de
#   sacrebleu -t wmt14/full -l en-de --echo src > newstest2014.en
#   sacrebleu -t wmt14/full -l en-de --echo ref > newstest2014.de
#
# Checks before any work: every file present, the same number of lines in both languages, and
# (not in tiny mode) 3000 / 3003 lines for newstest2013 / newstest2014.
#
# OUT_DIR gets spm.model (joint), dict.en.txt = dict.de.txt and {train,valid,test}.en-de.{en,de}.
# {bin,idx}. The work is done by `evotrans prepare mt` (RAW_DIR is staged as
# {train,valid,test}.{en,de} symlinks in a temporary directory): it builds in a hidden temporary
# sibling of OUT_DIR and renames it into place at the end, OUT_DIR/prepared.json marks a
# finished output, and running again on a finished OUT_DIR with the same inputs and options is
# a no-op. An existing OUT_DIR that is not such an output is refused.
#
# Environment: VOCAB_SIZE (sentencepiece vocabulary, default 32000; 1000 in tiny mode),
# SPM_TYPE (bpe, the default, or unigram), WORKERS (fairseq-preprocess workers, default: number
# of CPUs), TINY=1 (or --tiny): small files laid out like the real corpus. See lib/common.sh.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

take_tiny_flag "$@"
[ "$TINY_FLAG_TAKEN" = "1" ] && shift
[ $# -eq 2 ] || die "usage: $RECIPE_NAME [--tiny] RAW_DIR OUT_DIR"
raw="$1"
out="$2"
how="see the header of recipes/prepare-wmt14-en-de.sh or docs/recipes.md for how to get the WMT'14 files"
if [ "$TINY" = "1" ]; then vocab="${VOCAB_SIZE:-1000}"; else vocab="${VOCAB_SIZE:-32000}"; fi
spm_type="${SPM_TYPE:-bpe}"
workers="${WORKERS:-$(nproc 2>/dev/null || echo 2)}"
positive_int "$vocab" VOCAB_SIZE
one_of "$spm_type" SPM_TYPE bpe unigram
positive_int "$workers" WORKERS

require_dir "$raw" "$how"
for part in train newstest2013 newstest2014; do
    require_file "$raw/$part.en" "$how"
    require_file "$raw/$part.de" "$how"
done
for part in train newstest2013 newstest2014; do
    en=$(wc -l <"$raw/$part.en")
    de=$(wc -l <"$raw/$part.de")
    [ "$en" -eq "$de" ] || die "$raw/$part.en has $en lines but $raw/$part.de has $de: the sides must be parallel ($how)"
    if [ "$part" = "train" ]; then train_lines="$en"; fi
done
require_lines "$raw/newstest2013.en" 3000 "$how"
require_lines "$raw/newstest2014.en" 3003 "$how"
require_output_dir "$out" prepared.json
if [ "$TINY" != "1" ] && [ "$train_lines" -ne 4520620 ]; then
    note "train has $train_lines lines (europarl-v7 + commoncrawl + news-commentary-v9 have 4,520,620); going on"
fi

stage="$(mktemp -d "${TMPDIR:-/tmp}/wmt14-en-de-stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
raw_abs="$(cd "$raw" && pwd -P)"
for lang in en de; do
    ln -s "$raw_abs/train.$lang" "$stage/train.$lang"
    ln -s "$raw_abs/newstest2013.$lang" "$stage/valid.$lang"
    ln -s "$raw_abs/newstest2014.$lang" "$stage/test.$lang"
done

evotrans prepare mt "$stage" "$out" --src en --tgt de --vocab-size "$vocab" \
    --model-type "$spm_type" --workers "$workers"
note "done: $out (WMT'14 en->de, joint sentencepiece $spm_type $vocab; valid = newstest2013, test = newstest2014)"
