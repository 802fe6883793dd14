"""`evotrans prepare lm|mt RAW_DIR OUT_DIR`: raw text -> sentencepiece -> fairseq binaries."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def _log(message: str) -> None:
    print(f"evotrans: {message}", file=sys.stderr)


def run_lm(args: argparse.Namespace) -> int:
    from evotrans.prepare import prepare_lm

    out = prepare_lm(
        args.raw_dir,
        args.out_dir,
        vocab_size=args.vocab_size,
        model_type=args.model_type,
        workers=args.workers,
        tokenizer=args.tokenizer,
        force=args.force,
        log=_log,
    )
    print(out)
    return 0


def run_mt(args: argparse.Namespace) -> int:
    from evotrans.prepare import prepare_mt

    out = prepare_mt(
        args.raw_dir,
        args.out_dir,
        src=args.src,
        tgt=args.tgt,
        vocab_size=args.vocab_size,
        joint=args.joint,
        model_type=args.model_type,
        workers=args.workers,
        force=args.force,
        log=_log,
    )
    print(out)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("raw_dir", type=Path, metavar="RAW_DIR")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    p.add_argument(
        "--vocab-size", type=_positive_int, default=8000, help="sentencepiece vocabulary size"
    )
    p.add_argument(
        "--model-type", choices=["bpe", "unigram"], default="bpe", help="sentencepiece model"
    )
    p.add_argument("--workers", type=_positive_int, default=2, help="fairseq-preprocess workers")
    p.add_argument("--force", action="store_true", help="rebuild even if OUT_DIR is up to date")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="turn a raw corpus into fairseq binaries (sentencepiece + fairseq-preprocess)",
        description="Train sentencepiece on the training split, encode all splits and run "
        "fairseq-preprocess. OUT_DIR is replaced atomically; an up-to-date OUT_DIR "
        "(same inputs and options, see OUT_DIR/prepared.json) is left alone.",
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", parser_class=type(p))
    kinds.required = True

    lm = kinds.add_parser(
        "lm",
        help="language-modelling corpus: RAW_DIR/wiki.{train,valid,test}.tokens",
        description="RAW_DIR holds wiki.{train,valid,test}.tokens (WikiText layout); OUT_DIR "
        "gets dict.txt, {train,valid,test}.{bin,idx} and spm.model.",
    )
    _common(lm)
    lm.add_argument(
        "--tokenizer",
        choices=["spm", "word"],
        default="spm",
        help="spm: sentencepiece pieces (default); word: the corpus's own space-separated "
        "words, every word of the training split in the vocabulary, no sentencepiece "
        "(fairseq's WikiText-103 recipe; --vocab-size and --model-type are not used)",
    )
    lm.set_defaults(func=run_lm)

    mt = kinds.add_parser(
        "mt",
        help="translation corpus: RAW_DIR/{train,valid,test}.{SRC,TGT}",
        description="RAW_DIR holds {train,valid,test}.SRC and .TGT (parallel, one sentence a "
        "line); OUT_DIR gets dict.SRC.txt, dict.TGT.txt, the binaries and spm.model.",
    )
    _common(mt)
    mt.add_argument("--src", default="de", help="source language suffix (default: de)")
    mt.add_argument("--tgt", default="en", help="target language suffix (default: en)")
    mt.add_argument(
        "--no-joint",
        dest="joint",
        action="store_false",
        help="separate sentencepiece models and dictionaries per language",
    )
    mt.set_defaults(func=run_mt)
