"""Resolve the ``--*-sublayer-order`` flags of a fairseq args/cfg object.

Parsing and validation live in :mod:`evotrans.sublayers` (one place, one set
of error messages); this module only applies the flag defaults:
no order given -> fairseq's own layout (``sf``*layers, ``scf``*layers).
"""

from __future__ import annotations

import sys

from fairseq.utils import safe_getattr

from evotrans.errors import EvotransError
from evotrans.sublayers import parse_order


def exit_on_bad_flag(flag: str, err: EvotransError) -> None:
    """Report a bad flag value the way argparse does: one line, exit status 2."""
    print(f"fairseq: error: argument {flag}: {err}", file=sys.stderr)
    raise SystemExit(2)


def lm_decoder_order(args) -> str:
    """The decoder order of a language model from ``--decoder-sublayer-order`` /
    ``--sandwich-coef`` (default: ``sf`` * ``--decoder-layers``)."""
    text = safe_getattr(args, "decoder_sublayer_order", None)
    coef = safe_getattr(args, "sandwich_coef", None)
    if coef is not None and coef >= 0:
        sandwich = _parse(f"sandwich:{args.decoder_layers}:{coef}", "lm", "--sandwich-coef")
        if text and _parse(text, "lm", "--decoder-sublayer-order") != sandwich:
            exit_on_bad_flag(
                "--sandwich-coef",
                EvotransError(f"--decoder-sublayer-order {text!r} contradicts --sandwich-coef"),
            )
        return sandwich
    if not text:
        return "sf" * args.decoder_layers
    return _parse(text, "lm", "--decoder-sublayer-order")


def _parse(text: str, role: str, flag: str, auto_cross: bool = False) -> str:
    try:
        return parse_order(text, role=role, auto_cross=auto_cross)
    except EvotransError as err:
        exit_on_bad_flag(flag, err)
        raise  # unreachable: exit_on_bad_flag raises SystemExit


def encoder_order(args) -> str:
    """``--encoder-sublayer-order`` (default: ``sf`` * ``--encoder-layers``)."""
    text = safe_getattr(args, "encoder_sublayer_order", None)
    if not text:
        return "sf" * args.encoder_layers
    return _parse(text, "encoder", "--encoder-sublayer-order")


def translation_decoder_order(args) -> str:
    """``--decoder-sublayer-order`` for a translation decoder; a ``c`` is put
    after every ``s`` when the order has none (auto-cross). Default ``scf``*layers."""
    text = safe_getattr(args, "decoder_sublayer_order", None)
    if not text:
        return "scf" * args.decoder_layers
    return _parse(text, "decoder", "--decoder-sublayer-order", auto_cross=True)
