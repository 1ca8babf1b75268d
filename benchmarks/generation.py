"""Generation speed: the KV cache against recomputing the prefix, beam search against greedy.

    python benchmarks/generation.py [--threads 1] [--sentences 64] [--length 30] [--repeats 3]
    python benchmarks/generation.py --run RUN_DIR [--run RUN_DIR ...] [--ctranslate2]   # trained runs

Part 1 (no data needed) builds every backbone's decoder at its default size behind the
host's :class:`~nlpplat.generation.TargetDecoder` (an 8,000-piece vocabulary, tied
embeddings) over random encoder states of a batch of ``--sentences`` sources (lengths
8-20 tokens, Multi30k-like), and measures in one process, interleaved:

- **cached / recomputed**: greedy decoding of exactly ``--length`` tokens (EOS is never
  chosen) with ``step`` and the decoder's cache, against running the teacher-forced
  ``forward`` over the whole prefix at every step and keeping the last position (what a
  decoder without a cache must do). Both must give the same tokens; the ratio is
  recomputed time / cached time.
- **beam 5 / greedy**: :func:`nlpplat.generation.generate` with ``beam=5`` against
  ``greedy``, same model and batch, outputs of the same fixed length.

Part 2 (``--run``): for each trained translation run, beam-5 translation of its test set
as ``nlpplat evaluate`` does it, in sentences/s and target tokens/s, and its time over
greedy decoding's on the same test set. With
``--ctranslate2`` (CTranslate2 installed), each ``transformer`` run is also exported
(``nlpplat export ctranslate2``) and its test set translated by CTranslate2 float32 with
the same beam size and batch size; the table gives ours / CTranslate2, and how many of the
first 100 test sentences get the same greedy translation from both.

Each time is the median of ``--repeats`` runs; one torch thread by default, as the
translation issue compares one thread against one thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor

from nlpplat.generation import GenerationSettings, TargetDecoder, generate, greedy_choice, single_path_search
from nlpplat.plugins import make_plugin_host
from nlpplat.registry import build_registry

VOCAB, BOS, EOS = 8000, 2, 3
BEAM = 5  # the beam of every beam-search measurement


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class NeverStop(TargetDecoder):
    """A TargetDecoder whose EOS is never chosen, so every output has the length limit."""

    def step(self, tokens, memory, memory_mask, cache):  # type: ignore[override]
        log_probs, cache = super().step(tokens, memory, memory_mask, cache)
        log_probs[:, EOS] = -1e4  # finite: at the limit, EOS is still the only choice left
        return log_probs, cache


@torch.no_grad()
def recomputed_greedy(head: TargetDecoder, memory: Tensor, mask: Tensor, length: int) -> list[list[int]]:
    """Greedy decoding without a cache: the whole prefix through ``forward`` at every step."""
    prefix = torch.full((memory.size(0), 1), BOS, dtype=torch.long)
    for _ in range(length):
        log_probs = head(prefix, memory, mask)[:, -1].float().log_softmax(dim=-1)
        log_probs[:, EOS] = -1e4
        log_probs[:, [0, BOS]] = float("-inf")
        prefix = torch.cat([prefix, log_probs.argmax(dim=-1, keepdim=True)], dim=1)
    return prefix[:, 1:].tolist()


def synthetic_part(arguments: argparse.Namespace) -> None:
    registry = build_registry(make_plugin_host())
    generator = torch.Generator().manual_seed(1)
    lengths = torch.randint(8, 21, (arguments.sentences,), generator=generator)
    T = int(lengths.max())
    mask = torch.arange(T)[None, :] < lengths[:, None]
    print(f"{arguments.sentences} sources of 8-20 tokens, outputs of {arguments.length} tokens, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}")  # fmt: skip
    print(
        "| backbone | cached s | recomputed s | recomputed / cached | same tokens | greedy s | beam-5 s | beam-5 / greedy |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in ("rnn", "lstm", "transformer"):
        print(measure_backbone(registry.backbone(name), arguments, mask, generator))


def measure_backbone(
    backbone: type, arguments: argparse.Namespace, mask: Tensor, generator: torch.Generator
) -> str:
    """One table row: cached against recomputed greedy, beam 5 against greedy."""
    torch.manual_seed(0)
    config = backbone.Config()
    memory_dim = backbone.build_encoder(config, 256).output_dim
    head = NeverStop(backbone.build_decoder(config, memory_dim), VOCAB).eval()
    memory = torch.randn(mask.size(0), mask.size(1), memory_dim, generator=generator)
    limit = GenerationSettings(max_length_ratio=1e-6, max_length_offset=arguments.length + 1)
    limits = torch.full((mask.size(0),), arguments.length + 1)

    def cached() -> list[list[int]]:
        with torch.no_grad():
            return single_path_search(head, memory, mask, BOS, EOS, limits, greedy_choice)

    same = cached() == recomputed_greedy(head, memory, mask, arguments.length)
    runs = {
        "cached": cached,
        "recomputed": lambda: recomputed_greedy(head, memory, mask, arguments.length),
        "greedy": lambda: generate(
            head, memory, mask, dataclasses.replace(limit, decoding="greedy"), BOS, EOS
        ),
        "beam": lambda: generate(head, memory, mask, dataclasses.replace(limit, beam=BEAM), BOS, EOS),
    }
    times: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(arguments.repeats):  # interleaved, so that a busy moment hits all alike
        for key, function in runs.items():
            times[key].append(median_seconds(function, 1))
    m = {key: statistics.median(values) for key, values in times.items()}
    return (
        f"| {backbone.name} | {m['cached']:.3f} | {m['recomputed']:.3f} | {m['recomputed'] / m['cached']:.2f} | "
        f"{'yes' if same else 'NO'} | {m['greedy']:.3f} | {m['beam']:.3f} | {m['beam'] / m['greedy']:.2f} |"
    )


def runs_part(run_dirs: list[str], repeats: int, with_ctranslate2: bool = False) -> None:

    registry = build_registry(make_plugin_host())
    print(
        "| run | backbone | beam-5 sentences/s | target tokens/s | beam-5 / greedy time | "
        "CTranslate2 beam-5 sentences/s | CTranslate2 beam-5 / greedy time | ours / CTranslate2 | same greedy |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for run_dir in run_dirs:
        print(measure_run(run_dir, registry, repeats, with_ctranslate2))


def measure_run(run_dir: str, registry: object, repeats: int, with_ctranslate2: bool) -> str:
    """One table row: beam search over the run's test set, as ``nlpplat evaluate`` runs it."""
    from nlpplat.evaluation import predict
    from nlpplat.inference import split_path
    from nlpplat.runs import load_run

    loaded = load_run(run_dir, registry)
    loaded.task.config = dataclasses.replace(loaded.task.config, decoding="beam", beam=BEAM)
    examples = loaded.task.read(split_path(loaded.config, registry, "test"))
    outputs: list[str] = []

    def translate() -> None:
        outputs[:] = predict(
            loaded.model, loaded.task, loaded.collate, examples, loaded.config.train.eval_batch_size
        )

    beam_config = loaded.task.config
    loaded.task.config = dataclasses.replace(beam_config, decoding="greedy")
    greedy_seconds = median_seconds(translate, repeats)
    loaded.task.config = beam_config
    seconds = median_seconds(translate, repeats)
    tokens = sum(len(loaded.task.subwords.target_ids(text)) + 1 for text in outputs)  # pieces + EOS
    row = (
        f"| {run_dir} | {loaded.config.run.backbone} | {len(examples) / seconds:.1f} | {tokens / seconds:.0f} | "
        f"{seconds / greedy_seconds:.2f} |"
    )
    if not with_ctranslate2 or loaded.config.run.backbone != "transformer":
        return row + " | | | |"
    ct2_seconds, ct2_greedy_seconds, same = measure_ctranslate2(run_dir, registry, loaded, examples, repeats)
    return (
        row + f" {len(examples) / ct2_seconds:.1f} | {ct2_seconds / ct2_greedy_seconds:.2f} | "
        f"{ct2_seconds / seconds:.2f} | {same} / 100 |"
    )


def measure_ctranslate2(
    run_dir: str, registry: object, loaded: object, examples: list, repeats: int
) -> tuple[float, float, int]:
    """CTranslate2's seconds for the test set with our beam and with greedy search (same batch
    size), and on how many of the first 100 sentences its greedy output equals ours."""
    import math
    import tempfile

    import ctranslate2

    from nlpplat_translation.export import export_ctranslate2

    task, config = loaded.task, loaded.task.config
    with tempfile.TemporaryDirectory() as folder:
        export_ctranslate2(run_dir, folder, registry)
        translator = ctranslate2.Translator(folder, device="cpu", intra_threads=torch.get_num_threads())
        sources = [task.tokens(example) for example in examples]
        limit = (
            math.ceil(config.max_length_ratio * max(len(s) for s in sources) + config.max_length_offset) - 1
        )

        def translate(beam: int) -> None:
            translator.translate_batch(
                sources,
                beam_size=beam,
                length_penalty=config.length_penalty,
                max_batch_size=loaded.config.train.eval_batch_size,
                max_decoding_length=limit,
            )

        greedy_seconds = median_seconds(lambda: translate(1), repeats)
        seconds = median_seconds(lambda: translate(config.beam), repeats)
        greedy = dataclasses.replace(config, decoding="greedy")  # config: beam search, as measured
        task.config = greedy
        ours = loaded.predict(examples[:100])
        task.config = config
        same = 0
        for pieces, translation in zip(sources[:100], ours, strict=True):
            # Our limit counts EOS; CTranslate2's max_decoding_length does not.
            limit = math.ceil(greedy.max_length_ratio * len(pieces) + greedy.max_length_offset) - 1
            [theirs] = translator.translate_batch([pieces], beam_size=1, max_decoding_length=limit)
            same += task.subwords.target.decode(theirs.hypotheses[0]) == translation
    return seconds, greedy_seconds, same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--sentences", type=int, default=64, help="sources in the synthetic batch")
    parser.add_argument("--length", type=int, default=30, help="output tokens in the synthetic part")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions (the median is shown)")
    parser.add_argument("--run", action="append", default=[], help="a trained translation run directory")
    parser.add_argument("--ctranslate2", action="store_true", help="also CTranslate2 on transformer runs")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    if arguments.run:
        runs_part(arguments.run, arguments.repeats, arguments.ctranslate2)
    else:
        synthetic_part(arguments)


if __name__ == "__main__":
    main()
