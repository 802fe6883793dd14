"""`evotrans show` as users run it: a real process, clean errors, no torch import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def evotrans(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evotrans", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_show_prints_the_canonical_order_and_totals():
    proc = evotrans("show", "s.sfsf.f", "--d", "64", "--ffn", "256", "--vocab", "1000")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "order           ssfsff" in out
    assert "s=3 f=3 c=0" in out and "sandwich:3:1" in out
    assert "equal-parameter yes" in out
    # 3 * (4*(64*64+64) + 128) + 3 * (64*256+256 + 256*64+64 + 128) + 1000*64
    assert "50,304" in out and "99,648" in out and "64,000" in out
    assert [line.split()[-1] for line in out.splitlines() if "total" in line] == ["213,952"]


def test_show_json_and_unequal_order():
    proc = evotrans("show", "sssf", "--d", "8", "--ffn", "32", "--vocab", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["order"] == "sssf" and data["counts"] == {"s": 3, "f": 1, "c": 0}
    assert data["equal_parameter"] is False and data["baseline"] == "sfsfsf"
    assert data["params"]["total"] == 3 * 304 + 568
    assert data["parameter_delta"] == -2 * 568


def test_show_decoder_auto_cross():
    proc = evotrans("show", "sandwich:2:1", "--role", "decoder", "--auto-cross", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["order"] == "scscff"


def test_bad_order_is_one_line_exit_2():
    proc = evotrans("show", "ssxf")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "position 3 'x'" in lines[0]
    assert lines[0].startswith("evotrans: error: ")


def test_bad_sizes_and_huge_inputs_are_one_line_exit_2():
    for args in (
        ["sfsf", "--d", "0"],
        ["sfsf", "--vocab", "many"],
        ["s" * 5000],
        ["random:2:" + "9" * 5000],
    ):
        proc = evotrans("show", *args)
        assert proc.returncode == (0 if args == ["s" * 5000] else 2), proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 1


def test_cli_does_not_import_torch():
    code = (
        "import sys; from evotrans.cli import main; rc = main(['show', 'sfsf']); "
        "assert rc == 0, rc; "
        "assert 'torch' not in sys.modules and 'fairseq' not in sys.modules, 'imported'"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr


# -- show A --diff B ---------------------------------------------------------------------------


def test_diff_of_two_genomes_lists_the_genes(tmp_path):
    from evotrans.genome import evolved_transformer, genome_diff, padded_transformer, to_json

    proc = evotrans("show", "transformer", "--diff", "evolved_transformer")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        "encoder cell: A has 4 blocks, B has 6; A compared padded with inert blocks (the same "
        "model)"
    )
    assert "encoder num_cells: 6 -> 3" in lines and "decoder num_cells: 6 -> 4" in lines
    assert "encoder block 1 left layer: standard_attention -> gated_linear_unit" in lines
    assert "decoder block 1 left layer: standard_attention -> attention_16_heads" in lines
    assert "encoder block 3 left output dim: 1 -> 1/2" in lines
    n = len(genome_diff(padded_transformer(), evolved_transformer()))
    assert f"{n} genes differ" in lines and lines[-1].startswith("different architectures")

    padded = tmp_path / "padded.json"
    padded.write_text(to_json(padded_transformer()))
    proc = evotrans("show", str(padded), "--diff", "transformer", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["kind"] == "genome" and data["differences"] == []
    assert data["same_architecture"] and not data["hashes_match"]
    assert data["padded_hashes"][0] == data["padded_hashes"][1] == data["a"]["hash"]


def test_diff_of_equal_genomes_and_combiners(tmp_path):
    proc = evotrans("show", "evolved_transformer", "--diff", "evolved_transformer")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "no differences in the genes",
        f"identical architectures (hashes match: {_hash('evolved_transformer')})",
    ]
    from evotrans.genome import evolved_transformer, to_compact

    compact = to_compact(evolved_transformer())
    concat = compact.replace("@add", "@concat", 2)  # encoder blocks 1 and 2
    proc = evotrans("show", compact, "--diff", concat, "--json")
    assert proc.returncode == 0, proc.stderr
    diffs = json.loads(proc.stdout)["differences"]
    assert [d["text"] for d in diffs] == [
        "encoder block 1 combiner: add -> concat",
        "encoder block 2 combiner: add -> concat",
    ]
    assert diffs[0] == {
        "cell": "encoder",
        "block": 1,
        "branch": None,
        "gene": "combiner",
        "a": "add",
        "b": "concat",
        "text": "encoder block 1 combiner: add -> concat",
    }


def _hash(name: str) -> str:
    from evotrans.genome import genome_hash, load_genome

    return genome_hash(load_genome(name))


def test_diff_of_two_orders_lists_positions_and_lengths():
    proc = evotrans("show", "sfsf", "--diff", "ssff")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "A  sfsf",
        "B  ssff",
        "position 2: f -> s",
        "position 3: s -> f",
    ]
    proc = evotrans("show", "sandwich:2:1", "--diff", "sfsfsf", "--json")
    data = json.loads(proc.stdout)
    assert data["differences"] == [
        {"position": 2, "a": "s", "b": "f"},
        {"position": 3, "a": "f", "b": "s"},
    ]
    assert data["length"] == {"a": 4, "b": 6} and not data["identical"]
    assert data["lines"][-1] == "length: 4 -> 6 (only B has positions 5-6: sf)"
    proc = evotrans("show", "sfsf", "--diff", "s.f.s.f")
    assert proc.stdout.splitlines()[-1] == "no differences: identical orders"


def test_diff_of_a_genome_and_an_order_is_one_line_exit_2():
    for a, b in (("transformer", "sfsf"), ("sfsf", "evolved_transformer")):
        proc = evotrans("show", a, "--diff", b)
        assert proc.returncode == 2 and proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "compare two genomes or two sublayer orders" in lines[0]
    proc = evotrans("show", "transformer", "--diff", "dec1[nonsense]")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
