"""nlpplat-srl: the ``srl`` task (PropBank semantic role labelling on Universal Propositions CoNLL-U)."""

from nlpplat_srl.conllu import Sentence
from nlpplat_srl.instances import Frame, Instance, Predicates
from nlpplat_srl.task import SRLConfig, SRLTask

__version__ = "0.1.0"

__all__ = ["Frame", "Instance", "Predicates", "SRLConfig", "SRLTask", "Sentence", "__version__"]
