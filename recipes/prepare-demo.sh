#!/usr/bin/env bash
# Turn the demo corpora (data/demo/{lm,mt}, real text, see data/demo/README.md) into fairseq
# binaries with sentencepiece:
#
#   bash recipes/prepare-demo.sh [OUT_DIR]        # default OUT_DIR: data/demo-bin
#
# writes OUT_DIR/lm (WikiText-style English, --task language_modeling) and OUT_DIR/mt
# (German->English, --task translation, joint dictionary). Re-running is a no-op when the
# inputs and options are unchanged (see OUT_DIR/*/prepared.json). Set EVOTRANS to the
# command to use (default: `evotrans` on PATH), e.g. EVOTRANS=.venv/bin/evotrans or
# EVOTRANS="python -m evotrans"; VOCAB_SIZE overrides the sentencepiece vocabulary (8000).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$here/data/demo-bin}"
vocab="${VOCAB_SIZE:-8000}"
# shellcheck disable=SC2206  # EVOTRANS may be a command with arguments
evotrans=(${EVOTRANS:-evotrans})

"${evotrans[@]}" prepare lm "$here/data/demo/lm" "$out/lm" --vocab-size "$vocab"
"${evotrans[@]}" prepare mt "$here/data/demo/mt" "$out/mt" --src de --tgt en --vocab-size "$vocab"
