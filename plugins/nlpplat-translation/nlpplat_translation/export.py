"""Export a ``transformer`` translation run to CTranslate2 (Klein et al., 2020), through its spec API.

CTranslate2 is an inference engine for Transformer models in C++. The export maps our
pre-LN encoder-decoder onto ``ctranslate2.specs.TransformerSpec`` weight for weight:

- source embeddings: the host's word embedding followed by the encoder's input projection
  is one linear map of a one-hot vector, so it is folded into a single table
  ``E_src W_inᵀ + b_in`` (CTranslate2 must not scale it by sqrt(d));
- positions: our sinusoidal tables are given explicitly (we interleave sine and cosine,
  CTranslate2's own encodings do not);
- blocks: fused ``qkv`` → attention ``linear[0]``, cross-attention ``q`` and fused ``kv`` →
  ``linear[0]`` and ``linear[1]``, ``proj`` → the output linear, LayerNorms as named, the
  GELU feed-forward (``Activation.GELU``, the erf form of ``nn.GELU``);
- target: the tied embedding, scaled by sqrt(d) on the way in as ours is, and the same
  matrix as the output projection.

CTranslate2 is an optional extra (``pip install nlpplat-translation[ctranslate2]``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from nlpplat.errors import NlpplatError
from nlpplat.registry import Registry
from nlpplat.runs import load_run


def _numpy(tensor: torch.Tensor) -> Any:
    return tensor.detach().float().cpu().numpy()


def _linear(spec: Any, module: torch.nn.Linear) -> None:
    spec.weight = _numpy(module.weight)
    if module.bias is not None:
        spec.bias = _numpy(module.bias)


def _norm(spec: Any, module: torch.nn.LayerNorm) -> None:
    spec.gamma, spec.beta = _numpy(module.weight), _numpy(module.bias)


def _self_attention_and_ffn(layer: Any, block: torch.nn.Module, ffn_norm: torch.nn.LayerNorm) -> None:
    """The sublayers encoder and decoder blocks share: self-attention and the feed-forward network."""
    _linear(layer.self_attention.linear[0], block.attn.qkv)
    _linear(layer.self_attention.linear[1], block.attn.proj)
    _norm(layer.self_attention.layer_norm, block.ln_1)
    _norm(layer.ffn.layer_norm, ffn_norm)
    _linear(layer.ffn.linear_0, block.ff.fc)
    _linear(layer.ffn.linear_1, block.ff.proj)


def export_ctranslate2(run_dir: str | Path, output: str | Path, registry: Registry) -> Path:
    """Write a CTranslate2 model directory for the transformer translation run ``run_dir``."""
    try:
        import ctranslate2
        from ctranslate2.specs import common_spec, transformer_spec
    except ImportError:
        raise NlpplatError(
            "CTranslate2 is not installed: pip install 'nlpplat-translation[ctranslate2]' (or ctranslate2)"
        ) from None
    loaded = load_run(run_dir, registry)
    config = loaded.config
    if config.run.task != "translation" or config.run.backbone != "transformer":
        raise NlpplatError(
            f"{run_dir}: only translation runs with the transformer backbone export to CTranslate2 "
            f"(this one is {config.run.task} with {config.run.backbone})"
        )
    embedder, encoder, head = loaded.model.embedder, loaded.model.encoder, loaded.model.head
    plain = not (config.embeddings.lowercase or config.embeddings.zero_digits)  # pieces go in as they are
    if (
        embedder.chars is not None
        or embedder.features
        or not plain
        or config.backbone.position != "sinusoidal"
    ):
        raise NlpplatError(
            f"{run_dir}: CTranslate2 export needs plain word embeddings (embeddings.char_filters=0, "
            "lowercase=false, zero_digits=false: the translation defaults) and sinusoidal positions"
        )
    backbone = config.backbone
    spec = transformer_spec.TransformerSpec.from_config(
        (backbone.layers, len(head.decoder.blocks)),
        backbone.heads,
        pre_norm=True,
        activation=common_spec.Activation.GELU,
    )
    with torch.no_grad():
        source = embedder.words.weight @ encoder.input.weight.T + encoder.input.bias  # (V_src, d)
    spec.encoder.embeddings[0].weight = _numpy(source)
    spec.encoder.scale_embeddings = False
    spec.encoder.position_encodings.encodings = _numpy(encoder.positions.sinusoids)
    _norm(spec.encoder.layer_norm, encoder.ln_f)
    for layer, block in zip(spec.encoder.layer, encoder.blocks, strict=True):
        _self_attention_and_ffn(layer, block, ffn_norm=block.ln_2)
    decoder = head.decoder
    spec.decoder.embeddings.weight = _numpy(head.embedding.weight)
    spec.decoder.scale_embeddings = True  # TargetDecoder.embed multiplies by sqrt(d)
    spec.decoder.position_encodings.encodings = _numpy(decoder.positions.sinusoids)
    _norm(spec.decoder.layer_norm, decoder.ln_f)
    for layer, block in zip(spec.decoder.layer, decoder.blocks, strict=True):
        _self_attention_and_ffn(layer, block, ffn_norm=block.ln_3)
        _linear(layer.attention.linear[0], block.cross.q)
        _linear(layer.attention.linear[1], block.cross.kv)
        _linear(layer.attention.linear[2], block.cross.proj)
        _norm(layer.attention.layer_norm, block.ln_2)
    spec.decoder.projection.weight = _numpy(head.logits_weight())
    spec.config.layer_norm_epsilon = encoder.ln_f.eps
    spec.register_source_vocabulary(list(loaded.vocab.words))
    subwords = loaded.task.subwords
    spec.register_target_vocabulary([subwords.target.id_to_piece(i) for i in range(subwords.target_size)])
    spec.validate()
    spec.optimize(quantization=None)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    spec.save(str(output))
    (output / "nlpplat.json").write_text(
        json.dumps({"run": str(run_dir), "ctranslate2": ctranslate2.__version__}, indent=2) + "\n",
        encoding="utf-8",
    )
    return output
