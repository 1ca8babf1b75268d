"""The entry point nlpplat loads: registers the ``rnn`` and ``lstm`` backbones."""

from nlpplat import hookimpl
from nlpplat_rnn.lstm import LSTMBackbone
from nlpplat_rnn.rnn import RNNBackbone


@hookimpl
def register_backbones():
    return [RNNBackbone, LSTMBackbone]
