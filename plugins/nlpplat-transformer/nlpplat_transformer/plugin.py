"""The entry point nlpplat loads: registers the ``transformer`` backbone."""

from nlpplat import hookimpl
from nlpplat_transformer.transformer import TransformerBackbone


@hookimpl
def register_backbones():
    return [TransformerBackbone]
