"""nlpplat: a plugin-based platform to train, compare and ship NLP models."""

from nlpplat.api import PLUGIN_API
from nlpplat.contracts import Backbone, Batch, DatasetSpec, Decoder, Encoder, Task
from nlpplat.errors import DataError, NlpplatError
from nlpplat.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "PLUGIN_API",
    "Backbone",
    "Batch",
    "DataError",
    "DatasetSpec",
    "Decoder",
    "Encoder",
    "NlpplatError",
    "Task",
    "__version__",
    "hookimpl",
]
