#!/usr/bin/env bash
# Install the pinned fairseq (requirements/fairseq.txt) into the Python given.
#
# The sdist is downloaded with its sha256 checked (--require-hashes), built
# against the torch already installed (--no-build-isolation; CUDA_HOME unset:
# the CUDA kernels are only for non-autoregressive models) and installed
# without dependencies (they would pull torchaudio and a second torch).
# pip does not reuse wheels it built in hash-checking mode, so the built wheel
# is kept in EVOTRANS_WHEEL_CACHE (default ~/.cache/evotrans/wheels), keyed by
# Python and torch version: a second .venv installs in seconds.
# Usage: scripts/install-fairseq.sh PYTHON
set -euo pipefail
PY=${1:?usage: install-fairseq.sh PYTHON}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KEY=$("$PY" -c 'import sys, torch; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-torch{torch.__version__}")')
CACHE=${EVOTRANS_WHEEL_CACHE:-$HOME/.cache/evotrans/wheels}/$KEY
SDIST_HASH=$(grep -o 'sha256:[0-9a-f]*' "$ROOT/requirements/fairseq.txt" | cut -d: -f2)
WHEEL=$(ls "$CACHE"/fairseq_fixed-*.whl 2>/dev/null | head -1 || true)
if [ -n "$WHEEL" ] && [ "$(cat "$CACHE/sdist.sha256" 2>/dev/null)" = "$SDIST_HASH" ]; then
    echo "fairseq: installing the wheel built earlier ($WHEEL)"
else
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
    "$PY" -m pip download -q --no-deps --no-build-isolation --no-binary fairseq-fixed --require-hashes \
        -r "$ROOT/requirements/fairseq.txt" -d "$TMP/sdist"
    echo "fairseq: building from the verified source (a few minutes, once)"
    env -u CUDA_HOME "$PY" -m pip wheel -q --no-deps --no-build-isolation \
        "$TMP"/sdist/*.tar.gz -w "$TMP/wheel"
    mkdir -p "$CACHE"
    rm -f "$CACHE"/fairseq_fixed-*.whl
    cp "$TMP"/wheel/fairseq_fixed-*.whl "$CACHE/"
    echo "$SDIST_HASH" > "$CACHE/sdist.sha256"
    WHEEL=$(ls "$CACHE"/fairseq_fixed-*.whl | head -1)
fi
"$PY" -m pip install -q --no-deps --force-reinstall "$WHEEL"
