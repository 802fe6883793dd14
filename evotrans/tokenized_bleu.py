"""Tokenized, compound-split BLEU: the number the WMT'14 En-De papers report.

Vaswani et al. (2017), Ott et al. (2018) and the Evolved Transformer (So et al., 2019)
report BLEU on Moses-tokenized text with hyphenated compounds split
(tensor2tensor's ``get_ende_bleu.sh``, fairseq's ``compound_split_bleu.sh``):
``tokenizer.perl -l LANG``, then ``s{(\\S)-(\\S)}{$1 ##AT##-##AT## $2}g``, then
``multi-bleu.perl``. This module does the same with sacremoses (the Python port of
the Moses tokenizer, default escaping as ``tokenizer.perl``) and sacreBLEU on the
resulting tokens (``tokenize="none"``: BLEU over whitespace tokens, as multi-bleu).
It is not comparable to detokenized sacreBLEU.

``python -m evotrans.tokenized_bleu --lang de REF HYP`` prints ``SIGNATURE<TAB>SCORE``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

_COMPOUND = re.compile(r"(\S)-(\S)")


def split_compounds(line: str) -> str:
    """``a-b`` → ``a ##AT##-##AT## b``, left to right without overlap (as the Perl ``s///g``)."""
    return _COMPOUND.sub(r"\1 ##AT##-##AT## \2", line)


def tokenized_bleu(hypotheses: Sequence[str], references: Sequence[str], lang: str):
    """(score, signature) of Moses-tokenized, compound-split corpus BLEU."""
    from sacrebleu.metrics import BLEU
    from sacremoses import MosesTokenizer

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    tokenizer = MosesTokenizer(lang=lang)

    def prepare(lines: Sequence[str]) -> list[str]:
        return [split_compounds(tokenizer.tokenize(line, return_str=True)) for line in lines]

    bleu = BLEU(tokenize="none")
    score = bleu.corpus_score(prepare(hypotheses), [prepare(references)]).score
    signature = (
        f"moses-tokenizer:{lang}(sacremoses {version('sacremoses')})+compound-split|"
        f"{bleu.get_signature()}"
    )
    return score, signature


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evotrans.tokenized_bleu", description=__doc__)
    parser.add_argument("--lang", required=True, help="target language code (Moses tokenizer)")
    parser.add_argument("reference", type=Path)
    parser.add_argument("hypotheses", type=Path)
    args = parser.parse_args(argv)
    try:
        refs = args.reference.read_text(encoding="utf-8").splitlines()
        hyps = args.hypotheses.read_text(encoding="utf-8").splitlines()
        score, signature = tokenized_bleu(hyps, refs, args.lang)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        print(f"tokenized_bleu: error: {err}", file=sys.stderr)
        return 2
    print(f"{signature}\t{score:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
