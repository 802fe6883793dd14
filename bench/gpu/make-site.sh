#!/usr/bin/env bash
# Build .gpu-wheels/ for an offline GPU machine, here: on a machine with PyPI and a
# set-up .venv (`make setup`). The GPU machine keeps its own CUDA torch and numpy;
# this carries everything else fairseq training needs, as one site folder:
#   .gpu-wheels/evotrans-gpu-site-<fairseq version>.tgz  fairseq + fairseq_cli (built
#       here for this .venv's Python), hydra-core, omegaconf, antlr4 runtime, PyYAML,
#       bitarray, packaging, and bin/fairseq-{train,generate,eval-lm} wrappers
#   .gpu-wheels/cython-*-py3-none-any.whl + pyx/  fairseq's Cython data utilities, rebuilt
#       there by setup.sh when the prebuilt ones do not import with that machine's numpy
# Then, with the device tool: run(carry=[".gpu-wheels"], command="source bench/gpu/setup.sh
# && python3 bench/gpu/train_bench.py --data data/demo-bin --out $OUT/gpu --precision fp16").
# Usage: bash bench/gpu/make-site.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=$ROOT/.venv/bin/python
[ -x "$PY" ] || { echo "make-site: no .venv here: run make setup first" >&2; exit 2; }
OUT=$ROOT/.gpu-wheels
SITE_PACKAGES=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
VERSION=$("$PY" -c 'import importlib.metadata as m; print(m.version("fairseq-fixed"))')
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SITE=$TMP/evotrans-gpu-site
mkdir -p "$SITE/bin" "$OUT"

for pkg in fairseq fairseq_cli hydra omegaconf antlr4 yaml _yaml bitarray packaging; do
    [ -e "$SITE_PACKAGES/$pkg" ] || { echo "make-site: $pkg missing from .venv" >&2; exit 2; }
    cp -r "$SITE_PACKAGES/$pkg" "$SITE/"
done
find "$SITE" -name __pycache__ -prune -exec rm -rf {} +
for tool in train:fairseq-train generate:fairseq-generate eval_lm:fairseq-eval-lm; do
    module=${tool%%:*}
    cat > "$SITE/bin/${tool#*:}" <<EOF
#!/usr/bin/env python3
from fairseq_cli.$module import cli_main

cli_main()
EOF
    chmod +x "$SITE/bin/${tool#*:}"
done
rm -f "$OUT"/evotrans-gpu-site-*.tgz
tar czf "$OUT/evotrans-gpu-site-$VERSION.tgz" -C "$TMP" evotrans-gpu-site

# the Cython sources, from the sha256-pinned sdist (requirements/fairseq.txt)
"$PY" -m pip download -q --no-deps --no-build-isolation --no-binary fairseq-fixed \
    --require-hashes -r "$ROOT/requirements/fairseq.txt" -d "$TMP/sdist"
tar xzf "$TMP"/sdist/*.tar.gz -C "$TMP"
rm -rf "$OUT/pyx" && mkdir -p "$OUT/pyx"
cp "$TMP"/fairseq*/fairseq/data/data_utils_fast.pyx "$TMP"/fairseq*/fairseq/data/token_block_utils_fast.pyx "$OUT/pyx/"
rm -f "$OUT"/cython-*.whl "$OUT"/Cython-*.whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --platform any --implementation py \
    --abi none --python-version 3.11 Cython -d "$OUT"
ls -la "$OUT"
du -sh "$OUT"
