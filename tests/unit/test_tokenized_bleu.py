"""evotrans.tokenized_bleu: Moses tokenization + compound splitting + BLEU over tokens."""

from __future__ import annotations

import pytest

pytest.importorskip("sacremoses")
from sacrebleu.metrics import BLEU  # noqa: E402

from evotrans.tokenized_bleu import main, split_compounds, tokenized_bleu  # noqa: E402


def test_compounds_split_like_the_perl_substitution():
    # s{(\S)-(\S)}{$1 ##AT##-##AT## $2}g: left to right, matches do not overlap
    assert split_compounds("Test-Fall") == "Test ##AT##-##AT## Fall"
    assert split_compounds("a-b-c") == "a ##AT##-##AT## b-c"
    assert split_compounds("a - b -c d-") == "a - b -c d-"


def test_score_is_bleu_over_moses_tokens_with_compounds_split():
    hyps = ["Das ist ein Test-Fall, oder?", '"Ja" & nein.']
    refs = ["Das ist der Test-Fall, oder?", '"Ja" & nein!']
    score, signature = tokenized_bleu(hyps, refs, "de")
    by_hand_hyps = [
        "Das ist ein Test ##AT##-##AT## Fall , oder ?",
        "&quot; Ja &quot; &amp; nein .",
    ]
    by_hand_refs = [
        "Das ist der Test ##AT##-##AT## Fall , oder ?",
        "&quot; Ja &quot; &amp; nein !",
    ]
    expected = BLEU(tokenize="none").corpus_score(by_hand_hyps, [by_hand_refs]).score
    assert score == pytest.approx(expected)
    assert 0 < score < 100
    assert signature.startswith("moses-tokenizer:de(sacremoses ")
    assert "+compound-split|" in signature and "tok:none" in signature
    assert tokenized_bleu(refs, refs, "de")[0] == pytest.approx(100.0)


def test_cli_prints_signature_and_score_and_refuses_bad_input(tmp_path, capsys):
    ref, hyp = tmp_path / "ref.txt", tmp_path / "hyp.txt"
    ref.write_text("Guten Morgen.\nWie geht's?\n", encoding="utf-8")
    hyp.write_text("Guten Morgen.\nWie geht's?\n", encoding="utf-8")
    assert main(["--lang", "de", str(ref), str(hyp)]) == 0
    signature, score = capsys.readouterr().out.strip().split("\t")
    assert float(score) == 100.0 and signature.startswith("moses-tokenizer:de")
    hyp.write_text("Guten Morgen.\n", encoding="utf-8")
    assert main(["--lang", "de", str(ref), str(hyp)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "1 hypotheses for 2 references" in err
