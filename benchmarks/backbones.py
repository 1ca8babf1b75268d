"""Speed of the backbones' encoders against same-size plain PyTorch references.

Run ``python benchmarks/backbones.py --help`` for the options; benchmarks/README.md
explains each number and holds a full run. For every backbone (``rnn``, ``lstm``,
``transformer``) and precision (fp32, and bf16 through the host's CPU autocast), two
models are built in the same process and measured interleaved, batch by batch, so that
their ratio is meaningful on a busy or throttled machine:

- **ours**: the host's ``TaskModel`` exactly as ``nlpplat run`` builds it
  (``TokenEmbedder`` → the backbone's encoder → the NER tagger head with its CRF);
- **reference**: the same model with only the encoder swapped for a same-size plain
  PyTorch one, sized from the backbone's default ``Config``:

  - ``lstm``: ``nn.LSTM(E, hidden, layers, bidirectional=True, batch_first=True,
    dropout=dropout)`` on the padded batch (no packing, no reversal: the backward
    direction starts in the padding, so its states depend on padding; it is a speed
    yardstick doing the same arithmetic, not a correct alternative), then output dropout
    like ours;
  - ``rnn``: the same with ``nn.RNN(nonlinearity="tanh")``;
  - ``transformer``: ``Linear(E, d_model)`` + sinusoidal positions + dropout, then
    ``nn.TransformerEncoder(nn.TransformerEncoderLayer(d_model, heads, ff, dropout,
    activation="gelu", batch_first=True, norm_first=True), layers, norm=LayerNorm)``
    with ``src_key_padding_mask=~mask`` (the final LayerNorm matches ours; nested tensors
    are off, as PyTorch turns them off for ``norm_first`` anyway). In eval mode PyTorch
    may use its fused "fast path" for it.

What is measured, per model:

1. **Training throughput**, real (non-padding) tokens per second of a full training step
   as ``Trainer._step`` does it: collate, forward (under autocast for bf16), the task's
   loss on float32 states, ``zero_grad``, backward, gradient clipping, AdamW and
   scheduler steps. Batches are the first ``--batches`` of the epoch's length-bucketed
   training batches (``nlpplat.batching.training_batches``, 32 sentences, seed 1), after
   5 untimed ones (2 with ``--quick``), cut into ``--rounds`` consecutive runs; the
   median run is reported. Data: CoNLL-2003 English train when a local copy is found
   (``$NLPPLAT_DATA_DIR/conll2003-en`` or the cache), else the generated ``demo`` set.
2. **Inference throughput**, sentences per second as ``nlpplat.evaluation.predict`` does
   it: eval mode, ``torch.inference_mode``, batches of 256 sorted by length
   (``nlpplat.batching.evaluation_batches``) over the dev split, collation, forward and
   the CRF Viterbi decode (``task.decode``), after one untimed batch; ``--rounds``
   passes, the median reported.
3. **Achieved FLOP rate** of the encoder alone, forward + backward on full batches
   (B=32, T=32, no padding, inputs requiring gradients; median of timed passes), as a
   fraction of the matmul peak measured in the same run at the same precision: the
   GFLOP/s (2n³ / median time) of an n×n by n×n product, once with ``torch.mm`` (what
   plain tensors and ``nn.Linear`` get: MKL's sgemm for fp32 on the stock x86 build) and
   once through oneDNN (``torch.utils.mkldnn``; the library behind PyTorch's CPU LSTM).
   Where MKL does not use its best kernels (AMD CPUs) the oneDNN peak is the higher,
   truer one, and a BiLSTM can exceed "100 %" of the ``torch.mm`` peak. FLOPs are
   counted analytically (one multiply-add = 2 FLOPs; biases, activations, norms,
   softmax, gathers and dropout ignored):

   - recurrent, per token: Σ over layers and directions of ``2·G·H·(in + H)``, with
     ``G = 4`` gates for the LSTM and 1 for the tanh RNN, ``H`` = hidden units per
     direction, ``in`` = E for the first layer and ``H·directions`` above it;
   - transformer, per token: ``2·E·d`` (input projection) + per layer
     ``2·(4·d² + 2·d·ff)`` (q, k, v, output projections and the feed-forward network)
     ``+ 4·T·d`` (q·kᵀ and attention·v);
   - backward ≈ 2 × forward, so a training pass costs 3 × forward.
4. **Padding**: the share of token slots that are padding in the whole epoch's training
   batches (``nlpplat.batching.padding_fraction``); it must stay under 10 %.

Ratios (ours / reference, bf16 / fp32) are the point: both sides run in the same process
on the same batches; the summary gives them per round (median, lowest–highest). Absolute
numbers depend on the machine, which is printed with the torch version and thread count,
and on what else runs on it: "cores used" (this process's CPU seconds per second) falls
below the thread count when other processes take the cores. Everything is seeded; times
come from ``time.perf_counter``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor, nn
from torch.utils import mkldnn

from nlpplat import Encoder, Task
from nlpplat.batching import evaluation_batches, padding_fraction, training_batches
from nlpplat.config import TrainConfig
from nlpplat.data import resolve_files
from nlpplat.embeddings import EmbeddingConfig, TokenEmbedder, TokenVocab
from nlpplat.errors import MissingDataError
from nlpplat.evaluation import autocast
from nlpplat.model import Collator, TaskModel, build_model, parameter_count
from nlpplat.provenance import NO_FAST_BF16, fast_bf16, machine
from nlpplat.registry import Registry
from nlpplat.training import default_registry, lr_factor, make_optimizer, set_seed

CPU = torch.device("cpu")
BACKBONES = ("rnn", "lstm", "transformer")
PRECISIONS = ("fp32", "bf16")
SEED = 1
BATCH_SIZE = 32  # sentences per training batch (the host's default)
EVAL_BATCH_SIZE = 256  # sentences per evaluation batch (the host's default)
FULL_BATCH = (32, 32)  # (B, T) of the FLOP-rate measurement
MAX_PADDING = 0.10


# -- references -----------------------------------------------------------------------
class ReferenceRecurrent(Encoder):
    """One fused ``nn.LSTM``/``nn.RNN`` call over the padded batch (all layers and directions)."""

    def __init__(self, cell: type[nn.RNNBase], config: Any, input_dim: int, **kwargs: Any):
        super().__init__()
        self.rnn = cell(
            input_dim,
            config.hidden,
            config.layers,
            bidirectional=config.bidirectional,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
            **kwargs,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.output_dim = config.hidden * (2 if config.bidirectional else 1)

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        return self.dropout(self.rnn(inputs)[0])  # (B, T, D)


def sinusoids(length: int, width: int) -> Tensor:
    """(length, width) fixed encodings of Vaswani et al. (2017): sin on even, cos on odd dimensions."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    encoding = torch.zeros(length, width)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)[:, : width // 2]
    return encoding


class ReferenceTransformer(Encoder):
    """Input projection + sinusoids + ``nn.TransformerEncoder`` (pre-LN, GELU)."""

    def __init__(self, config: Any, input_dim: int):
        super().__init__()
        d = config.d_model
        self.input = nn.Linear(input_dim, d)
        self.register_buffer("sinusoids", sinusoids(config.max_length, d), persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(
            d,
            config.heads,
            config.ff,
            config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, config.layers, norm=nn.LayerNorm(d), enable_nested_tensor=False
        )
        self.output_dim = d

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        positions = self.sinusoids[: inputs.size(1)]
        x = self.dropout(self.input(inputs) + positions)  # (B, T, d)
        return self.encoder(x, src_key_padding_mask=~mask)  # (B, T, d)


def build_reference(backbone: str, config: Any, input_dim: int) -> Encoder:
    if backbone == "lstm":
        return ReferenceRecurrent(nn.LSTM, config, input_dim)
    if backbone == "rnn":
        return ReferenceRecurrent(nn.RNN, config, input_dim, nonlinearity="tanh")
    if backbone == "transformer":
        return ReferenceTransformer(config, input_dim)
    raise ValueError(f"no reference for backbone {backbone!r}")


def forward_flops_per_token(backbone: str, config: Any, input_dim: int, length: int) -> float:
    """Analytic forward FLOPs per token of the encoder (the formulas of the module docstring)."""
    if backbone in ("rnn", "lstm"):
        gates = 4 if backbone == "lstm" else 1
        directions = 2 if config.bidirectional else 1
        total, width = 0, input_dim
        for _ in range(config.layers):
            total += directions * 2 * gates * config.hidden * (width + config.hidden)
            width = config.hidden * directions
        return float(total)
    if backbone == "transformer":
        d, ff = config.d_model, config.ff
        per_layer = 2 * (4 * d * d + 2 * d * ff) + 4 * length * d
        return float(2 * input_dim * d + config.layers * per_layer)
    raise ValueError(f"no FLOP formula for backbone {backbone!r}")


# -- data -------------------------------------------------------------------------------
@dataclass
class Data:
    name: str
    paths: dict[str, Path]
    task: Task
    vocab: TokenVocab
    collate: Collator
    train: list[Any]
    dev: list[Any]
    epoch: list[list[int]]  # the epoch's training batches (indices into train)
    padding: float


def load_data(registry: Registry, embeddings: EmbeddingConfig) -> Data:
    """CoNLL-2003 when a local copy exists, else the generated demo set; vocabularies fitted on train."""
    task_cls = registry.task("ner")
    try:
        spec = registry.dataset("ner", "conll2003")
        paths = resolve_files(spec, download=False)
    except MissingDataError:
        spec = registry.dataset("ner", "demo")
        paths = resolve_files(spec)
    task = task_cls(task_cls.Config(), language=spec.language)
    train, dev = task.read(paths["train"]), task.read(paths["dev"])
    task.fit(train)
    vocab = TokenVocab(embeddings).fit(task.tokens(example) for example in train)
    collate = Collator(task, vocab)
    lengths = collate.lengths(train)
    epoch = training_batches(lengths, BATCH_SIZE, random.Random(SEED * 100_003))
    return Data(spec.name, paths, task, vocab, collate, train, dev, epoch, padding_fraction(lengths, epoch))


# -- one model, stepped like the host ---------------------------------------------------
class Runner:
    """A model with its optimizer and scheduler, trained like ``Trainer._step``, run like ``predict``."""

    def __init__(self, model: TaskModel, data: Data, train: TrainConfig, precision: str):
        self.model, self.data, self.train, self.precision = model, data, train, precision
        self.optimizer = make_optimizer(model, train, CPU)
        warmup = max(1, min(train.warmup_steps, len(data.epoch)))  # as Trainer.build does
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor("inverse_sqrt", step, warmup, spent=0.0)
        )

    def train_step(self, examples: Sequence[Any]) -> tuple[int, float]:
        """(real tokens, seconds) of one training step."""
        start = time.perf_counter()
        batch = self.data.collate(examples).to(CPU)
        with autocast(CPU, self.precision):
            states = self.model(batch)
        loss = self.data.task.loss(self.model.head, states.float(), batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.train.clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        loss.item()
        return int(batch.mask.sum()), time.perf_counter() - start

    @torch.inference_mode()
    def predict(self, examples: Sequence[Any]) -> tuple[int, float]:
        """(sentences, seconds) of one evaluation batch, decoded (the model must be in eval mode)."""
        start = time.perf_counter()
        batch = self.data.collate(examples).to(CPU)
        with autocast(CPU, self.precision):
            states = self.model(batch)
        predictions = self.data.task.decode(self.model.head, states.float(), batch)
        return len(predictions), time.perf_counter() - start

    def encoder_pass(self, inputs: Tensor, mask: Tensor) -> float:
        """Seconds of one forward + backward of the encoder alone."""
        encoder = self.model.encoder
        encoder.zero_grad(set_to_none=True)
        inputs.grad = None
        start = time.perf_counter()
        with autocast(CPU, self.precision):
            states = encoder(inputs, mask)
        states.float().sum().backward()
        return time.perf_counter() - start


def interleaved(
    runners: Sequence[Runner], work: Callable[[Runner, Any], tuple[int, float]], items: Sequence[Any]
) -> list[tuple[int, float]]:
    """Sum (units, seconds) per runner over ``items``, alternating which runner goes first."""
    totals = [(0, 0.0)] * len(runners)
    for position, item in enumerate(items):
        order = range(len(runners)) if position % 2 == 0 else reversed(range(len(runners)))
        for index in order:
            units, seconds = work(runners[index], item)
            totals[index] = (totals[index][0] + units, totals[index][1] + seconds)
    return totals


# -- measurements -----------------------------------------------------------------------
@dataclass
class Settings:
    batches: int  # timed training batches, over all rounds
    rounds: int  # training throughput: batches cut into this many runs; inference: dev passes
    warmup: int  # untimed training batches (and encoder passes) first
    eval_sentences: int  # dev sentences for inference (0 = all)
    flop_iterations: int  # timed encoder passes
    matmul_n: int
    matmul_iterations: int


@dataclass
class Measure:
    train_tokens_per_s: float = 0.0  # median over rounds
    infer_sentences_per_s: float = 0.0  # median over rounds
    encoder_gflops: float = 0.0
    mm_fraction: float = 0.0  # of the torch.mm peak
    onednn_fraction: float = 0.0  # of the oneDNN matmul peak
    train_rounds: list[float] = field(default_factory=list)
    infer_rounds: list[float] = field(default_factory=list)


@dataclass
class PrecisionResult:
    ours: Measure = field(default_factory=Measure)
    reference: Measure = field(default_factory=Measure)
    peak_gflops: dict[str, float] = field(default_factory=dict)
    # CPU seconds of this process per wall-clock second while measuring: about the thread
    # count on an idle machine, less when other processes took the cores (numbers disturbed).
    cores_used: float = 0.0


def build_runners(
    backbone: str, registry: Registry, data: Data, embeddings: EmbeddingConfig, precision: str
) -> tuple[Runner, Runner]:
    """Ours and the reference, each built from the same seed in the host's order."""
    backbone_cls = registry.backbone(backbone)
    config = backbone_cls.Config()
    train = TrainConfig()
    set_seed(SEED)
    ours = build_model(data.task, backbone_cls, config, data.vocab, embeddings)
    set_seed(SEED)
    embedder = TokenEmbedder(data.vocab, embeddings)
    encoder = build_reference(backbone, config, embedder.output_dim)
    reference = TaskModel(embedder, encoder, data.task.build_head(encoder.output_dim))
    return Runner(ours, data, train, precision), Runner(reference, data, train, precision)


def training_sample(data: Data, settings: Settings) -> tuple[list[list[Any]], list[list[Any]]]:
    """(warm-up, timed) training batches: the first ones of the epoch, whose order is random."""
    batches = [[data.train[i] for i in indices] for indices in data.epoch]
    return batches[: settings.warmup], batches[settings.warmup : settings.warmup + settings.batches]


def evaluation_sample(data: Data, settings: Settings) -> list[list[Any]]:
    """Dev sentences (all, or a seeded sample) in evaluation batches sorted by length."""
    examples = data.dev
    if settings.eval_sentences and settings.eval_sentences < len(examples):
        examples = random.Random(SEED).sample(examples, settings.eval_sentences)
    order = evaluation_batches(data.collate.lengths(examples), EVAL_BATCH_SIZE)
    return [[examples[i] for i in indices] for indices in order]


def rates(totals: Sequence[tuple[int, float]]) -> list[float]:
    return [units / seconds for units, seconds in totals]


def measure_training(runners: Sequence[Runner], data: Data, settings: Settings) -> list[list[float]]:
    """Real tokens/s per round and runner: the timed batches cut into ``rounds`` consecutive runs."""
    warmup, timed = training_sample(data, settings)
    for runner in runners:
        runner.model.train()
    interleaved(runners, Runner.train_step, warmup)
    size = math.ceil(len(timed) / settings.rounds)
    chunks = [timed[start : start + size] for start in range(0, len(timed), size)]
    return [rates(interleaved(runners, Runner.train_step, chunk)) for chunk in chunks]


def measure_inference(runners: Sequence[Runner], data: Data, settings: Settings) -> list[list[float]]:
    """Sentences/s per round and runner: ``rounds`` passes over the dev sentences in sorted batches."""
    batches = evaluation_sample(data, settings)
    for runner in runners:
        runner.model.eval()
    interleaved(runners, Runner.predict, batches[-1:])  # warm-up on the longest batch
    return [rates(interleaved(runners, Runner.predict, batches)) for _ in range(settings.rounds)]


def measure_encoders(runners: Sequence[Runner], settings: Settings) -> list[float]:
    """Median seconds per forward + backward of each encoder on a full (B, T) batch."""
    width = runners[0].model.embedder.output_dim
    generator = torch.Generator().manual_seed(SEED)
    inputs = torch.randn(*FULL_BATCH, width, generator=generator).requires_grad_(True)
    mask = torch.ones(FULL_BATCH, dtype=torch.bool)
    times: list[list[float]] = [[] for _ in runners]
    for runner in runners:
        runner.model.train()
    for iteration in range(settings.warmup + settings.flop_iterations):
        for index, runner in enumerate(runners):
            seconds = runner.encoder_pass(inputs, mask)
            if iteration >= settings.warmup:
                times[index].append(seconds)
    return [statistics.median(samples) for samples in times]


def median_seconds(call: Callable[[], object], iterations: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def matmul_peaks(n: int, dtype: torch.dtype, iterations: int) -> dict[str, float]:
    """GFLOP/s (2n³ / median time) of an n×n by n×n product, two ways.

    ``torch.mm``: what plain tensors and ``nn.Linear`` get (MKL's sgemm for fp32 on this
    build); ``oneDNN``: the library behind PyTorch's CPU LSTM, run through
    ``torch.utils.mkldnn`` on oneDNN tensors. On CPUs where MKL does not use its best
    kernels (AMD), the second is the higher and truer peak.
    """
    generator = torch.Generator().manual_seed(SEED)
    a = torch.randn(n, n, generator=generator).to(dtype)
    b = torch.randn(n, n, generator=generator).to(dtype)
    linear = mkldnn.to_mkldnn(nn.Linear(n, n, bias=False), dtype)
    a_onednn = a.float().to_mkldnn(dtype)
    flops = 2 * n**3 / 1e9
    return {
        "torch.mm": flops / median_seconds(lambda: torch.mm(a, b), iterations),
        "oneDNN": flops / median_seconds(lambda: linear(a_onednn), iterations),
    }


def run_backbone(
    backbone: str,
    registry: Registry,
    data: Data,
    embeddings: EmbeddingConfig,
    precision: str,
    peaks: dict[str, float],
    settings: Settings,
) -> PrecisionResult:
    cpu, wall = time.process_time(), time.perf_counter()
    runners = build_runners(backbone, registry, data, embeddings, precision)
    train = measure_training(runners, data, settings)
    infer = measure_inference(runners, data, settings)
    seconds = measure_encoders(runners, settings)
    config = registry.backbone(backbone).Config()
    B, T = FULL_BATCH
    flops = (
        3
        * B
        * T
        * forward_flops_per_token(backbone, config, embeddings.word_dim + embeddings.char_filters, T)
    )
    measures = []
    for index, pass_seconds in enumerate(seconds):
        gflops = flops / pass_seconds / 1e9
        train_rounds = [round_[index] for round_ in train]
        infer_rounds = [round_[index] for round_ in infer]
        measures.append(
            Measure(
                statistics.median(train_rounds),
                statistics.median(infer_rounds),
                gflops,
                gflops / peaks["torch.mm"],
                gflops / peaks["oneDNN"],
                train_rounds,
                infer_rounds,
            )
        )
    cores = (time.process_time() - cpu) / (time.perf_counter() - wall)
    return PrecisionResult(measures[0], measures[1], peaks, cores)


# -- output -----------------------------------------------------------------------------
def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def ratio_range(ours: Sequence[float], reference: Sequence[float]) -> str:
    """Median ours / reference over rounds, with the lowest and highest round in brackets."""
    ratios = sorted(a / b for a, b in zip(ours, reference, strict=True) if b)
    if len(ratios) < 2:
        return f"{ratios[0]:.2f}" if ratios else "-"
    return f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}–{ratios[-1]:.2f})"


def backbone_table(backbone: str, description: str, results: dict[str, PrecisionResult]) -> Table:
    table = Table(title=f"{backbone}: {description}", title_justify="left")
    table.add_column("measure")
    table.add_column("precision")
    for name in ("ours", "reference", "ours/ref"):
        table.add_column(name, justify="right")
    rows = (
        ("train tokens/s", "train_tokens_per_s", "{:,.0f}"),
        ("inference sentences/s", "infer_sentences_per_s", "{:,.0f}"),
        ("encoder GFLOP/s (32×32, fwd+bwd)", "encoder_gflops", "{:,.1f}"),
        ("fraction of torch.mm peak", "mm_fraction", "{:.2f}"),
        ("fraction of oneDNN peak", "onednn_fraction", "{:.2f}"),
    )
    for precision, result in results.items():
        for label, key, fmt in rows:
            ours, reference = getattr(result.ours, key), getattr(result.reference, key)
            table.add_row(label, precision, fmt.format(ours), fmt.format(reference), ratio(ours, reference))
        table.add_section()
    if "fp32" in results and "bf16" in results:
        fp32, bf16 = results["fp32"], results["bf16"]
        for label, key in (
            ("train speed", "train_tokens_per_s"),
            ("inference speed", "infer_sentences_per_s"),
        ):
            table.add_row(
                label,
                "bf16/fp32",
                ratio(getattr(bf16.ours, key), getattr(fp32.ours, key)),
                ratio(getattr(bf16.reference, key), getattr(fp32.reference, key)),
                "",
            )
    return table


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default=",".join(BACKBONES), help="comma-separated (default: all)")
    parser.add_argument("--batches", type=int, default=0, help="timed training batches (default 60, quick 4)")
    parser.add_argument(
        "--rounds", type=int, default=0, help="rounds, each reported as the median (default 3, quick 2)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument(
        "--precision", choices=PRECISIONS, help="only this precision (default: fp32 and bf16)"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: few batches, few sentences")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    args = parser.parse_args(argv)
    args.backbones = [name.strip() for name in args.backbone.split(",") if name.strip()]
    unknown = sorted(set(args.backbones) - set(BACKBONES))
    if unknown:
        parser.error(f"unknown backbone(s) {', '.join(unknown)}; choose from {', '.join(BACKBONES)}")
    return args


def settings_for(args: argparse.Namespace) -> Settings:
    if args.quick:
        return Settings(args.batches or 4, args.rounds or 2, 2, 512, 3, 1024, 5)
    return Settings(args.batches or 60, args.rounds or 3, 5, 0, 10, 2048, 10)


def print_header(console: Console, data: Data, settings: Settings, started: str) -> None:
    host = machine()
    console.print(f"[bold]nlpplat backbone benchmark[/] · {started}")
    console.print(
        f"machine: {host['cpu']} ({host['cpu_capability']}), {host['cores']} cores, {host['platform']} · "
        f"torch {torch.__version__} · "
        f"{torch.get_num_threads()} threads"
    )
    train_tokens = sum(len(data.task.tokens(example)) for example in data.train)
    console.print(
        f"data: {data.name} ({', '.join(str(path) for path in data.paths.values())}) · "
        f"train {len(data.train):,} sentences, {train_tokens:,} tokens · dev {len(data.dev):,} sentences"
    )
    flag = "[green]ok[/]" if data.padding < MAX_PADDING else "[red]ABOVE 10 %[/]"
    warmup, timed = training_sample(data, settings)
    evaluation = evaluation_sample(data, settings)
    console.print(
        f"padding: {data.padding:.1%} of the token slots of the epoch's {len(data.epoch)} training "
        f"batches ({flag}) · timed, in {settings.rounds} rounds (median shown): {len(timed)} training "
        f"batches of {BATCH_SIZE} after {len(warmup)} warm-up; {settings.rounds} passes over "
        f"{sum(map(len, evaluation)):,} dev sentences in {len(evaluation)} batches of up to "
        f"{EVAL_BATCH_SIZE}; {settings.flop_iterations} full-batch encoder passes"
    )


def describe(backbone: str, registry: Registry, data: Data, embeddings: EmbeddingConfig) -> str:
    """The backbone's description, default sizes and encoder parameter counts (ours, reference)."""
    backbone_cls = registry.backbone(backbone)
    sizes = ", ".join(f"{key}={value}" for key, value in asdict(backbone_cls.Config()).items())
    ours, reference = build_runners(backbone, registry, data, embeddings, "fp32")
    return (
        f"{backbone_cls.description} ({sizes}); encoder parameters: ours "
        f"{parameter_count(ours.model.encoder):,}, reference {parameter_count(reference.model.encoder):,}"
    )


def summary_table(results: dict[str, dict[str, PrecisionResult]]) -> Table:
    """ours / reference per backbone and precision, and ours' bf16 / fp32."""
    table = Table(
        title="summary: ours / reference, median (lowest–highest) over rounds", title_justify="left"
    )
    table.add_column("backbone")
    table.add_column("precision")
    for name in ("train", "inference", "encoder FLOP/s", "cores used"):
        table.add_column(name, justify="right")
    for backbone, by_precision in results.items():
        for precision, result in by_precision.items():
            ours, reference = result.ours, result.reference
            table.add_row(
                backbone,
                precision,
                ratio_range(ours.train_rounds, reference.train_rounds),
                ratio_range(ours.infer_rounds, reference.infer_rounds),
                ratio(ours.encoder_gflops, reference.encoder_gflops),
                f"{result.cores_used:.2f}",
            )
    return table


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.perf_counter()
    console = Console(width=100)
    settings = settings_for(args)
    precisions = [args.precision] if args.precision else list(PRECISIONS)
    if "bf16" in precisions and not fast_bf16():
        # oneDNN refuses bf16 without AVX512 or AVX-NE-CONVERT, and torch.mm emulates it at a
        # few hundredths of fp32's speed: nothing worth measuring.
        if args.precision:
            sys.exit(f"bf16: {NO_FAST_BF16}; measure fp32")
        precisions.remove("bf16")
        console.print(f"[yellow]bf16 skipped: {NO_FAST_BF16}[/]")
    registry = default_registry()
    embeddings = EmbeddingConfig()
    set_seed(SEED)
    data = load_data(registry, embeddings)
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print_header(console, data, settings, started)
    console.print("load average (1, 5, 15 min): " + ", ".join(f"{value:.2f}" for value in os.getloadavg()))
    peaks = {
        precision: matmul_peaks(
            settings.matmul_n,
            torch.float32 if precision == "fp32" else torch.bfloat16,
            settings.matmul_iterations,
        )
        for precision in precisions
    }
    for precision, found in peaks.items():
        console.print(
            f"{precision} matmul peak ({settings.matmul_n}²): "
            + " · ".join(f"{name} {gflops:,.1f} GFLOP/s" for name, gflops in found.items())
        )
    results: dict[str, dict[str, PrecisionResult]] = {}
    for backbone in args.backbones:
        results[backbone] = {
            precision: run_backbone(
                backbone, registry, data, embeddings, precision, peaks[precision], settings
            )
            for precision in precisions
        }
        console.print()
        console.print(
            backbone_table(backbone, describe(backbone, registry, data, embeddings), results[backbone])
        )
    console.print()
    console.print(summary_table(results))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    console.print(
        f"took {time.perf_counter() - clock:.0f} s · load average now {load} · 'cores used' is this "
        f"process's CPU time per second while measuring: near {torch.get_num_threads()} on an idle "
        "machine, lower if other processes took the cores (then the numbers are disturbed)"
    )
    report: dict[str, Any] = {
        "date": started,
        "command": " ".join(["python benchmarks/backbones.py", *argv]),
        "machine": machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "data": data.name,
        "padding_fraction": data.padding,
        "settings": asdict(settings),
        "peak_gflops": peaks,
        "backbones": {
            backbone: {precision: asdict(result) for precision, result in by_precision.items()}
            for backbone, by_precision in results.items()
        },
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
