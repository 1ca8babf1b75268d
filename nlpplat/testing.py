"""A conformance kit for plugins: run it under pytest in a plugin's own tests.

    import dataclasses
    from nlpplat.testing import check_backbone, check_dataset, check_plugin, check_task

    def test_backbone_conforms():
        check_backbone(GRUBackbone, dataclasses.replace(GRUBackbone.Config(), hidden=16))

    def test_task_conforms(tmp_path):
        check_task(TaggerTask, sample=SAMPLE_FILE, gold=lambda example: example.labels)

    def test_dataset_conforms():
        check_dataset(DEMO, task_cls=TaggerTask)

Every check raises :class:`AssertionError` saying what is wrong and how to fix it;
``docs/plugins/testing.md`` explains what each one guarantees.

Backbones
---------

Each backbone check is a plain function that builds encoders with ``backbone_cls.build_encoder(config,
input_dim)`` (``config`` defaults to ``backbone_cls.Config()``; pass tiny sizes to keep tests
fast) and raises :class:`AssertionError` saying what is wrong. Checks seed torch's random
number generators inside and restore them afterwards, and on CUDA run in full float32
precision (no TF32), so that tolerances measure the contract and not the arithmetic. Pass
``device="cuda"`` to check the CUDA path. What each guarantees:

:func:`check_config`
    ``name`` is a string, ``description`` a line of text, and ``Config`` a dataclass whose
    fields all have defaults, so ``Config()`` is the backbone's default configuration.
:func:`check_encoder_shapes`
    ``build_encoder`` returns an :class:`~nlpplat.Encoder` with an integer ``output_dim``,
    whose states are ``(B, T, output_dim)``, of the inputs' dtype and device, and finite
    everywhere (padding included: a NaN there poisons gradients), also for one token.
:func:`check_padding_invariance`
    In eval mode, states at real positions are the same (to 1e-5 times the largest state,
    at least 1e-5: float32 rounding grows with the states' scale) whether a batch is
    padded to its longest row or further, whatever the padded input positions hold, and
    whether a row is encoded in a batch or alone. So batching never changes a prediction.
:func:`check_gradient_flow`
    In training mode, a loss over real positions gives every parameter a finite, non-zero
    gradient (nothing is dead or detached), and none reaches the padded input positions.
:func:`check_determinism`
    The same seed builds the same weights and computes the same states (in training mode
    too, dropout included); a different seed builds different weights, so initialisation
    draws from torch's generator, which the host seeds; eval mode is deterministic.
:func:`check_state_dict_round_trip`
    ``state_dict()`` holds only tensors, survives ``torch.save`` and
    ``torch.load(weights_only=True)`` (how checkpoints are read), and loads strictly into a
    differently initialised encoder, which then computes the same states.
:func:`check_backbone`
    All of the above.

Decoders
--------

For a backbone that overrides ``Backbone.build_decoder``, :func:`check_backbone` also runs
these (built with ``build_decoder(config, memory_dim)``, memory from :func:`make_inputs`):

:func:`check_decoder_shapes`
    ``build_decoder`` returns an :class:`~nlpplat.Decoder` with integer ``input_dim`` and
    ``output_dim``; teacher-forced states are ``(B, S, output_dim)`` and finite.
:func:`check_decoder_cache`
    In eval mode, ``start`` then ``step`` position by position gives the teacher-forced
    states (to 1e-5 relative): generation computes what training optimised, and no
    position reads a later one.
:func:`check_decoder_memory_padding`
    States do not depend on padded memory positions (their content or how many there are).
:func:`check_reorder_cache`
    ``reorder_cache(cache, indices)`` with rows duplicated, dropped and permuted — after two
    steps, and also right after ``start`` (how beam search copies a source's cache to its
    hypotheses) — followed by steps gives what a fresh decoder computes on the selected
    rows: the cache follows its hypotheses.
:func:`check_decoder_gradients`
    In training mode every decoder parameter, and the memory, gets a finite non-zero gradient.
:func:`check_decoder`
    All of the above.

Tasks
-----

Task checks take the task class, a small ``sample`` file in the task's own format (a
few sentences of varied length) and ``gold``, a function giving the prediction that
would be perfect for an example (``lambda sentence: sentence.tags``). They build the
task with ``config`` (default ``Config()``) and, where a model is needed, the host's
token embedder with tiny sizes and :class:`LinearBackbone`, so only the task is tested.

:func:`check_task_config`
    Identity attributes are set and typed; ``Config()`` builds the default configuration.
:func:`check_reader`
    ``read`` returns a non-empty list whose examples have (after ``fit``) non-empty lists
    of string tokens; the same file gzipped (every file of ``Task.files``) reads the same;
    a missing file is an :class:`~nlpplat.NlpplatError` (one line for the user), not a
    traceback.
:func:`check_prediction_round_trip`
    ``write_predictions`` of gold predictions writes a file that ``read`` reads back to
    the same tokens and the same gold, so prediction files are in the data's own format.
:func:`check_task_state`
    ``state_dict`` survives JSON, and a task restored from it makes the same targets and a
    head of the same shapes (how ``vocab.json`` restores a trained run).
:func:`check_collate`
    :class:`~nlpplat.model.Collator` batches: words, characters and mask of the right
    shapes and types, the mask marking each example's tokens; every target has one row per
    example, the same row as when the example is alone, and targets of width ``T`` do not
    change when the batch is padded further.
:func:`check_gold_metrics`
    Metrics of gold predictions are JSON-serialisable, contain ``primary_metric``, and it
    is the best possible score (100 for ``higher_is_better`` tasks, else ``best``);
    ``metric_signature()`` is a string.
:func:`check_decode`
    ``decode`` gives one prediction per example, the same for an example alone as in a
    padded batch; ``postprocess`` keeps one per example; ``metrics`` accepts them.
:func:`check_training_step`
    ``loss`` is a finite scalar that does not grow with batch size; under bf16 autocast (as
    ``train.precision=bf16`` runs it) it is float32 and close to the fp32 loss; its gradient
    reaches every head parameter and the encoder; a few optimizer steps lower it.
:func:`check_predict_text`
    ``predict_text`` on a raw sentence returns a non-empty, JSON-serialisable list.
:func:`check_task`
    All of the above (``round_trip=False`` leaves out the prediction round trip, for
    tasks whose prediction files are not inputs, e.g. translations as plain text).

Datasets
--------

:func:`check_dataset_spec`
    A valid :class:`~nlpplat.DatasetSpec`: plain split and file names, a checksum for every
    download, a licence, a one-line description, a way to obtain the data (download,
    generation or ``manual`` instructions), and ``task_defaults`` that the task accepts.
:func:`check_dataset_files`
    With ``mirror``: every split is found in ``mirror/<folder>/`` (as with
    ``NLPPLAT_DATA_DIR``) without a download. A generated dataset: generation writes every
    file and is deterministic. With ``task_cls``: every split reads, with the dataset's
    ``task_defaults``, into at least one example.
:func:`check_dataset`
    Both (files only when there is a mirror or a generator).

Plugins
-------

:func:`check_plugin`
    The plugin module registers cleanly on a fresh host (no unknown hooks, a plugin API
    range that includes this nlpplat, valid results) and exactly the names expected.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from nlpplat.contracts import Backbone, DatasetSpec, Decoder, Encoder, Task

__all__ = [
    "LinearBackbone",
    "check_backbone",
    "check_collate",
    "check_config",
    "check_dataset",
    "check_dataset_files",
    "check_dataset_spec",
    "check_decode",
    "check_determinism",
    "check_encoder_shapes",
    "check_gold_metrics",
    "check_gradient_flow",
    "check_padding_invariance",
    "check_plugin",
    "check_predict_text",
    "check_prediction_round_trip",
    "check_reader",
    "check_state_dict_round_trip",
    "check_task",
    "check_task_config",
    "check_task_state",
    "check_training_step",
    "make_inputs",
]

ATOL = 1e-5
LENGTHS = (7, 3, 1, 5)  # varied and unsorted, with a one-token row: nothing may rely on sorted rows


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's generators (CPU and CUDA) for the block and restore them afterwards."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


def _full_precision(check: Callable[..., None]) -> Callable[..., None]:
    """Run ``check`` with TF32 off in cuDNN and CUDA matmuls (its 10-bit mantissa is ~1e-3)."""

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        try:
            check(*args, **kwargs)
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved

    return wrapper


def _build(
    backbone_cls: type[Backbone], config: Any, input_dim: int, device: torch.device | str, seed: int = 0
) -> Encoder:
    config = backbone_cls.Config() if config is None else config
    with _seeded(seed):  # built on the CPU, so a seed gives the same weights on every device
        encoder = backbone_cls.build_encoder(config, input_dim)
    assert isinstance(encoder, Encoder), (
        f"{backbone_cls.__name__}.build_encoder returned {type(encoder).__name__}, not an nlpplat.Encoder"
    )
    return encoder.to(device)


def make_inputs(
    lengths: Sequence[int],
    input_dim: int,
    total_length: int | None = None,
    seed: int = 0,
    garbage: int | None = None,
    device: torch.device | str = "cpu",
) -> tuple[Tensor, Tensor]:
    """A right-padded batch: ``inputs (B, T, input_dim)`` float and ``mask (B, T)`` bool.

    Real positions hold standard normal vectors determined by ``seed`` (and not by
    ``total_length``, so the same rows can be padded differently). Padding positions hold
    zeros, or, with ``garbage`` set, large random values drawn with that seed.
    """
    T = max(lengths) if total_length is None else total_length
    assert max(lengths) <= T, f"total_length={T} is shorter than the longest row ({max(lengths)})"
    generator = torch.Generator().manual_seed(seed)
    real = torch.randn(len(lengths), max(lengths), input_dim, generator=generator)
    inputs = torch.zeros(len(lengths), T, input_dim)
    inputs[:, : max(lengths)] = real
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]  # (B, T)
    if garbage is None:
        inputs[~mask] = 0.0
    else:
        noise = 10 * torch.randn(inputs.shape, generator=torch.Generator().manual_seed(garbage))
        inputs[~mask] = noise[~mask]
    return inputs.to(device), mask.to(device)


def _name(backbone_cls: type[Backbone]) -> str:
    return f"backbone {getattr(backbone_cls, 'name', '?')!r} ({backbone_cls.__name__})"


def _max_difference(a: Tensor, b: Tensor) -> float:
    return (a - b).abs().max().item() if a.numel() else 0.0


def check_config(backbone_cls: type[Backbone]) -> None:
    """Identity and configuration: see the module docstring."""
    who = backbone_cls.__name__
    assert isinstance(backbone_cls, type) and issubclass(backbone_cls, Backbone), f"{who} is not a Backbone"
    assert isinstance(getattr(backbone_cls, "name", None), str) and backbone_cls.name, (
        f"{who}.name is not set"
    )
    description = getattr(backbone_cls, "description", "")
    assert isinstance(description, str) and description and "\n" not in description, (
        f"{who}.description should be one line of text, got {description!r}"
    )
    config_cls = _check_config_class(backbone_cls, who)
    config_cls()


@_full_precision
def check_encoder_shapes(
    backbone_cls: type[Backbone], config: Any = None, input_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    """Output type, shape, dtype, device and finiteness: see the module docstring."""
    encoder = _build(backbone_cls, config, input_dim, device).eval()
    D = encoder.output_dim
    assert isinstance(D, int) and D > 0, f"{_name(backbone_cls)}: output_dim is {D!r}, not a positive int"
    for lengths in (LENGTHS, (1,)):
        inputs, mask = make_inputs(lengths, input_dim, device=device)
        with torch.no_grad():
            states = encoder(inputs, mask)
        B, T = mask.shape
        assert isinstance(states, Tensor), f"{_name(backbone_cls)}: forward returned {type(states).__name__}"
        assert tuple(states.shape) == (B, T, D), (
            f"{_name(backbone_cls)}: states have shape {tuple(states.shape)} for lengths {list(lengths)}, "
            f"expected (B, T, output_dim) = {(B, T, D)}"
        )
        assert states.dtype == inputs.dtype, (
            f"{_name(backbone_cls)}: states are {states.dtype}, inputs {inputs.dtype}"
        )
        assert states.device == inputs.device, (
            f"{_name(backbone_cls)}: states are on {states.device}, inputs on {inputs.device}"
        )
        assert torch.isfinite(states[mask]).all(), (
            f"{_name(backbone_cls)}: non-finite states at real positions"
        )
        assert torch.isfinite(states).all(), (
            f"{_name(backbone_cls)}: non-finite states at padding positions; they are ignored, but a NaN "
            "there turns into NaN gradients (0 * NaN = NaN) wherever states are masked by multiplication"
        )


@_full_precision
def check_padding_invariance(
    backbone_cls: type[Backbone], config: Any = None, input_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    """States at real positions ignore padding and the other rows: see the module docstring."""
    encoder = _build(backbone_cls, config, input_dim, device).eval()  # eval: no dropout
    lengths = LENGTHS
    with torch.no_grad():
        inputs, mask = make_inputs(lengths, input_dim, device=device)
        reference = encoder(inputs, mask)  # (B, max(lengths), D)
        # Different batch shapes may take different kernels, which round differently: allow
        # for that in proportion to the states' scale, far below what a padding leak causes.
        tolerance = ATOL * max(1.0, reference[mask].abs().max().item())
        for extra, garbage in ((0, 1), (5, None), (5, 2), (17, 3)):
            padded, padded_mask = make_inputs(
                lengths, input_dim, max(lengths) + extra, garbage=garbage, device=device
            )
            states = encoder(padded, padded_mask)
            difference = _max_difference(states[padded_mask], reference[mask])
            what = "random values" if garbage is not None else "zeros"
            assert difference <= tolerance, (
                f"{_name(backbone_cls)}: states at real positions change by {difference:.2e} when rows of lengths "
                f"{list(lengths)} are padded to {max(lengths) + extra} with {what}; they must not depend on padding "
                "(pack the sequences, mask attention keys, count positions from the start of each row)"
            )
        for row, length in enumerate(lengths):
            alone = encoder(inputs[row : row + 1, :length], mask[row : row + 1, :length])[0]
            difference = _max_difference(alone, reference[row, :length])
            assert difference <= tolerance, (
                f"{_name(backbone_cls)}: row {row} (length {length}) encoded alone differs by {difference:.2e} from "
                "the same row in a batch; rows must not influence each other"
            )


@_full_precision
def check_gradient_flow(
    backbone_cls: type[Backbone], config: Any = None, input_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    """Every parameter learns, padding does not: see the module docstring."""
    encoder = _build(backbone_cls, config, input_dim, device).train()
    inputs, mask = make_inputs(LENGTHS, input_dim, garbage=1, device=device)
    inputs.requires_grad_(True)
    with _seeded(0):
        states = encoder(inputs, mask)
        # A random projection rather than a plain sum: the sum of a LayerNorm's output over its
        # features is constant, so a final LayerNorm would hide every gradient below it.
        weights = torch.randn(states.shape, device=states.device, dtype=states.dtype)
    loss = (states * weights)[mask].sum()
    loss.backward()
    dead, broken = [], []
    for name, parameter in encoder.named_parameters():
        if not parameter.requires_grad:
            continue
        if parameter.grad is None or not parameter.grad.any():
            dead.append(name)
        elif not torch.isfinite(parameter.grad).all():
            broken.append(name)
    assert not broken, f"{_name(backbone_cls)}: non-finite gradients for {', '.join(broken)}"
    assert not dead, (
        f"{_name(backbone_cls)}: no gradient from a loss over real positions reaches {', '.join(dead)} "
        "(unused, detached, or zero-initialised in a way that blocks learning)"
    )
    assert inputs.grad is not None, f"{_name(backbone_cls)}: no gradient reaches the inputs"
    leak = inputs.grad[~mask].abs().max().item()
    assert leak == 0.0, (
        f"{_name(backbone_cls)}: a loss over real positions has gradient up to {leak:.2e} at padded input "
        "positions, so real states depend on padding"
    )


@_full_precision
def check_determinism(
    backbone_cls: type[Backbone], config: Any = None, input_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    """Seeds decide weights and dropout: see the module docstring."""
    first = _build(backbone_cls, config, input_dim, device, seed=0)
    second = _build(backbone_cls, config, input_dim, device, seed=0)
    other = _build(backbone_cls, config, input_dim, device, seed=1)
    a, b, c = first.state_dict(), second.state_dict(), other.state_dict()
    assert a.keys() == b.keys(), f"{_name(backbone_cls)}: two builds have different state_dict keys"
    unequal = [key for key in a if not torch.equal(a[key], b[key])]
    assert not unequal, (
        f"{_name(backbone_cls)}: the same seed gives different initial values for {', '.join(unequal)}"
    )
    assert any(not torch.equal(a[key], c[key]) for key in a if a[key].is_floating_point()), (
        f"{_name(backbone_cls)}: seeds 0 and 1 give identical weights; initialise from torch's generator"
    )
    inputs, mask = make_inputs(LENGTHS, input_dim, device=device)
    with torch.no_grad():
        for mode in ("train", "eval"):
            first.train(mode == "train")
            second.train(mode == "train")
            with _seeded(7):
                one = first(inputs, mask)[mask]
            with _seeded(7):
                two = second(inputs, mask)[mask]
            difference = _max_difference(one, two)
            assert difference <= 1e-6, (
                f"{_name(backbone_cls)}: two encoders built and run with the same seeds differ by {difference:.2e} "
                f"in {mode} mode"
            )
        again = first(inputs, mask)[mask]  # eval mode, a different generator state
        assert _max_difference(again, one) <= 1e-6, f"{_name(backbone_cls)}: eval mode is not deterministic"


@_full_precision
def check_state_dict_round_trip(
    backbone_cls: type[Backbone], config: Any = None, input_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    """Checkpoints save and restore the encoder: see the module docstring."""
    source = _build(backbone_cls, config, input_dim, device, seed=0).eval()
    target = _build(backbone_cls, config, input_dim, device, seed=1).eval()
    state = source.state_dict()
    not_tensors = [key for key, value in state.items() if not isinstance(value, Tensor)]
    assert not not_tensors, (
        f"{_name(backbone_cls)}: state_dict entries that are not tensors: {', '.join(not_tensors)}"
    )
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True, map_location=device)
    result = target.load_state_dict(loaded)  # strict: raises on missing or unexpected keys
    assert not result.missing_keys and not result.unexpected_keys, f"{_name(backbone_cls)}: {result}"
    inputs, mask = make_inputs(LENGTHS, input_dim, device=device)
    with torch.no_grad():
        difference = _max_difference(source(inputs, mask)[mask], target(inputs, mask)[mask])
    assert difference <= 1e-6, (
        f"{_name(backbone_cls)}: after loading another encoder's state_dict, states differ by {difference:.2e}; "
        "something that affects the output is neither a parameter nor a persistent buffer"
    )


def check_backbone(
    backbone_cls: type[Backbone], config: Any = None, input_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    """Run every check of this module on ``backbone_cls`` built with ``config``."""
    check_config(backbone_cls)
    for check in (
        check_encoder_shapes,
        check_padding_invariance,
        check_gradient_flow,
        check_determinism,
        check_state_dict_round_trip,
    ):
        check(backbone_cls, config, input_dim, device)
    if backbone_cls.has_decoder():
        check_decoder(backbone_cls, config, input_dim, device)


# -- decoders ---------------------------------------------------------------------------------
TARGET_LENGTH = 6


def _build_decoder(
    backbone_cls: type[Backbone], config: Any, memory_dim: int, device: torch.device | str, seed: int = 0
) -> Decoder:
    config = backbone_cls.Config() if config is None else config
    with _seeded(seed):
        decoder = backbone_cls.build_decoder(config, memory_dim)
    assert isinstance(decoder, Decoder), (
        f"{backbone_cls.__name__}.build_decoder returned {type(decoder).__name__}, not an nlpplat.Decoder"
    )
    return decoder.to(device)


def _decoder_inputs(decoder: Decoder, rows: int, seed: int, device: torch.device | str) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(rows, TARGET_LENGTH, decoder.input_dim, generator=generator).to(device)


def _stepwise(decoder: Decoder, inputs: Tensor, memory: Tensor, mask: Tensor) -> Tensor:
    cache = decoder.start(memory, mask)
    states = []
    for position in range(inputs.size(1)):
        state, cache = decoder.step(inputs[:, position], memory, mask, cache)
        states.append(state)
    return torch.stack(states, dim=1)


def _tolerance(reference: Tensor) -> float:
    return max(ATOL, ATOL * reference.abs().max().item())


@_full_precision
def check_decoder_shapes(
    backbone_cls: type[Backbone], config: Any = None, memory_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    decoder = _build_decoder(backbone_cls, config, memory_dim, device).eval()
    for name in ("input_dim", "output_dim"):
        assert isinstance(getattr(decoder, name, None), int), (
            f"{_name(backbone_cls)}: decoder.{name} is not an int"
        )
    memory, mask = make_inputs(LENGTHS, memory_dim, device=device)
    with torch.no_grad():
        states = decoder(_decoder_inputs(decoder, len(LENGTHS), 1, device), memory, mask)
    expected = (len(LENGTHS), TARGET_LENGTH, decoder.output_dim)
    assert tuple(states.shape) == expected, (
        f"{_name(backbone_cls)}: decoder states {tuple(states.shape)}, expected {expected}"
    )
    assert torch.isfinite(states).all(), f"{_name(backbone_cls)}: decoder states are not finite"


@_full_precision
def check_decoder_cache(
    backbone_cls: type[Backbone], config: Any = None, memory_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    decoder = _build_decoder(backbone_cls, config, memory_dim, device).eval()
    memory, mask = make_inputs(LENGTHS, memory_dim, device=device)
    inputs = _decoder_inputs(decoder, len(LENGTHS), 1, device)
    with torch.no_grad():
        forced = decoder(inputs, memory, mask)
        stepped = _stepwise(decoder, inputs, memory, mask)
    difference = _max_difference(forced, stepped)
    assert difference <= _tolerance(forced), (
        f"{_name(backbone_cls)}: step-by-step generation with the cache differs from the teacher-forced "
        f"forward pass by {difference:.2e}; step must compute what forward computes, one position at a time"
    )


@_full_precision
def check_decoder_memory_padding(
    backbone_cls: type[Backbone], config: Any = None, memory_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    decoder = _build_decoder(backbone_cls, config, memory_dim, device).eval()
    inputs = _decoder_inputs(decoder, len(LENGTHS), 1, device)
    memory, mask = make_inputs(LENGTHS, memory_dim, device=device)
    padded, padded_mask = make_inputs(
        LENGTHS, memory_dim, total_length=max(LENGTHS) + 4, garbage=3, device=device
    )
    with torch.no_grad():
        reference = decoder(inputs, memory, mask)
        other = decoder(inputs, padded, padded_mask)
    difference = _max_difference(reference, other)
    assert difference <= _tolerance(reference), (
        f"{_name(backbone_cls)}: decoder states change by {difference:.2e} when the memory has more padding "
        "or other values at padded positions; attend only to real memory positions (memory_mask)"
    )


@_full_precision
def check_reorder_cache(
    backbone_cls: type[Backbone], config: Any = None, memory_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    decoder = _build_decoder(backbone_cls, config, memory_dim, device).eval()
    memory, mask = make_inputs(LENGTHS, memory_dim, device=device)
    B = len(LENGTHS)
    # 1. Rows permuted, duplicated and dropped after two steps.
    # 2. As beam search does it: the cache of start() copied to two rows per source, two
    #    steps with different inputs per row, then the rows of each source swapped and the
    #    last source dropped.
    expand = torch.arange(B, device=device).repeat_interleave(2)
    swap = torch.tensor([1, 0, 3, 2, 5, 4], device=device)
    cases = [(torch.arange(B, device=device), torch.tensor([2, 0, 0, 3], device=device)), (expand, swap)]
    for rows, indices in cases:
        inputs = torch.randn(len(rows), 3, decoder.input_dim, generator=torch.Generator().manual_seed(2)).to(
            device
        )
        with torch.no_grad():
            cache = decoder.reorder_cache(decoder.start(memory, mask), rows)
            for position in range(2):
                _, cache = decoder.step(inputs[:, position], memory[rows], mask[rows], cache)
            cache = decoder.reorder_cache(cache, indices)
            selected = rows[indices]
            state, _ = decoder.step(inputs[indices, 2], memory[selected], mask[selected], cache)
            fresh = _stepwise(decoder, inputs[indices], memory[selected], mask[selected])[:, 2]
        difference = _max_difference(state, fresh)
        assert difference <= _tolerance(fresh), (
            f"{_name(backbone_cls)}: after reorder_cache(cache, {indices.tolist()}) the next step differs by "
            f"{difference:.2e} from decoding those rows afresh; reorder every batch-indexed tensor of the cache"
        )


@_full_precision
def check_decoder_gradients(
    backbone_cls: type[Backbone], config: Any = None, memory_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    decoder = _build_decoder(backbone_cls, config, memory_dim, device).train()
    memory, mask = make_inputs(LENGTHS, memory_dim, device=device)
    memory.requires_grad_(True)
    with _seeded(1):
        states = decoder(_decoder_inputs(decoder, len(LENGTHS), 1, device), memory, mask)
    (states**2).sum().backward()
    for name, parameter in decoder.named_parameters():
        gradient = parameter.grad
        assert gradient is not None and torch.isfinite(gradient).all() and gradient.abs().sum() > 0, (
            f"{_name(backbone_cls)}: decoder parameter {name} gets no (or a non-finite) gradient"
        )
    assert memory.grad is not None and memory.grad[mask].abs().sum() > 0, (
        f"{_name(backbone_cls)}: no gradient reaches the memory; the decoder must read the encoder states"
    )


def check_decoder(
    backbone_cls: type[Backbone], config: Any = None, memory_dim: int = 24, device: torch.device | str = "cpu"
) -> None:
    """Run every decoder check on ``backbone_cls`` built with ``config``."""
    for check in (
        check_decoder_shapes,
        check_decoder_cache,
        check_decoder_memory_padding,
        check_reorder_cache,
        check_decoder_gradients,
    ):
        check(backbone_cls, config, memory_dim, device)


# -- tasks ------------------------------------------------------------------------------------
@dataclasses.dataclass
class LinearConfig:
    width: int = 16  # output width


class LinearEncoder(Encoder):
    """Each token on its own: ``tanh(W x + b)``; padding-invariant by construction."""

    def __init__(self, config: LinearConfig, input_dim: int):
        super().__init__()
        self.linear = nn.Linear(input_dim, config.width)
        self.output_dim = config.width

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        return torch.tanh(self.linear(inputs))  # (B, T, width)


class LinearBackbone(Backbone):
    """The smallest backbone there is, for testing tasks without a real architecture."""

    name = "kit-linear"
    Config = LinearConfig
    description = "one linear layer per token (nlpplat.testing)"

    @classmethod
    def build_encoder(cls, config: LinearConfig, input_dim: int) -> Encoder:
        return LinearEncoder(config, input_dim)

    @classmethod
    def build_decoder(cls, config: LinearConfig, memory_dim: int) -> Decoder:
        return LinearDecoder(config, memory_dim)


class LinearDecoder(Decoder):
    """Each target position on its own plus the mean of the memory: ``tanh(W x_s + U m̄)``.

    Trivially causal and cache-free (the cache holds only ``m̄``), for testing generating
    tasks without a real architecture.
    """

    def __init__(self, config: LinearConfig, memory_dim: int):
        super().__init__()
        self.input_dim = self.output_dim = config.width
        self.linear = nn.Linear(config.width, config.width)
        self.context = nn.Linear(memory_dim, config.width, bias=False)

    def start(self, memory: Tensor, memory_mask: Tensor) -> dict[str, Any]:
        weights = memory_mask.float() / memory_mask.sum(dim=1, keepdim=True).clamp(min=1)  # (B, T)
        return {"context": self.context(torch.bmm(weights.unsqueeze(1), memory).squeeze(1))}  # (B, width)

    def step(
        self, inputs: Tensor, memory: Tensor, memory_mask: Tensor, cache: dict[str, Any]
    ) -> tuple[Tensor, dict[str, Any]]:
        return torch.tanh(self.linear(inputs) + cache["context"]), cache

    def forward(self, inputs: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        context = self.start(memory, memory_mask)["context"]
        return torch.tanh(self.linear(inputs) + context.unsqueeze(1))

    def reorder_cache(self, cache: dict[str, Any], indices: Tensor) -> dict[str, Any]:
        return {"context": cache["context"].index_select(0, indices)}


def _build_head(task: Task, input_dim: int) -> nn.Module:
    """The task's head for ``input_dim``-wide states, around the kit's decoder if it generates."""
    if task.requires_decoder:
        return task.build_head(input_dim, LinearBackbone.build_decoder(LinearConfig(), input_dim))
    return task.build_head(input_dim)


def _tiny_embeddings() -> Any:
    from nlpplat.embeddings import EmbeddingConfig

    # No dropout of any kind, so that train and eval mode compute the same losses.
    return EmbeddingConfig(word_dim=12, char_dim=6, char_filters=6, word_dropout=0.0, dropout=0.0)


def _task_name(task_cls: type[Task]) -> str:
    return f"task {getattr(task_cls, 'name', '?')!r} ({task_cls.__name__})"


def _make_task(task_cls: type[Task], config: Any, language: str = "en") -> Task:
    return task_cls(task_cls.Config() if config is None else config, language=language)


def _read(task: Task, sample: str | os.PathLike[str], limit: int | None = None) -> list[Any]:
    examples = task.read(Path(sample))
    assert isinstance(examples, list) and examples, (
        f"{_task_name(type(task))}: read({sample}) returned {type(examples).__name__} "
        f"{'(empty)' if not examples else ''}; expected a non-empty list of examples"
    )
    return examples if limit is None else examples[:limit]


class _Setup:
    """A task fitted on the sample, with vocabularies, a tiny model and a collator."""

    def __init__(self, task_cls: type[Task], sample: Any, config: Any, language: str = "en", limit: int = 8):
        from nlpplat.embeddings import TokenVocab
        from nlpplat.model import Collator, build_model

        self.task = _make_task(task_cls, config, language)
        self.examples = _read(self.task, sample, limit)
        self.task.fit(self.examples)
        embeddings = _tiny_embeddings()
        self.vocab = TokenVocab(embeddings).fit(self.task.tokens(example) for example in self.examples)
        with _seeded(0):
            self.model = build_model(self.task, LinearBackbone, LinearConfig(), self.vocab, embeddings)
        self.collate = Collator(self.task, self.vocab)

    def loss(self, examples: Sequence[Any]) -> Tensor:
        batch = self.collate(examples)
        return self.task.loss(self.model.head, self.model(batch), batch)

    def decode(self, examples: Sequence[Any]) -> list[Any]:
        batch = self.collate(examples)
        with torch.no_grad():
            return self.task.decode(self.model.head, self.model(batch), batch)


def check_task_config(task_cls: type[Task]) -> None:
    """Identity attributes and configuration: see the module docstring."""
    who = task_cls.__name__
    assert isinstance(task_cls, type) and issubclass(task_cls, Task), f"{who} is not an nlpplat.Task"
    assert isinstance(getattr(task_cls, "name", None), str) and task_cls.name, f"{who}.name is not set"
    description = getattr(task_cls, "description", "")
    assert isinstance(description, str) and description and "\n" not in description, (
        f"{who}.description should be one line of text, got {description!r}"
    )
    assert isinstance(getattr(task_cls, "primary_metric", None), str) and task_cls.primary_metric, (
        f"{who}.primary_metric is not set (the metric used for early stopping and ranking)"
    )
    assert isinstance(task_cls.higher_is_better, bool), f"{who}.higher_is_better is not a bool"
    assert isinstance(task_cls.requires_decoder, bool), f"{who}.requires_decoder is not a bool"
    suffix = task_cls.prediction_suffix
    assert isinstance(suffix, str) and suffix.startswith(".") and "/" not in suffix, (
        f"{who}.prediction_suffix should be a file extension such as '.conll', got {suffix!r}"
    )
    defaults = task_cls.default_datasets
    assert isinstance(defaults, tuple) and all(isinstance(name, str) for name in defaults), (
        f"{who}.default_datasets should be a tuple of dataset names, got {defaults!r}"
    )
    config_cls = _check_config_class(task_cls, who)
    task_cls(config_cls(), language="en")


def check_reader(task_cls: type[Task], sample: str | os.PathLike[str], config: Any = None) -> None:
    """Examples, gzip and missing files: see the module docstring."""
    from nlpplat.errors import NlpplatError

    task = _make_task(task_cls, config)
    examples = _read(task, sample)
    task.fit(examples)  # tokens may depend on what fit learns (subword vocabularies)
    for index, example in enumerate(examples):
        tokens = task.tokens(example)
        assert isinstance(tokens, list) and tokens and all(isinstance(t, str) and t for t in tokens), (
            f"{_task_name(task_cls)}: example {index} of {sample} has tokens {tokens!r}; "
            "expected a non-empty list of non-empty strings"
        )
    with tempfile.TemporaryDirectory() as folder:
        # One file, several named by a prefix (PREFIX.en + PREFIX.de), or a file with
        # companions beside it (dev.dialogues.txt + dev.act.txt).
        files = task.files(Path(sample))
        for file in files:
            with open(file, "rb") as source, gzip.open(Path(folder) / (file.name + ".gz"), "wb") as target:
                shutil.copyfileobj(source, target)
        is_file = Path(sample) in files
        packed = Path(folder) / (Path(sample).name + (".gz" if is_file else ""))
        try:
            again = task.read(packed)
        except Exception as error:
            raise AssertionError(
                f"{_task_name(task_cls)}: {packed.name} cannot be read ({type(error).__name__}: {error}); "
                "open files with nlpplat.io.open_text (or numbered_lines), which decompress .gz"
            ) from error
        assert [task.tokens(e) for e in again] == [task.tokens(e) for e in examples], (
            f"{_task_name(task_cls)}: {packed.name} reads differently from {Path(sample).name}; "
            "open files with nlpplat.io.open_text (or numbered_lines), which decompress .gz"
        )
        missing = Path(folder) / "missing" / Path(sample).name
        try:
            task.read(missing)
        except NlpplatError:
            pass
        except Exception as error:
            raise AssertionError(
                f"{_task_name(task_cls)}: reading a missing file raised {type(error).__name__}, not an "
                "NlpplatError; open files with nlpplat.io.open_text, which raises DataError"
            ) from error
        else:
            raise AssertionError(f"{_task_name(task_cls)}: reading a missing file raised nothing")


def check_prediction_round_trip(
    task_cls: type[Task], sample: str | os.PathLike[str], gold: Callable[[Any], Any], config: Any = None
) -> None:
    """Reader → writer → reader: see the module docstring."""
    task = _make_task(task_cls, config)
    examples = _read(task, sample)
    task.fit(examples)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"predictions{task_cls.prediction_suffix}"
        task.write_predictions(examples, [gold(example) for example in examples], path)
        again = task.read(path)
    assert len(again) == len(examples), (
        f"{_task_name(task_cls)}: wrote {len(examples)} examples' predictions, read back {len(again)}"
    )
    for index, (first, second) in enumerate(zip(examples, again, strict=True)):
        assert task.tokens(first) == task.tokens(second), (
            f"{_task_name(task_cls)}: example {index}: tokens {task.tokens(first)!r} were written and read back "
            f"as {task.tokens(second)!r}"
        )
        assert gold(first) == gold(second), (
            f"{_task_name(task_cls)}: example {index}: gold predictions {gold(first)!r} were written and read "
            f"back as {gold(second)!r}; write_predictions should write the format read() reads"
        )


def check_task_state(task_cls: type[Task], sample: str | os.PathLike[str], config: Any = None) -> None:
    """Task state survives JSON: see the module docstring."""
    task = _make_task(task_cls, config)
    examples = _read(task, sample, limit=8)
    task.fit(examples)
    state = task.state_dict()
    try:
        text = json.dumps(state)
    except TypeError as error:
        raise AssertionError(
            f"{_task_name(task_cls)}: state_dict() is not JSON-serialisable: {error}"
        ) from None
    restored = _make_task(task_cls, config)
    restored.load_state_dict(json.loads(text))
    T = max(len(task.tokens(example)) for example in examples)
    expected, actual = task.targets(examples, T), restored.targets(examples, T)
    assert expected.keys() == actual.keys() and all(torch.equal(expected[k], actual[k]) for k in expected), (
        f"{_task_name(task_cls)}: a task restored from state_dict() makes different targets"
    )
    with _seeded(0):
        shapes = {k: tuple(v.shape) for k, v in _build_head(task, 8).state_dict().items()}
    with _seeded(0):
        again = {k: tuple(v.shape) for k, v in _build_head(restored, 8).state_dict().items()}
    assert shapes == again, (
        f"{_task_name(task_cls)}: a task restored from state_dict() builds a different head: {shapes} != {again}"
    )


def check_collate(task_cls: type[Task], sample: str | os.PathLike[str], config: Any = None) -> None:
    """Batches from the host's collator: see the module docstring."""
    setup = _Setup(task_cls, sample, config)
    task, examples = setup.task, setup.examples
    batch = setup.collate(examples)
    lengths = [len(task.tokens(example)) for example in examples]
    B, T = len(examples), max(lengths)
    who = _task_name(task_cls)
    assert batch.words.dtype == torch.long and tuple(batch.words.shape) == (B, T), (
        f"{who}: words are {batch.words.dtype} {tuple(batch.words.shape)}, expected long (B, T) = {(B, T)}"
    )
    assert batch.chars.dtype == torch.long and tuple(batch.chars.shape[:2]) == (B, T), (
        f"{who}: chars are {batch.chars.dtype} {tuple(batch.chars.shape)}, expected long (B, T, C)"
    )
    assert batch.mask.dtype == torch.bool and batch.mask.sum(1).tolist() == lengths, (
        f"{who}: the mask does not mark each example's {lengths} tokens"
    )
    assert list(batch.examples) == examples, f"{who}: batch.examples are not the examples, in order"
    targets = batch.targets
    assert isinstance(targets, dict) and all(isinstance(value, Tensor) for value in targets.values()), (
        f"{who}: targets() must return a dict of tensors, got {targets!r}"
    )
    longer = task.targets(examples, T + 5)
    for key, value in targets.items():
        assert value.shape[0] == B, f"{who}: target {key!r} has {value.shape[0]} rows for {B} examples"
        alone = task.targets(examples[-1:], T)[key]
        if alone.shape[1:] == value.shape[1:]:
            assert torch.equal(alone[0], value[-1]), (
                f"{who}: target {key!r} of an example differs when it is batched with others"
            )
        if value.dim() >= 2 and value.shape[1] == T:
            assert key in longer and longer[key].shape[1] == T + 5, (
                f"{who}: target {key!r} is (B, T) but targets(examples, T + 5) does not make it (B, T + 5)"
            )
            assert torch.equal(longer[key][:, :T], value), (
                f"{who}: target {key!r} changes at real positions when the batch is padded further"
            )


def check_gold_metrics(
    task_cls: type[Task],
    sample: str | os.PathLike[str],
    gold: Callable[[Any], Any],
    config: Any = None,
    best: float | None = None,
) -> None:
    """Gold predictions score the best: see the module docstring."""
    task = _make_task(task_cls, config)
    examples = _read(task, sample)
    task.fit(examples)
    metrics = task.metrics([gold(example) for example in examples], examples)
    who = _task_name(task_cls)
    assert isinstance(metrics, dict), f"{who}: metrics() returned {type(metrics).__name__}, not a dict"
    try:
        json.dumps(metrics)
    except TypeError as error:
        raise AssertionError(
            f"{who}: metrics are not JSON-serialisable ({error}); results.json needs them"
        ) from None
    primary = task.primary_metric
    assert primary in metrics, f"{who}: metrics have no {primary!r} (primary_metric); keys: {sorted(metrics)}"
    value = metrics[primary]
    assert isinstance(value, (int, float)) and not isinstance(value, bool), (
        f"{who}: metrics[{primary!r}] is {value!r}, not a number"
    )
    expected = best if best is not None else (100.0 if task_cls.higher_is_better else 0.0)
    assert abs(value - expected) <= 1e-6, (
        f"{who}: gold predictions score {primary} = {value}, expected the best possible, {expected} "
        "(scores are in points, 0-100; pass best= for a metric whose best is another value)"
    )
    assert isinstance(task.metric_signature(), str), f"{who}: metric_signature() is not a string"


def check_decode(task_cls: type[Task], sample: str | os.PathLike[str], config: Any = None) -> None:
    """Predictions do not depend on batching: see the module docstring."""
    setup = _Setup(task_cls, sample, config)
    setup.model.eval()
    predictions = setup.decode(setup.examples)
    who = _task_name(task_cls)
    assert isinstance(predictions, list) and len(predictions) == len(setup.examples), (
        f"{who}: decode returned {len(predictions)} predictions for {len(setup.examples)} examples"
    )
    for index, example in enumerate(setup.examples):
        [alone] = setup.decode([example])
        assert alone == predictions[index], (
            f"{who}: example {index} decodes to {alone!r} alone but {predictions[index]!r} in a padded batch; "
            "decoding must ignore padding (use batch.mask or each example's length)"
        )
    final = setup.task.postprocess(list(predictions), setup.examples)
    assert isinstance(final, list) and len(final) == len(setup.examples), (
        f"{who}: postprocess returned {len(final)} predictions for {len(setup.examples)} examples"
    )
    metrics = setup.task.metrics(final, setup.examples)
    assert setup.task.primary_metric in metrics, (
        f"{who}: metrics of decoded predictions lack the primary metric"
    )


def check_training_step(task_cls: type[Task], sample: str | os.PathLike[str], config: Any = None) -> None:
    """A trainable loss: see the module docstring."""
    setup = _Setup(task_cls, sample, config)
    model, examples, who = setup.model, setup.examples, _task_name(task_cls)
    model.eval()  # no dropout: the two losses below must be comparable
    with torch.no_grad():
        once, twice = setup.loss(examples).item(), setup.loss(list(examples) * 2).item()
    assert abs(once - twice) <= 1e-4 * max(1.0, abs(once)), (
        f"{who}: the loss is {once:.6f} on a batch and {twice:.6f} on the same batch twice; "
        "average it (e.g. over real tokens) so that it does not grow with batch size"
    )
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = setup.loss(examples)
    assert low.dtype == torch.float32 and abs(low.item() - once) <= 0.02 * max(1.0, abs(once)), (
        f"{who}: under bf16 autocast the loss is {low.item():.4f} ({low.dtype}) against {once:.4f} in "
        "fp32; compute it from .float() scores (Task.loss)"
    )
    model.train()
    with _seeded(0):
        loss = setup.loss(examples)
    assert isinstance(loss, Tensor) and loss.dim() == 0 and loss.is_floating_point(), (
        f"{who}: loss() returned {loss!r}; expected a scalar float tensor"
    )
    assert torch.isfinite(loss), f"{who}: the loss is {loss.item()}"
    assert loss.requires_grad, f"{who}: the loss does not depend on the model (computed under no_grad?)"
    loss.backward()
    dead = [
        name
        for name, parameter in model.head.named_parameters()
        if parameter.requires_grad and (parameter.grad is None or not parameter.grad.any())
    ]
    assert not dead, f"{who}: no gradient reaches head parameters {', '.join(dead)}"
    encoder_grad = model.encoder.linear.weight.grad
    assert encoder_grad is not None and encoder_grad.any(), (
        f"{who}: no gradient reaches the encoder; the loss must read the states it is given"
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    first = loss.item()
    with _seeded(1):
        for _ in range(10):
            optimizer.zero_grad()
            loss = setup.loss(examples)
            loss.backward()
            optimizer.step()
    assert loss.item() < first, (
        f"{who}: 10 Adam steps on one batch did not lower the loss ({first:.4f} -> {loss.item():.4f})"
    )


def check_predict_text(
    task_cls: type[Task],
    sample: str | os.PathLike[str],
    text: str = "Ada Lovelace wrote the first program in London in 1843.",
    config: Any = None,
    language: str = "en",
) -> None:
    """Raw text in, JSON out: see the module docstring."""
    from nlpplat.evaluation import predict

    setup = _Setup(task_cls, sample, config, language)
    result = setup.task.predict_text(
        text, lambda examples: predict(setup.model, setup.task, setup.collate, examples)
    )
    who = _task_name(task_cls)
    assert isinstance(result, list) and result, f"{who}: predict_text({text!r}) returned {result!r}"
    try:
        json.dumps(result)
    except TypeError as error:
        raise AssertionError(f"{who}: predict_text results are not JSON-serialisable: {error}") from None


def check_task(
    task_cls: type[Task],
    sample: str | os.PathLike[str],
    gold: Callable[[Any], Any],
    config: Any = None,
    *,
    best: float | None = None,
    text: str = "Ada Lovelace wrote the first program in London in 1843.",
    language: str = "en",
    round_trip: bool = True,
) -> None:
    """Run every task check on ``task_cls`` with ``sample`` (a few examples in its format)."""
    check_task_config(task_cls)
    check_reader(task_cls, sample, config)
    if round_trip:
        check_prediction_round_trip(task_cls, sample, gold, config)
    check_task_state(task_cls, sample, config)
    check_collate(task_cls, sample, config)
    check_gold_metrics(task_cls, sample, gold, config, best)
    check_decode(task_cls, sample, config)
    check_training_step(task_cls, sample, config)
    check_predict_text(task_cls, sample, text, config, language)


# -- datasets ---------------------------------------------------------------------------------
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@contextmanager
def _environment(**variables: str | None) -> Iterator[None]:
    """Set (or, with None, remove) environment variables for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in variables}
    try:
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def check_dataset_spec(spec: DatasetSpec, task_cls: type[Task] | None = None) -> None:
    """A valid specification: see the module docstring."""
    from nlpplat.config import apply
    from nlpplat.data import SPLITS
    from nlpplat.errors import ConfigError

    assert isinstance(spec, DatasetSpec), f"{spec!r} is not an nlpplat.DatasetSpec"
    who = f"dataset {spec.name!r}"
    assert _PLAIN_NAME.fullmatch(spec.name), f"{who}: the name should be letters, digits, '.', '_' or '-'"
    assert spec.task, f"{who}: no task"
    if task_cls is not None:
        assert spec.task == task_cls.name, f"{who}: is for task {spec.task!r}, not {task_cls.name!r}"
    assert spec.files and set(spec.files) <= set(SPLITS), (
        f"{who}: files should map some of {', '.join(SPLITS)} to file names, got {dict(spec.files)!r}"
    )
    for split, name in [*spec.files.items(), ("folder", spec.folder)]:
        assert isinstance(name, str) and _PLAIN_NAME.fullmatch(name), (
            f"{who}: {split} is {name!r}; expected a plain file or folder name, no path"
        )
    assert set(spec.extra_files) <= set(spec.files), f"{who}: extra_files for splits it has no file for"
    for names in spec.extra_files.values():
        assert all(isinstance(n, str) and _PLAIN_NAME.fullmatch(n) for n in names), (
            f"{who}: extra_files should be plain file names, got {names!r}"
        )
    keys = {key for split in spec.files for key in spec.split_files(split)}
    assert set(spec.urls) <= keys, f"{who}: urls for splits (or extra files) it has no file for"
    for split, url in spec.urls.items():
        assert "://" in url, f"{who}: the {split} URL {url!r} is not a URL"
        digest = spec.sha256.get(split, "")
        assert re.fullmatch(r"[0-9a-f]{64}", digest), (
            f"{who}: the {split} download has no sha256 (64 lower-case hex digits), so it cannot be verified"
        )
    assert isinstance(spec.language, str) and spec.language, f"{who}: no language"
    assert spec.license, f"{who}: no license; say under which terms the data may be used"
    assert spec.description and "\n" not in spec.description, f"{who}: description should be one line"
    assert spec.urls or spec.generate or spec.manual, (
        f"{who}: no urls, no generate and no manual: users cannot get the files; "
        "set manual to say how to obtain them"
    )
    assert spec.generate is None or callable(spec.generate), f"{who}: generate is not callable"
    if task_cls is not None and spec.task_defaults:
        try:
            apply(task_cls.Config(), spec.task_defaults, "task")
        except ConfigError as error:
            raise AssertionError(
                f"{who}: task_defaults do not fit {task_cls.__name__}.Config: {error}"
            ) from None


def check_dataset_files(
    spec: DatasetSpec, mirror: str | os.PathLike[str] | None = None, task_cls: type[Task] | None = None
) -> None:
    """Files found in a mirror, or generated deterministically: see the module docstring."""
    from nlpplat.config import apply
    from nlpplat.data import resolve_files

    who = f"dataset {spec.name!r}"
    assert mirror is not None or spec.generate is not None, (
        f"{who}: pass mirror= (a folder holding {spec.folder}/) to check a dataset that is not generated"
    )
    with tempfile.TemporaryDirectory() as cache:
        with _environment(NLPPLAT_DATA_DIR=str(mirror) if mirror else None, NLPPLAT_CACHE=cache):
            paths = resolve_files(spec, download=False)
        assert set(paths) == set(spec.files), (
            f"{who}: resolved {sorted(paths)}, expected {sorted(spec.files)}"
        )
        if mirror is not None and spec.generate is None:
            root = (Path(mirror) / spec.folder).resolve()
            outside = [str(path) for path in paths.values() if root not in path.resolve().parents]
            assert not outside, f"{who}: found outside the mirror folder {root}: {', '.join(outside)}"
        if spec.generate is not None:
            other = Path(cache) / "again"
            other.mkdir()
            spec.generate(other)
            for split, path in paths.items():
                for name in spec.split_files(split).values():
                    assert (path.parent / name).read_bytes() == (other / name).read_bytes(), (
                        f"{who}: generating it twice gives different {name}; seed the generator"
                    )
        if task_cls is not None:
            config = apply(task_cls.Config(), spec.task_defaults, "task")
            task = _make_task(task_cls, config, spec.language)
            for split, path in paths.items():
                assert task.read(path), f"{who}: the {split} file {path} has no examples"


def check_dataset(
    spec: DatasetSpec, mirror: str | os.PathLike[str] | None = None, task_cls: type[Task] | None = None
) -> None:
    """The specification, and its files when there is a mirror or a generator."""
    check_dataset_spec(spec, task_cls)
    if mirror is not None or spec.generate is not None:
        check_dataset_files(spec, mirror, task_cls)


# -- plugins ----------------------------------------------------------------------------------
def check_plugin(
    module: ModuleType | object,
    *,
    backbones: Iterable[str] = (),
    tasks: Iterable[str] = (),
    datasets: Iterable[str] = (),
    commands: Iterable[str] = (),
) -> Any:
    """Register ``module`` on a fresh host; it must load cleanly and register exactly these names.

    Returns the :class:`~nlpplat.registry.Registry`, for further checks.
    """
    from nlpplat.plugins import make_plugin_host
    from nlpplat.registry import build_registry

    name = getattr(module, "__name__", "plugin")
    host = make_plugin_host(load_entry_points=False)
    host.register(module, name)
    registry = build_registry(host)
    [status] = registry.plugins
    assert status.ok, f"plugin {name}: {' | '.join(status.errors) or status.skipped}"
    found: Mapping[str, Iterable[str]] = {
        "backbones": registry.backbones,
        "tasks": registry.tasks,
        "datasets": [spec.name for spec in registry.datasets.values()],
        "commands": registry.commands,
    }
    expected = {"backbones": backbones, "tasks": tasks, "datasets": datasets, "commands": commands}
    for kind, names in expected.items():
        assert sorted(found[kind]) == sorted(names), (
            f"plugin {name} registers {kind} {sorted(found[kind])}, expected {sorted(names)}"
        )
    return registry


def _check_config_class(owner: type, who: str) -> type:
    """``owner.Config`` is a dataclass whose fields all have defaults; return it."""
    config_cls = getattr(owner, "Config", None)
    assert dataclasses.is_dataclass(config_cls), f"{who}.Config is not a dataclass"
    missing = [
        f.name
        for f in dataclasses.fields(config_cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    assert not missing, f"{who}.Config fields without a default: {', '.join(missing)}"
    return config_cls
