#!/usr/bin/env bash
# Put fairseq + evotrans on an offline GPU machine whose python3 already has a
# CUDA torch (kept as is; numpy stays the system's, fairseq imports with it).
# Needs the offline site folder built where PyPI is, by bench/gpu/make-site.sh:
# .gpu-wheels/evotrans-gpu-site-*.tgz (fairseq built for the CPU .venv: its torch C++
# extensions, only for non-autoregressive/BASE models, are never imported here;
# hydra-core 1.3.2, omegaconf 2.3.0, antlr4 4.9.3, PyYAML, bitarray, packaging) and
# the Cython wheel + pyx sources used below when the data utilities must be rebuilt.
# Usage: source bench/gpu/setup.sh   (sets PYTHONPATH and PATH)
SITE_TGZ=$(ls .gpu-wheels/evotrans-gpu-site-*.tgz | head -1)
tar xzf "$SITE_TGZ" -C /tmp
export PYTHONPATH="/tmp/evotrans-gpu-site:$PWD"
export PATH="/tmp/evotrans-gpu-site/bin:$PATH"
python3 -c "import torch, fairseq, fairseq_plugins; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'fairseq', fairseq.__version__)"
# The Cython data utilities must match the numpy they run with: rebuild them against
# this machine's numpy when the prebuilt ones do not import.
if ! python3 -c "import fairseq.data.data_utils_fast, fairseq.data.token_block_utils_fast" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/evotrans-cython .gpu-wheels/[Cc]ython-*.whl
    rm -rf /tmp/evotrans-pyx && cp -r .gpu-wheels/pyx /tmp/evotrans-pyx
    (cd /tmp/evotrans-pyx && PYTHONPATH=/tmp/evotrans-cython python3 - <<'PY'
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

exts = [Extension(name, [f"{name}.pyx"], include_dirs=[numpy.get_include()], language="c++",
                  extra_compile_args=["-std=c++11", "-O3"])
        for name in ("data_utils_fast", "token_block_utils_fast")]
setup(ext_modules=cythonize(exts, quiet=True), script_args=["build_ext", "--inplace", "-q"])
PY
    )
    cp /tmp/evotrans-pyx/*.so /tmp/evotrans-gpu-site/fairseq/data/
fi
python3 -c "import fairseq.data.data_utils_fast; print('fairseq data utils: ok')"
