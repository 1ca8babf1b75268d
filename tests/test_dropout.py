"""``nlpplat.dropout``: the same inverted dropout as ``nn.Dropout``, with masks from 16-bit draws."""

from __future__ import annotations

import math

import pytest
import torch

from nlpplat.dropout import Dropout, dropout, keep_mask

ELEMENTS = 1 << 20


def tolerance(p: float, n: int) -> float:
    """Five standard deviations of the share of dropped elements among ``n`` draws."""
    return 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("p", [0.1, 0.33, 0.5, 0.9])
def test_drops_each_element_with_probability_p_and_scales_the_rest(p):
    torch.manual_seed(0)
    x = torch.full((ELEMENTS,), 2.0)
    y = dropout(x, p)
    dropped = y == 0
    assert abs(dropped.float().mean().item() - p) < tolerance(p, ELEMENTS)
    assert torch.allclose(y[~dropped], torch.tensor(2.0 / (1 - p)))


def test_every_lane_of_a_random_word_is_a_fair_draw():
    # Four 16-bit draws share each 64-bit random integer: a biased byte or lane (such as a
    # sign bit that is never set) would show as a drop rate off p at positions i mod 4.
    torch.manual_seed(0)
    p = 0.5
    kept = keep_mask((ELEMENTS // 4, 4), p, torch.empty(0)) > 0
    for lane in range(4):
        assert abs(1 - kept[:, lane].float().mean().item() - p) < tolerance(p, ELEMENTS // 4)


def test_the_gradient_flows_through_the_kept_elements_only():
    torch.manual_seed(0)
    x = torch.randn(32, 64, requires_grad=True)
    y = dropout(x, 0.4)
    y.sum().backward()
    kept = y.detach() != 0
    assert torch.allclose(x.grad[kept], torch.tensor(1 / 0.6))
    assert (x.grad[~kept] == 0).all()


def test_eval_mode_and_p_zero_return_the_input_itself():
    x = torch.randn(8, 8)
    assert Dropout(0.5).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    assert (Dropout(1.0).train()(x) == 0).all()


def test_masks_follow_the_seed_and_differ_between_calls():
    x = torch.ones(4096)
    torch.manual_seed(7)
    first, second = dropout(x, 0.5), dropout(x, 0.5)
    torch.manual_seed(7)
    assert torch.equal(dropout(x, 0.5), first)
    assert not torch.equal(first, second)


def test_keeps_the_dtype_and_shape_of_its_input():
    x = torch.randn(3, 5, 7, dtype=torch.bfloat16)
    y = Dropout(0.2).train()(x)
    assert y.dtype == torch.bfloat16 and y.shape == x.shape


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_a_probability_outside_zero_to_one_is_refused(p):
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(p)
