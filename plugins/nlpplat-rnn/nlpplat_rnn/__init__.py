"""Recurrent backbones for nlpplat: ``rnn`` (Elman) and ``lstm``."""

from nlpplat_rnn.lstm import LSTMBackbone, LSTMConfig
from nlpplat_rnn.rnn import RecurrentEncoder, RNNBackbone, RNNConfig

__all__ = ["LSTMBackbone", "LSTMConfig", "RNNBackbone", "RNNConfig", "RecurrentEncoder"]
