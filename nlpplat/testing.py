"""A conformance kit for backbones: run it under pytest in a plugin's own tests.

    import dataclasses
    from nlpplat.testing import check_backbone

    def test_conformance():
        check_backbone(GRUBackbone, dataclasses.replace(GRUBackbone.Config(), hidden=16))

Each check is a plain function that builds encoders with ``backbone_cls.build_encoder(config,
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
    In eval mode, states at real positions are the same (``atol`` 1e-5) whether a batch is
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
"""

from __future__ import annotations

import dataclasses
import functools
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

from nlpplat.contracts import Backbone, Encoder

__all__ = [
    "check_backbone",
    "check_config",
    "check_determinism",
    "check_encoder_shapes",
    "check_gradient_flow",
    "check_padding_invariance",
    "check_state_dict_round_trip",
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
    config_cls = getattr(backbone_cls, "Config", None)
    assert dataclasses.is_dataclass(config_cls), f"{who}.Config is not a dataclass"
    missing = [
        f.name
        for f in dataclasses.fields(config_cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    assert not missing, f"{who}.Config fields without a default: {', '.join(missing)}"
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
        for extra, garbage in ((0, 1), (5, None), (5, 2), (17, 3)):
            padded, padded_mask = make_inputs(
                lengths, input_dim, max(lengths) + extra, garbage=garbage, device=device
            )
            states = encoder(padded, padded_mask)
            difference = _max_difference(states[padded_mask], reference[mask])
            what = "random values" if garbage is not None else "zeros"
            assert difference <= ATOL, (
                f"{_name(backbone_cls)}: states at real positions change by {difference:.2e} when rows of lengths "
                f"{list(lengths)} are padded to {max(lengths) + extra} with {what}; they must not depend on padding "
                "(pack the sequences, mask attention keys, count positions from the start of each row)"
            )
        for row, length in enumerate(lengths):
            alone = encoder(inputs[row : row + 1, :length], mask[row : row + 1, :length])[0]
            difference = _max_difference(alone, reference[row, :length])
            assert difference <= ATOL, (
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
