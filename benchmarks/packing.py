"""Padding-invariant BiLSTM: reversing real tokens (nlpplat's encoder) against packing.

    python benchmarks/packing.py [--threads N] [--steps N]

Both encoders have the default ``lstm`` sizes (input 150, 2 layers of 200 per direction)
and give the same states at real positions; the script checks that, then times a training
step (forward + backward of a sum over real positions) and an inference pass on the same
padded batch of 32 sentences of CoNLL-like lengths (24-30 tokens), interleaved, and prints
the median milliseconds and the ratio packed / ours.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nlpplat_rnn import LSTMBackbone


def packed_encoder(ours: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
    """PyTorch's stacked bidirectional nn.LSTM with our weights, run over packed sequences."""
    first = ours.layers[0][0]
    lstm = nn.LSTM(first.input_size, first.hidden_size, num_layers=len(ours.layers), bidirectional=True,
                   batch_first=True)  # fmt: skip
    state = {}
    for depth, (forward, backward) in enumerate(ours.layers):
        state |= {name.replace("l0", f"l{depth}"): value for name, value in forward.state_dict().items()}
        state |= {
            name.replace("l0", f"l{depth}") + "_reverse": v for name, v in backward.state_dict().items()
        }
    lstm.load_state_dict(state)

    def encode(inputs: Tensor, mask: Tensor) -> Tensor:
        lengths = mask.sum(dim=1).cpu()
        packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        states, _ = lstm(packed)
        return pad_packed_sequence(states, batch_first=True, total_length=inputs.size(1))[0]

    return encode


def median_ms(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--steps", type=int, default=20, help="timed repetitions of each measurement")
    options = parser.parse_args()
    if options.threads:
        torch.set_num_threads(options.threads)
    torch.manual_seed(0)
    config = LSTMBackbone.Config()
    ours = LSTMBackbone.build_encoder(config, input_dim=150).eval()  # eval: no dropout, same maths
    packed = packed_encoder(ours)
    lengths = torch.randint(24, 31, (32,))
    mask = torch.arange(int(lengths.max())) < lengths.unsqueeze(1)
    inputs = torch.randn(32, mask.size(1), 150)
    with torch.no_grad():
        difference = (ours(inputs, mask) - packed(inputs, mask))[mask].abs().max().item()
    assert difference < 1e-5, f"the two encoders disagree by {difference}"

    def train(encode: Callable[[Tensor, Tensor], Tensor]) -> None:
        encode(inputs, mask)[mask].sum().backward()

    def infer(encode: Callable[[Tensor, Tensor], Tensor]) -> None:
        with torch.inference_mode():
            encode(inputs, mask)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 32 x {mask.size(1)}, "
          f"states agree to {difference:.1e}")  # fmt: skip
    for name, measure in (("training step", train), ("inference", infer)):
        for encode in (ours, packed):  # warm-up
            measure(encode)
        ms_ours = median_ms(lambda m=measure: m(ours), options.steps)
        ms_packed = median_ms(lambda m=measure: m(packed), options.steps)
        print(
            f"{name:14} ours {ms_ours:7.1f} ms   packed {ms_packed:7.1f} ms   packed/ours {ms_packed / ms_ours:.2f}"
        )


if __name__ == "__main__":
    main()
