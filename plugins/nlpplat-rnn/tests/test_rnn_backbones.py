"""The rnn and lstm backbones: the conformance kit, plus what is particular to them."""

import dataclasses

import pytest
import torch
from torch import nn

import nlpplat_rnn.plugin
from nlpplat import testing
from nlpplat.plugins import make_plugin_host
from nlpplat.registry import build_registry
from nlpplat_rnn import LSTMBackbone, RNNBackbone
from nlpplat_rnn.rnn import LockedDropout

BACKBONES = [RNNBackbone, LSTMBackbone]


def small(backbone, **changes):
    return dataclasses.replace(backbone.Config(), hidden=16, **changes)


@pytest.mark.parametrize("backbone", BACKBONES, ids=lambda b: b.name)
@pytest.mark.parametrize("bidirectional", [True, False], ids=["bi", "uni"])
@pytest.mark.parametrize("layers", [1, 3])
def test_conformance(backbone, bidirectional, layers):
    testing.check_backbone(backbone, small(backbone, bidirectional=bidirectional, layers=layers))


@pytest.mark.parametrize("backbone", BACKBONES, ids=lambda b: b.name)
def test_default_config_conforms(backbone):
    testing.check_backbone(backbone)


@pytest.mark.parametrize("backbone", BACKBONES, ids=lambda b: b.name)
@pytest.mark.parametrize("bidirectional", [True, False])
def test_output_dim_counts_directions(backbone, bidirectional):
    encoder = backbone.build_encoder(small(backbone, bidirectional=bidirectional), input_dim=8)
    assert encoder.output_dim == (32 if bidirectional else 16)


@pytest.mark.parametrize("backbone", BACKBONES, ids=lambda b: b.name)
def as_torch_module(encoder, cell: type[nn.RNNBase], **kwargs) -> nn.RNNBase:
    """PyTorch's own stacked bidirectional module holding the encoder's weights."""
    first = encoder.layers[0][0]
    reference = cell(
        first.input_size, first.hidden_size, num_layers=len(encoder.layers), bidirectional=True,
        batch_first=True, **kwargs,
    )  # fmt: skip
    state = {}
    for depth, (forward, backward) in enumerate(encoder.layers):
        for name, value in forward.state_dict().items():
            state[name.replace("l0", f"l{depth}")] = value
        for name, value in backward.state_dict().items():
            state[name.replace("l0", f"l{depth}") + "_reverse"] = value
    reference.load_state_dict(state)
    return reference.eval()


@pytest.mark.parametrize(("backbone", "cell", "kwargs"), [(RNNBackbone, nn.RNN, {"nonlinearity": "tanh"}),
                                                          (LSTMBackbone, nn.LSTM, {})], ids=["rnn", "lstm"])  # fmt: skip
def test_padded_batch_equals_torchs_bidirectional_module_on_each_row(backbone, cell, kwargs):
    """Reversing real tokens is exactly PyTorch's bidirectional module run on each row alone."""
    torch.manual_seed(0)
    encoder = backbone.build_encoder(small(backbone, layers=2), input_dim=8).eval()
    reference = as_torch_module(encoder, cell, **kwargs)
    inputs, mask = testing.make_inputs([6, 2, 4], 8, total_length=9, garbage=1)
    with torch.no_grad():
        states = encoder(inputs, mask)
        for row, length in enumerate([6, 2, 4]):
            expected, _ = reference(inputs[row : row + 1, :length])
            torch.testing.assert_close(states[row, :length], expected[0], atol=1e-6, rtol=0)


def test_rnn_is_an_elman_tanh_network():
    encoder = RNNBackbone.build_encoder(RNNBackbone.Config(), input_dim=8)
    cells = [module for module in encoder.modules() if isinstance(module, nn.RNNBase)]
    assert len(cells) == 4 and all(type(cell) is nn.RNN and cell.nonlinearity == "tanh" for cell in cells)


def test_lstm_forget_gate_starts_open():
    config = small(LSTMBackbone, layers=2)
    encoder = LSTMBackbone.build_encoder(config, input_dim=8)
    H = config.hidden
    for lstm in (module for layer in encoder.layers for module in layer):
        forget = lstm.bias_ih_l0[H : 2 * H] + lstm.bias_hh_l0[H : 2 * H]
        assert torch.equal(forget, torch.full((H,), config.forget_bias))


def test_dropout_only_in_training():
    encoder = LSTMBackbone.build_encoder(small(LSTMBackbone, dropout=0.5), input_dim=8)
    inputs, mask = testing.make_inputs([5, 3], 8)
    torch.manual_seed(0)
    assert not torch.equal(encoder.train()(inputs, mask), encoder(inputs, mask))
    assert torch.equal(encoder.eval()(inputs, mask), encoder(inputs, mask))


def test_locked_dropout_keeps_one_mask_per_sequence():
    dropout = LockedDropout(0.5).train()
    torch.manual_seed(0)
    out = dropout(torch.ones(4, 7, 32))
    assert set(out.unique().tolist()) == {0.0, 2.0}  # kept units are rescaled by 1 / (1 - p)
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same units at every time step
    assert not torch.equal(out[0], out[1])  # but a mask of its own for each sequence
    assert torch.equal(dropout.eval()(out), out)


@pytest.mark.parametrize("backbone", BACKBONES, ids=lambda b: b.name)
def test_locked_dropout_config_conforms(backbone):
    testing.check_backbone(backbone, small(backbone, locked_dropout=True))


def test_plugin_module_registers_both_backbones():
    host = make_plugin_host(load_entry_points=False)
    host.register(nlpplat_rnn.plugin, "rnn")
    registry = build_registry(host)
    assert registry.backbone("rnn") is RNNBackbone
    assert registry.backbone("lstm") is LSTMBackbone


def test_installed_entry_point_registers_both_backbones(monkeypatch):
    monkeypatch.delenv("NLPPLAT_LOAD_PLUGINS", raising=False)
    registry = build_registry(make_plugin_host())
    assert registry.backbone("rnn") is RNNBackbone
    assert registry.backbone("lstm") is LSTMBackbone
    status = next(status for status in registry.plugins if status.name == "rnn")
    assert status.ok and status.distribution == "nlpplat-rnn"
    assert status.registered["backbone"] == ["rnn", "lstm"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("backbone", BACKBONES, ids=lambda b: b.name)
def test_conformance_on_cuda(backbone):
    testing.check_backbone(backbone, small(backbone), device="cuda")
