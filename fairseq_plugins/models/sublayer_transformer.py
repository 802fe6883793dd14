"""``sublayer_transformer``: fairseq's ``transformer`` with any sublayer orders.

Accepts every ``transformer`` option plus ``--encoder-sublayer-order`` (letters
``s``, ``f``) and ``--decoder-sublayer-order`` (``s``, ``c``, ``f``; an order
without ``c`` gets one ``c`` after every ``s``: auto-cross). Without orders it
is exactly fairseq's ``transformer``: ``sf``*encoder-layers, ``scf``*decoder-layers.
"""

from __future__ import annotations

from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import (
    TransformerConfig,
    TransformerModel,
    base_architecture,
    tiny_architecture,
    transformer_vaswani_wmt_en_de_big,
    transformer_wmt_en_de,
)

from fairseq_plugins.modules.stacks import SublayerDecoder, SublayerEncoder
from fairseq_plugins.orders import encoder_order, translation_decoder_order


@register_model("sublayer_transformer")
class SublayerTransformerModel(TransformerModel):
    """An encoder-decoder Transformer whose sublayer orders are strings."""

    @classmethod
    def add_args(cls, parser):
        super().add_args(parser)
        parser.add_argument(
            "--encoder-sublayer-order",
            metavar="ORDER",
            help="encoder sublayer order: letters s and f, or sandwich:N:K, "
            "interleaved:N, random:N:SEED (default: sf * --encoder-layers)",
        )
        parser.add_argument(
            "--decoder-sublayer-order",
            metavar="ORDER",
            help="decoder sublayer order: letters s, c (encoder attention) and f, or a "
            "generator; without any c, one c follows every s (default: scf * --decoder-layers)",
        )

    @classmethod
    def build_model(cls, args, task):
        base_architecture(args)
        args.encoder_sublayer_order = encoder_order(args)
        args.decoder_sublayer_order = translation_decoder_order(args)
        return super().build_model(args, task)

    @classmethod
    def build_encoder(cls, args, src_dict, embed_tokens):
        cfg = TransformerConfig.from_namespace(args)
        return SublayerEncoder(cfg, src_dict, embed_tokens, args.encoder_sublayer_order)

    @classmethod
    def build_decoder(cls, args, tgt_dict, embed_tokens):
        cfg = TransformerConfig.from_namespace(args)
        return SublayerDecoder(
            cfg,
            tgt_dict,
            embed_tokens,
            args.decoder_sublayer_order,
            no_encoder_attn=cfg.no_cross_attention,
        )


def _orders(args) -> None:
    """Validate the order flags while fairseq parses arguments (clean exit 2 on error)."""
    args.encoder_sublayer_order = encoder_order(args)
    args.decoder_sublayer_order = translation_decoder_order(args)


@register_model_architecture("sublayer_transformer", "sublayer_transformer")
def sublayer_transformer(args):
    """fairseq's ``transformer`` defaults (d=512, 6+6 layers, post-norm)."""
    base_architecture(args)
    _orders(args)


@register_model_architecture("sublayer_transformer", "sublayer_transformer_tiny")
def sublayer_transformer_tiny(args):
    """fairseq's ``transformer_tiny`` (d=64, FFN 64, 2 heads, 2+2 layers) for tests/demo."""
    tiny_architecture(args)
    _orders(args)


@register_model_architecture("sublayer_transformer", "sublayer_transformer_base")
def sublayer_transformer_base(args):
    """``transformer_wmt_en_de``: d=512, FFN 2048, 8 heads, 6+6 layers."""
    transformer_wmt_en_de(args)
    _orders(args)


@register_model_architecture("sublayer_transformer", "sublayer_transformer_big")
def sublayer_transformer_big(args):
    """``transformer_vaswani_wmt_en_de_big``: d=1024, FFN 4096, 16 heads, dropout 0.3."""
    transformer_vaswani_wmt_en_de_big(args)
    _orders(args)
