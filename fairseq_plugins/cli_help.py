"""Show the plugin architectures' flags in ``fairseq-train --arch ARCH --help``.

fairseq adds model-specific flags only after a first parse of the command
line, and ``--help`` exits during that first parse, so no model's flags
(``--decoder-sublayer-order`` included) appear in the help. For the
architectures of this plugin we add them to the parser before fairseq parses,
when ``--help`` is asked for. Nothing changes for any other command line.
"""

from __future__ import annotations

import argparse
import functools
import sys

PLUGIN_MODELS = ("sublayer_lm", "sublayer_transformer", "genome_lm", "genome_transformer")


def _arch_of(argv: list[str]) -> str | None:
    probe = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    probe.add_argument("--arch", "-a")
    known, _ = probe.parse_known_args(argv)
    return known.arch


def install() -> None:
    """Wrap ``fairseq.options.parse_args_and_arch`` once (idempotent)."""
    from fairseq import options

    original = options.parse_args_and_arch
    if getattr(original, "_evotrans_help", False):
        return

    @functools.wraps(original)
    def parse_args_and_arch(parser, input_args=None, *args, **kwargs):
        argv = list(sys.argv[1:] if input_args is None else input_args)
        if "-h" in argv or "--help" in argv:
            from fairseq.models import ARCH_MODEL_REGISTRY, MODEL_REGISTRY

            arch = _arch_of(argv)
            model = ARCH_MODEL_REGISTRY.get(arch) if arch else None
            names = {name for name, cls in MODEL_REGISTRY.items() if cls is model}
            if model is not None and names & set(PLUGIN_MODELS):
                group = parser.add_argument_group(
                    f"Model-specific configuration ({arch})",
                    argument_default=argparse.SUPPRESS,
                )
                model.add_args(group)
        return original(parser, input_args, *args, **kwargs)

    parse_args_and_arch._evotrans_help = True  # type: ignore[attr-defined]
    options.parse_args_and_arch = parse_args_and_arch
