"""The Transformer backbone for nlpplat: ``transformer``."""

from nlpplat_transformer.transformer import TransformerBackbone, TransformerConfig, TransformerEncoder

__all__ = ["TransformerBackbone", "TransformerConfig", "TransformerEncoder"]
