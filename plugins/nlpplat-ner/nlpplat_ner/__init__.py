"""nlpplat-ner: the ``ner`` task (CoNLL column files, IOB1/IOB2/BIOES, CRF or softmax head)."""

from nlpplat_ner.reader import Sentence
from nlpplat_ner.task import NERConfig, NERTask

__version__ = "0.1.0"

__all__ = ["NERConfig", "NERTask", "Sentence", "__version__"]
