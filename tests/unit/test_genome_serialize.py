"""Genome JSON and compact forms, load_genome, content hash, sampling and mutation."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from fractions import Fraction

from evotrans.genome import (
    Branch,
    Genome,
    canonical,
    evolved_transformer,
    from_compact,
    from_dict,
    from_json,
    genome_hash,
    load_genome,
    mutate,
    random_genome,
    to_compact,
    to_dict,
    to_json,
    transformer,
    validate,
)

TRANSFORMER_COMPACT = (
    "enc6[0:ln:standard_attention:1:none+0:none:identity:1:none@add,"
    "1:ln:standard_conv_1x1:4:relu+0:none:dead_branch:1:none@add,"
    "2:none:standard_conv_1x1:1:none+1:none:identity:1:none@add,"
    "3:none:identity:1:none+0:none:dead_branch:1:none@add];"
    "dec6[0:ln:standard_attention:1:none+0:none:identity:1:none@add,"
    "1:ln:attend_to_encoder:1:none+1:none:identity:1:none@add,"
    "2:ln:standard_conv_1x1:4:relu+0:none:dead_branch:1:none@add,"
    "3:none:standard_conv_1x1:1:none+2:none:identity:1:none@add,"
    "4:none:identity:1:none+0:none:dead_branch:1:none@add]"
)


def test_compact_form_of_the_transformer_is_readable_and_stable():
    assert to_compact(transformer()) == TRANSFORMER_COMPACT
    assert from_compact(TRANSFORMER_COMPACT) == transformer()
    et = to_compact(evolved_transformer())
    assert et.startswith("enc3[0:ln:gated_linear_unit:1:none+0:none:identity:1:none@add,")
    assert ",1:ln:standard_conv_1x1:4:relu+1:ln:standard_conv_3x1:1/2:relu@add," in et
    assert from_compact(et) == evolved_transformer()
    assert from_compact(TRANSFORMER_COMPACT.replace(":ln:", ":layer_norm:")) == transformer()


def test_json_form_is_versioned_and_exact():
    data = json.loads(to_json(evolved_transformer()))
    assert list(data) == ["format", "version", "name", "encoder", "decoder"]
    assert data["format"] == "evotrans-genome" and data["version"] == 1
    branch = data["encoder"]["blocks"][1]["right"]
    assert branch == {
        "input": 1,
        "norm": "layer_norm",
        "layer": "standard_conv_3x1",
        "output_dim": "1/2",
        "activation": "relu",
    }
    assert from_json(to_json(evolved_transformer())).name == "evolved_transformer"
    branch["output_dim"] = 0.5  # numbers are read too
    assert from_dict(data) == evolved_transformer()
    lm = Genome(decoder=transformer().decoder)
    assert "encoder" not in to_dict(lm) and from_json(to_json(lm, indent=None)) == lm


def test_load_genome_forms(tmp_path):
    path = tmp_path / "et.json"
    path.write_text(to_json(evolved_transformer()))
    assert load_genome(str(path)) == load_genome("evolved_transformer") == evolved_transformer()
    assert load_genome(path) == evolved_transformer()
    compact = tmp_path / "t.genome"
    compact.write_text(TRANSFORMER_COMPACT + "\n")
    assert load_genome(compact) == transformer()
    assert load_genome(f"  {TRANSFORMER_COMPACT}\n") == transformer()
    assert load_genome(to_json(transformer())) == transformer()
    assert load_genome("transformer").name == "transformer"
    lm = load_genome(TRANSFORMER_COMPACT.split(";")[1])
    assert lm.encoder is None and validate(lm, lm=True) is lm


def test_branch_reads_output_dims_in_any_exact_form():
    a = Branch(0, "none", "standard_conv_1x1", "1/2", "none")
    assert a == Branch(0, "none", "standard_conv_1x1", 0.5, "none")
    assert a.output_dim == Fraction(1, 2) and isinstance(a.output_dim, Fraction)
    assert Branch(0, "none", "identity", 1, "none").output_dim == Fraction(1)


def test_hash_ignores_what_does_not_change_the_architecture():
    t = transformer()
    h = genome_hash(t)
    assert re.fullmatch(r"[0-9a-f]{16}", h)
    blocks = list(t.encoder.blocks)
    blocks[1] = replace(
        blocks[1],
        right=replace(
            blocks[1].right, input=1, norm="layer_norm", output_dim=Fraction(4), activation="swish"
        ),
        combiner="concat",
    )  # the dead branch's genes and the unused combiner
    blocks[0] = replace(blocks[0], left=blocks[0].right, right=blocks[0].left)  # add commutes
    blocks[3] = replace(blocks[3], left=blocks[3].right, right=blocks[3].left)  # dead goes left
    blocks[2] = replace(blocks[2], right=replace(blocks[2].right, output_dim=Fraction(2)))
    same = replace(t, encoder=replace(t.encoder, blocks=tuple(blocks)), name=None)
    assert same != t and canonical(same) == canonical(t) and genome_hash(same) == h
    assert genome_hash(evolved_transformer()) != h
    assert genome_hash(replace(t, decoder=replace(t.decoder, num_cells=5))) != h
    concat = list(t.decoder.blocks)
    concat[0] = replace(concat[0], combiner="concat")  # concat does not commute: order matters
    swapped = replace(concat[0], left=concat[0].right, right=concat[0].left)
    g1 = replace(t, decoder=replace(t.decoder, blocks=(concat[0], *concat[1:])))
    g2 = replace(t, decoder=replace(t.decoder, blocks=(swapped, *concat[1:])))
    assert genome_hash(g1) != genome_hash(g2)


def test_sampling_and_mutation_are_deterministic():
    a = random_genome(random.Random(7))
    assert a == random_genome(random.Random(7)) != random_genome(random.Random(8))
    assert (len(a.encoder.blocks), len(a.decoder.blocks)) == (6, 8)
    assert (a.encoder.num_cells, a.decoder.num_cells) == (3, 4)
    assert mutate(a, random.Random(1)) == mutate(a, random.Random(1))
    lm = random_genome(random.Random(7), encoder_blocks=None, decoder_blocks=3, decoder_cells=2)
    assert lm.encoder is None and validate(lm, lm=True) is lm


NOTE = re.compile(
    r"(encoder|decoder) (block \d+ (left|right) (input|norm|layer|output dim|activation)"
    r"|block \d+ combiner|cell num_cells): \S+ -> \S+"
)


def test_mutation_notes_name_the_changed_genes():
    rng, et = random.Random(3), evolved_transformer()
    for _ in range(50):
        child, notes = mutate(et, rng, p=0.05, num_cells=(2, 3, 4, 5, 6))
        assert notes and all(NOTE.fullmatch(n) for n in notes), notes
        assert canonical(child) != canonical(et) and validate(child) is child
    child, notes = mutate(transformer(), random.Random(11), p=1.0)
    assert len(notes) > 20


def test_mutation_rate_is_per_gene():
    rng, g = random.Random(5), evolved_transformer()
    n_genes = (6 + 8) * 11
    changes = [len(mutate(g, rng, p=0.1)[1]) for _ in range(200)]
    mean = sum(changes) / len(changes)
    # a re-draw keeps the old value with probability 1/|values|; invalid children are redrawn
    assert 0.5 * 0.1 * n_genes < mean < 1.2 * 0.1 * n_genes


def test_4_5_block_files_load_as_written_and_are_padded_as_search_seeds(tmp_path):
    from evotrans.genome import block_counts, padded_transformer
    from evotrans.search.spaces.genome import GenomeSpace

    for name, text in (("t.json", to_json(transformer())), ("t.txt", TRANSFORMER_COMPACT)):
        path = tmp_path / name
        path.write_text(text)
        assert load_genome(str(path)) == transformer()  # --genome builds it as before
        assert block_counts(load_genome(path)) == (4, 5)
        space = GenomeSpace(seed=str(path))
        assert space.seed == to_compact(padded_transformer())
