#!/usr/bin/env bash
# Put fairseq + evotrans on an offline GPU machine whose python3 already has a
# CUDA torch (kept as is; numpy stays the system's, fairseq imports with it).
# Needs the prebuilt site folder made once on such a machine (see
# docs/benchmarks.md, "GPU"): .gpu-wheels/evotrans-gpu-site-*.tgz holding
# fairseq (built with `pip wheel --no-build-isolation` against that torch),
# hydra-core 1.3.2, omegaconf 2.3.0, antlr4 4.9.3 and bitarray.
# Usage: source bench/gpu/setup.sh   (sets PYTHONPATH and PATH)
SITE_TGZ=$(ls .gpu-wheels/evotrans-gpu-site-*.tgz | head -1)
tar xzf "$SITE_TGZ" -C /tmp
export PYTHONPATH="/tmp/evotrans-gpu-site:$PWD"
export PATH="/tmp/evotrans-gpu-site/bin:$PATH"
python3 -c "import torch, fairseq, fairseq_plugins; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'fairseq', fairseq.__version__)"
