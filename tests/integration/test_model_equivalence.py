"""In-process checks of the plugin models against fairseq's own, tensor by tensor."""

from __future__ import annotations

from pathlib import Path

import pytest

from evotrans.fairseq_args import options
from tests.fairseq_cli import LM_TASK, MT_TASK, build_model

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
fairseq_options = pytest.importorskip("fairseq.options")


def _build(data: Path, argv: list[str], seed: int = 3):
    return build_model(data, argv, seed)


def _same_parameters(a, b) -> None:
    pa, pb = list(a.parameters()), list(b.parameters())
    assert [p.shape for p in pa] == [p.shape for p in pb]
    for x, y in zip(pa, pb, strict=True):
        assert torch.equal(x, y)


LM = [
    *LM_TASK,
    *options(tokens_per_sample=32, decoder_embed_dim=32, decoder_ffn_embed_dim=64),
    *options(decoder_attention_heads=2, dropout=0.2),
]


def test_lm_parameters_and_outputs_are_identical(demo_lm_bin: Path):
    _, native = _build(demo_lm_bin, [*LM, "--arch", "transformer_lm", "--decoder-layers", "2"])
    _, plugin = _build(demo_lm_bin, [*LM, "--arch", "sublayer_lm", "--decoder-layers", "2"])
    _same_parameters(native, plugin)
    tokens = torch.randint(4, 100, (3, 17))
    native.eval(), plugin.eval()
    assert torch.equal(native(tokens)[0], plugin(tokens)[0])
    native.train(), plugin.train()  # same dropout masks from the same RNG stream
    torch.manual_seed(0)
    out_native = native(tokens)[0]
    torch.manual_seed(0)
    assert torch.equal(out_native, plugin(tokens)[0])


def test_sandwich_incremental_decoding_equals_full_forward(demo_lm_bin: Path):
    _, base = _build(demo_lm_bin, [*LM, "--arch", "sublayer_lm", "--decoder-layers", "4"])
    _, model = _build(
        demo_lm_bin, [*LM, "--arch", "sublayer_lm", "--decoder-sublayer-order", "sssfsfff"]
    )
    assert model.decoder.sublayer_order == "sssfsfff"
    count = sum(p.numel() for p in model.parameters())
    assert count == sum(p.numel() for p in base.parameters())  # equal-parameter
    model.eval()
    tokens = torch.randint(4, 100, (2, 9))
    full = model(tokens)[0]
    state: dict = {}
    steps = [model.decoder(tokens[:, : t + 1], incremental_state=state)[0] for t in range(9)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


MT = [*MT_TASK, *options(share_all_embeddings=True, dropout=0.2)]


def test_translation_parameters_and_outputs_are_identical(demo_mt_bin: Path):
    _, native = _build(demo_mt_bin, [*MT, "--arch", "transformer_tiny"])
    _, plugin = _build(demo_mt_bin, [*MT, "--arch", "sublayer_transformer_tiny"])
    assert plugin.encoder.sublayer_order == "sfsf"
    assert plugin.decoder.sublayer_order == "scfscf"
    _same_parameters(native, plugin)
    src = torch.randint(4, 100, (2, 11))
    lengths = torch.tensor([11, 11])
    prev = torch.randint(4, 100, (2, 7))
    native.eval(), plugin.eval()
    out_n, extra_n = native(src, lengths, prev)
    out_p, extra_p = plugin(src, lengths, prev)
    assert torch.equal(out_n, out_p)
    assert torch.equal(extra_n["attn"][0], extra_p["attn"][0])


def test_auto_cross_and_reordered_decoder_decode_incrementally(demo_mt_bin: Path):
    _, model = _build(
        demo_mt_bin,
        [
            *MT,
            *options(arch="sublayer_transformer_tiny", encoder_sublayer_order="ssff"),
            *options(decoder_sublayer_order="ssff"),
        ],
    )
    assert model.encoder.sublayer_order == "ssff"
    assert model.decoder.sublayer_order == "scscff"  # auto-cross: a c after every s
    model.eval()
    src = torch.randint(4, 100, (2, 6))
    enc = model.encoder(src, src_lengths=torch.tensor([6, 6]))
    prev = torch.randint(4, 100, (2, 5))
    full = model.decoder(prev, encoder_out=enc)[0]
    state: dict = {}
    steps = [
        model.decoder(prev[:, : t + 1], encoder_out=enc, incremental_state=state)[0]
        for t in range(5)
    ]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)
