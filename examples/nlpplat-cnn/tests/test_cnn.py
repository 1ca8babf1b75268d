"""The cnn backbone: nlpplat's conformance kit, plus what is particular to a dilated CNN."""

import dataclasses

import pytest
import torch
from torch import Tensor

import nlpplat_cnn.plugin
from nlpplat import testing
from nlpplat.errors import ConfigError
from nlpplat_cnn import CNNBackbone, IDCNNEncoder
from nlpplat_cnn.idcnn import receptive_field


def small(**changes):
    return dataclasses.replace(CNNBackbone.Config(), **{"filters": 16, **changes})


@pytest.mark.parametrize(
    "config",
    [small(), small(width=5, iterations=1), small(dilations=(1, 1, 2), iterations=3), small(width=1)],
    ids=["default-shape", "width5", "dilations112", "width1"],
)
def test_conformance(config):
    testing.check_backbone(CNNBackbone, config)


def test_default_config_conforms():
    testing.check_backbone(CNNBackbone)


class UnmaskedEncoder(IDCNNEncoder):
    """The same network without zeroing the padding before each convolution."""

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        x = torch.relu(self.first(inputs.transpose(1, 2)))
        for _ in range(self.iterations):
            for layer in self.block:
                x = x + torch.relu(layer(x))
        return x.transpose(1, 2)


class UnmaskedBackbone(CNNBackbone):
    @classmethod
    def build_encoder(cls, config, input_dim):
        return UnmaskedEncoder(config, input_dim)


def test_without_zeroing_the_padding_states_depend_on_it():
    with pytest.raises(AssertionError, match="must not depend on padding"):
        testing.check_padding_invariance(UnmaskedBackbone, small())


def test_each_state_sees_exactly_its_receptive_field():
    config = small(iterations=2)
    reach = (receptive_field(config) - 1) // 2  # 1 + 2 * (1 + 2 * 7) = 31 tokens: 15 each side
    assert reach == 15
    torch.manual_seed(0)
    encoder = CNNBackbone.build_encoder(config, input_dim=8).eval()
    inputs, mask = testing.make_inputs([60], 8)
    centre = 30
    with torch.no_grad():
        before = encoder(inputs, mask)[0, centre]
        for offset in (reach, -reach, reach + 1, -reach - 1):
            changed = inputs.clone()
            changed[0, centre + offset] += 1.0
            moved = (encoder(changed, mask)[0, centre] - before).abs().max().item()
            assert (moved > 0) == (abs(offset) <= reach), f"offset {offset}: change {moved}"


def test_iterations_share_the_block_weights():
    sizes = {
        iterations: sum(
            p.numel() for p in CNNBackbone.build_encoder(small(iterations=iterations), 8).parameters()
        )
        for iterations in (1, 4)
    }
    assert sizes[1] == sizes[4]


@pytest.mark.parametrize("bad", [{"width": 2}, {"dilations": (1, 0, 2)}, {"iterations": 0}, {"dropout": 1.0}])
def test_invalid_settings_are_refused(bad):
    with pytest.raises(ConfigError, match="backbone"):
        small(**bad)


def test_plugin_registers_the_backbone():
    registry = testing.check_plugin(nlpplat_cnn.plugin, backbones=["cnn"])
    assert registry.backbone("cnn") is CNNBackbone


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_conformance_on_cuda():
    testing.check_backbone(CNNBackbone, small(), device="cuda")
    testing.check_backbone(CNNBackbone, device="cuda")
