"""The ``srl`` task: PropBank semantic role labelling on Universal Propositions CoNLL-U files."""

# No ``from __future__ import annotations`` here: the host reads the field types of
# ``SRLConfig`` to parse ``--set task.key=value``, and wants types, not strings.

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlpplat import Batch, DataError, Task
from nlpplat.errors import ConfigError
from nlpplat.text import split_sentences
from nlpplat_srl import scoring
from nlpplat_srl.conllu import Sentence, read_sentences, write_sentences
from nlpplat_srl.crf import BLOCKED
from nlpplat_srl.head import Parse, SRLHead
from nlpplat_srl.instances import Frame, Instance, Predicates, instances
from nlpplat_srl.pipeline import analyse
from nlpplat_srl.role_priors import RolePriors
from nlpplat_srl.roles import OUTSIDE, argument_spans, arguments, cells_from_tags, role_tags
from nlpplat_srl.senses import SenseInventory
from nlpplat_srl.trees import best_tree

# What a row of a batch is, as ``targets["kind"]``:
IDENTIFY = 0  # identification instance of an annotated sentence: trains and scores ``identify``
MARKED = 1  # a predicate is marked: trains and scores sense and arguments
UNSCORED = 2  # identification instance of a sentence without annotation: predicted, never trained

# The ``predicate`` input feature tells every word where it stands relative to the marked
# predicate: the signed distance, exact up to 4 words and in doubling buckets beyond (the
# buckets of Lee et al., 2017), so the encoder need not work out the offset from a lone
# marker. These are the lower bounds of the buckets of |distance|.
DISTANCE_BUCKETS = (0, 1, 2, 3, 4, 5, 8, 16, 32, 64)
PREDICATE_FEATURES = ("distance", "indicator")  # the values of SRLConfig.predicate_feature
ARC_WIDTH = 128  # width of the auxiliary parser's dependent and head vectors (SRLConfig.syntax)
NO_HEAD = -100  # target of a word whose head is not trained (cross-entropy's ignore_index)


@dataclass
class SRLConfig:
    dropout: float = 0.3  # on the encoder states before each head (and inside the argument scorer)
    hidden: int = 300  # width of the argument scorer's hidden layer over [word state; predicate state]
    threshold: float = 0.5  # a word is a predicate when identification gives it more than this probability
    # How the marked predicate is shown to the encoder: "distance" gives every word its
    # bucketed signed distance to it, "indicator" only a 1 on the predicate itself.
    predicate_feature: str = "distance"
    # Weight of an auxiliary loss that teaches the encoder the dependency trees of the training
    # file (its HEAD and DEPREL columns): predict each word's head and the label of that arc from
    # the states of every annotated instance (Dozat & Manning, 2017). Most argument heads are the
    # predicate's syntactic dependents. It needs trees only in training; prediction reads words
    # alone. 0 builds no parser: the behaviour of every run saved before the parser existed.
    # Alone, as a second objective, it did not help the BiLSTM (docs/tasks/srl.md); with
    # tree_features it helps the BiLSTM and the Transformer, and new SRL runs turn both on
    # (SRLTask.run_defaults).
    syntax: float = 0.0
    # Let the argument scorer read the parser's tree: for every word, the probabilities that it
    # is the predicate's child, parent, sibling, grandchild, grandparent or aunt, and the label
    # distributions of the arcs between the two (SRLHead.tree_relations). Needs the parser
    # (syntax > 0); prediction still reads words alone.
    tree_features: bool = False
    # Let the argument scorer read the roles the predicate's lemma takes in the training data
    # (its role prior: per role the fraction of the lemma's training predicates with it),
    # each sentence counted only for the predicates of the other half of the training
    # sentences (nlpplat_srl.role_priors), so that no predicate reads its own roles.
    role_prior: bool = False
    # Added at decoding to the score of every argument tag (all but O) at every word. Above 0
    # the labeller marks more words as arguments (recall up, precision down), below 0 fewer.
    # Training ignores it, so a trained run can be decoded with any value (chosen on dev).
    argument_bias: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"task.dropout must be in [0, 1), not {self.dropout!r}")
        if self.hidden < 1:
            raise ConfigError(f"task.hidden must be a positive width, not {self.hidden!r}")
        if not 0 < self.threshold < 1:
            raise ConfigError(f"task.threshold must be in (0, 1), not {self.threshold!r}")
        if self.syntax < 0:
            raise ConfigError(f"task.syntax is a loss weight, 0 or more, not {self.syntax!r}")
        if self.tree_features and self.syntax <= 0:
            raise ConfigError(
                "task.tree_features reads the tree of the auxiliary parser, which task.syntax=0 does not"
                " build: set task.syntax to a weight above 0 (e.g. task.syntax=1), or task.tree_features=false"
            )
        if self.predicate_feature not in PREDICATE_FEATURES:
            raise ConfigError(
                f"task.predicate_feature must be one of {', '.join(PREDICATE_FEATURES)},"
                f" not {self.predicate_feature!r}"
            )


class SRLTask(Task):
    """Who did what to whom: predicates, their PropBank rolesets and the heads of their arguments.

    Examples are :class:`~nlpplat_srl.instances.Instance`: per sentence one identification
    instance (no predicate marked) and one instance per predicate (that predicate marked
    through the ``predicate`` input feature). Predictions are
    :class:`~nlpplat_srl.instances.Predicates` and :class:`~nlpplat_srl.instances.Frame`.
    """

    name = "srl"
    Config = SRLConfig
    primary_metric = "f1"
    higher_is_better = True
    prediction_suffix = ".conllu"
    default_datasets = ("up-en-ewt", "demo")
    description = "PropBank semantic role labelling (predicates, rolesets, argument heads) on UP CoNLL-U."
    # The linear schedule ends its decay with the time budget: in 45 minutes the BiLSTM's dev
    # f1 is 66.61 against 65.73 for inverse_sqrt, which it passed with fewer updates. The
    # plain RNN is the exception: held near its peak learning rate for long, it fell behind
    # at every epoch (test f1 51.41 against 58.44), so it keeps inverse_sqrt
    # (docs/tasks/srl.md#a-learning-rate-that-ends-with-the-budget). It also trains 1 layer
    # rather than 2: dev f1 is ahead at equal updates from the first epoch, and test f1 is
    # 61.80 against 58.44 (docs/tasks/srl.md#a-learning-rate-that-ends-with-the-budget).
    # The Transformer trains 1 block rather than the backbone's 4: on 53,000 predicate
    # instances a budget of minutes is short of updates, and one block makes twice the
    # updates of four in 45 minutes; dev f1 58.93 against 54.73 (2 blocks) and 49.32 (4),
    # test 59.92 against 56.25 and 50.83 (docs/tasks/srl.md#fewer-blocks).
    # The parser's tree as a feature of the argument scorer (task.syntax and tree_features)
    # lifts that block to test f1 71.12 from 58.61 (dev ahead after every epoch, 51.24 against
    # 38.14 after the first) and the BiLSTM to 70.84 from 68.68, in the same 45 minutes
    # (docs/tasks/srl.md#the-parsers-tree-as-a-feature). The plain RNN was not measured with
    # it and keeps the settings of its 62.32. The role prior (task.role_prior) lifts the
    # BiLSTM from 71.36 to 74.31 (paired bootstrap p = 0.001; dev ahead after every epoch);
    # the other two backbones were not measured with it and keep it off
    # (docs/tasks/srl.md#the-parser-once-per-batch-and-a-role-prior).
    run_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "train": {"schedule": "linear"},
        "task": {"syntax": 1.0, "tree_features": True},
    }
    backbone_run_defaults: ClassVar[Mapping[str, Mapping[str, Mapping[str, Any]]]] = {
        "rnn": {
            "train": {"schedule": "inverse_sqrt"},
            "backbone": {"layers": 1},
            "task": {"syntax": 0.0, "tree_features": False},
        },
        "lstm": {"task": {"role_prior": True}},
        "transformer": {"backbone": {"layers": 1}},
    }

    def __init__(self, config: SRLConfig | None = None, language: str = "en"):
        config = config if config is not None else SRLConfig()
        config.__post_init__()  # again: the host may have changed fields after construction
        super().__init__(config, language)
        self.tags: list[str] = []  # argument tags, "O" first, then "B-<role>"
        self._tag_ids: dict[str, int] = {}
        self.senses = SenseInventory()
        self.role_priors = RolePriors(self.tags, self.senses.lemma)  # counted in fit() with task.role_prior
        self.deprels: list[str] = []  # the parser's dependency labels (DEPREL), when it has them
        self._deprel_ids: dict[str, int] = {}

    # -- data ---------------------------------------------------------------------
    def read(self, path: Path) -> list[Instance]:
        """The instances of every sentence of a UP CoNLL-U file (:func:`~nlpplat_srl.conllu.read_sentences`)."""
        result = instances(read_sentences(path))
        if not result:
            raise DataError(path, None, "no sentences")
        return result

    def tokens(self, example: Instance) -> list[str]:
        return example.tokens

    def fit(self, examples: Sequence[Instance]) -> None:
        """Argument tags and the roleset inventory of the training predicates."""
        marked = [e for e in examples if e.frame is not None and e.sentence.annotated]
        roles = {role for e in marked for role in role_tags(e.gold_cells, e.position) if role != OUTSIDE}
        self._set_tags([OUTSIDE, *sorted(roles)])
        self.senses.fit(
            (e.tokens[e.position], e.sentence.lemmas[e.position], e.sentence.rolesets[e.frame])
            for e in marked
        )
        self.role_priors = RolePriors(self.tags, self.senses.lemma)
        if self.config.role_prior:
            self.role_priors.fit(marked)
        # The parser, if any, labels its arcs too, with the labels of the training file.
        labelled = [e.sentence.deprels or [] for e in examples if e.position is None and e.sentence.annotated]
        self._set_deprels(
            sorted({label for labels in labelled for label in labels}) if self.config.syntax > 0 else []
        )

    def _set_deprels(self, deprels: list[str]) -> None:
        self.deprels = deprels
        self._deprel_ids = {label: index for index, label in enumerate(deprels)}

    def _set_tags(self, tags: list[str]) -> None:
        self.tags = tags
        self._tag_ids = {tag: index for index, tag in enumerate(tags)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "tags": list(self.tags),
            "senses": self.senses.state_dict(),
            "predicate_feature": self.config.predicate_feature,
            "syntax": self.config.syntax,
            "tree_features": self.config.tree_features,
            "deprels": list(self.deprels),
            "role_prior": self.config.role_prior,
            "role_priors": self.role_priors.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._set_tags(list(state["tags"]))
        self.senses.load_state_dict(state["senses"])
        # The weights were trained with this feature, whatever the config says; runs saved
        # before the distance feature existed have no entry and used the indicator.
        self.config.predicate_feature = state.get("predicate_feature", "indicator")
        self.config.syntax = state.get("syntax", 0.0)  # and so were the parser's, if it had one
        self.config.tree_features = state.get("tree_features", False)  # and the argument scorer's
        self._set_deprels(list(state.get("deprels", [])))  # saved before the parser labelled: none
        self.config.role_prior = state.get("role_prior", False)  # saved before role priors: none
        self.role_priors = RolePriors(self.tags, self.senses.lemma)
        if "role_priors" in state:
            self.role_priors.load_state_dict(state["role_priors"])

    def targets(self, examples: Sequence[Instance], length: int) -> dict[str, Tensor]:
        """Gold tensors; rows are told apart by ``kind`` (B,): IDENTIFY, MARKED or UNSCORED.

        tags (B, length): argument tag ids of MARKED rows (roles unknown to the model and
        padding are ``O``); predicates (B, length): 1 on the gold predicates of IDENTIFY rows;
        position (B,): the marked word (0 elsewhere); roleset (B,): the gold roleset id, or
        -1 where there is none or it is unknown; heads (B, length): the gold head of each word
        of annotated rows (IDENTIFY and MARKED), the word itself for the root, ``NO_HEAD`` where
        there is no tree or the head was cut off, in UNSCORED rows, and everywhere when
        ``task.syntax`` is 0; deprels (B, length): the label id of the arc into each word
        that has a head there, where the label is known to the parser, else ``NO_HEAD``;
        prior (B, K + 1), with ``task.role_prior`` only: the role prior of each MARKED row's
        predicate (:meth:`RolePriors.prior`), zeros in other rows.
        """
        size = len(examples)
        tags = torch.zeros(size, length, dtype=torch.long)
        predicates = torch.zeros(size, length, dtype=torch.long)
        kind = torch.full((size,), IDENTIFY, dtype=torch.long)
        position = torch.zeros(size, dtype=torch.long)
        roleset = torch.full((size,), -1, dtype=torch.long)
        heads = torch.full((size, length), NO_HEAD, dtype=torch.long)
        deprels = torch.full((size, length), NO_HEAD, dtype=torch.long)
        prior = torch.zeros(size, len(self.tags) + 1) if self.config.role_prior else None
        for row, example in enumerate(examples):
            sentence = example.sentence
            if self.config.syntax > 0 and sentence.heads is not None and sentence.annotated:
                labels = sentence.deprels or [""] * len(sentence.heads)
                for word, (head, label) in enumerate(zip(sentence.heads[:length], labels, strict=False)):
                    if head < length:
                        heads[row, word] = word if head < 0 else head
                        deprels[row, word] = self._deprel_ids.get(label, NO_HEAD)
            if example.position is None:
                kind[row] = IDENTIFY if sentence.annotated else UNSCORED
                for word in sentence.predicates:
                    if word < length:
                        predicates[row, word] = 1
                continue
            kind[row], position[row] = MARKED, example.position
            if prior is not None:
                prior[row] = torch.tensor(self.role_priors.prior(example))
            if example.frame is not None:
                gold = role_tags(example.gold_cells, example.position)[:length]
                tags[row, : len(gold)] = torch.tensor([self._tag_ids.get(tag, 0) for tag in gold])
                roleset[row] = self.senses.ids.get(sentence.rolesets[example.frame], -1)
        return {
            "tags": tags,
            "predicates": predicates,
            "kind": kind,
            "position": position,
            "roleset": roleset,
            "heads": heads,
            "deprels": deprels,
        } | ({} if prior is None else {"prior": prior})

    def input_features(self) -> dict[str, int]:
        """``predicate``: where each word stands relative to the marked predicate (:meth:`features`)."""
        if self.config.predicate_feature == "indicator":
            return {"predicate": 2}
        return {"predicate": 2 * len(DISTANCE_BUCKETS)}

    def features(self, examples: Sequence[Instance], length: int) -> dict[str, Tensor]:
        """predicate (B, length): 0 everywhere in identification rows (nothing is marked).

        In a row with a predicate marked at p, word i gets ``n + sign(i - p) * bucket(|i - p|)``
        with ``n = len(DISTANCE_BUCKETS)``: the predicate itself n, words before it below n,
        words after it above, all in [1, 2n). With ``task.predicate_feature = "indicator"``: 1 on
        the predicate and 0 elsewhere.
        """
        positions = torch.tensor(
            [-1 if e.position is None else e.position for e in examples], dtype=torch.long
        )
        marked = ((positions >= 0) & (positions < length)).unsqueeze(1)  # (B, 1)
        distance = torch.arange(length) - positions.unsqueeze(1)  # (B, length)
        if self.config.predicate_feature == "indicator":
            return {"predicate": (marked & (distance == 0)).long()}
        bucket = torch.bucketize(distance.abs(), torch.tensor(DISTANCE_BUCKETS[1:]), right=True)  # 0 .. n - 1
        values = (len(DISTANCE_BUCKETS) + distance.sign() * bucket).masked_fill(~marked, 0)
        return {"predicate": values}

    # -- model --------------------------------------------------------------------
    def build_head(self, input_dim: int) -> SRLHead:
        if not self.tags:
            raise RuntimeError("SRLTask.build_head needs tags: call fit() or load_state_dict() first")
        config = self.config
        arc_width = ARC_WIDTH if config.syntax > 0 else 0
        return SRLHead(
            input_dim,
            len(self.tags),
            len(self.senses),
            config.hidden,
            config.dropout,
            arc_width,
            config.tree_features,
            len(self.deprels),
            len(self.tags) + 1 if config.role_prior else 0,
        )

    def _candidates(self, examples: Sequence[Instance], device: torch.device) -> Tensor:
        """(N, R) bool: the rolesets each marked predicate may take (:meth:`SenseInventory.candidate_ids`)."""
        allowed = torch.zeros(len(examples), max(len(self.senses), 1), dtype=torch.bool)
        for row, example in enumerate(examples):
            word = example.position
            ids = self.senses.candidate_ids(example.tokens[word], example.sentence.lemmas[word])
            allowed[row, ids] = True
        return allowed.to(device)

    def _allowed_tags(self, positions: Tensor, mask: Tensor) -> Tensor:
        """(N, T, K) bool: every tag everywhere, except that the predicate itself can only be ``O``."""
        allowed = torch.ones(*mask.shape, len(self.tags), dtype=torch.bool, device=mask.device)
        rows = torch.arange(len(positions), device=mask.device)
        allowed[rows, positions, 1:] = False
        return allowed

    def loss(self, head: nn.Module, states: Tensor, batch: Batch) -> Tensor:
        """Identification + argument + sense (+ syntax) loss, each averaged, so none grows with batch size.

        identification: binary cross-entropy per real word of IDENTIFY rows; arguments: the
        CRF's negative log-likelihood of MARKED rows per real word; sense: cross-entropy of
        the gold roleset among the predicate's candidates, per MARKED row; syntax (with
        ``task.syntax > 0``): cross-entropy of each word's gold head among the words of its
        row, per word with a tree in every annotated row, times ``task.syntax``.
        """
        targets, mask = batch.targets, batch.mask
        kind = targets["kind"]
        terms = []
        parse = head.parse(states) if head.arc_width else None  # once: the loss and the features read it
        identify = kind == IDENTIFY
        if identify.any():
            logits = head.predicate_logits(states[identify]).float()
            words = mask[identify]
            terms.append(
                F.binary_cross_entropy_with_logits(
                    logits[words], targets["predicates"][identify][words].float()
                )
            )
        marked = kind == MARKED
        if marked.any():
            rows = marked.nonzero().squeeze(1).tolist()
            marked_states, positions, words, emissions = _marked_emissions(head, states, batch, parse, marked)
            likelihood = head.crf.log_likelihood(
                emissions, targets["tags"][marked], words, self._allowed_tags(positions, words)
            )
            terms.append(-likelihood.sum() / words.sum())
            gold = targets["roleset"][marked]
            known = gold >= 0
            if known.any():
                allowed = self._candidates([batch.examples[row] for row in rows], states.device)
                allowed[known, gold[known]] = True  # the gold roleset is always a candidate
                scores = head.sense_scores(marked_states, positions).float().masked_fill(~allowed, BLOCKED)
                terms.append(F.cross_entropy(scores[known], gold[known]))
        trees = (targets["heads"] != NO_HEAD).any(dim=1)  # (B,): rows that train the parser
        if parse is not None and trees.any():
            trained, gold_heads = parse[trees], targets["heads"][trees]
            log_heads = trained.head_log_probs(mask[trees])  # (B', T, T)
            syntax = F.nll_loss(log_heads.flatten(0, 1), gold_heads.flatten(), ignore_index=NO_HEAD)
            gold_labels = targets["deprels"][trees]
            if head.num_labels and (gold_labels != NO_HEAD).any():
                # each word's label given its gold head (Dozat & Manning, 2017, train them so too)
                labels = head.label_logits(trained, gold_heads.clamp(min=0)).float()
                syntax = syntax + F.cross_entropy(
                    labels.flatten(0, 1), gold_labels.flatten(), ignore_index=NO_HEAD
                )
            terms.append(self.config.syntax * syntax)
        if not terms:  # only sentences without annotation: nothing to learn, but a graph to step
            return states.sum() * 0.0
        return torch.stack(terms).sum()

    def decode(self, head: nn.Module, states: Tensor, batch: Batch) -> list[Predicates | Frame]:
        """:class:`Predicates` for identification rows, :class:`Frame` for marked ones.

        Predicates: the words whose probability exceeds ``threshold``. Frame: the best of
        the predicate's candidate rolesets (``<lemma>.01`` without candidates) and the
        Viterbi path of the CRF over the emissions plus ``argument_bias`` on every tag but
        ``O``, the predicate itself fixed to ``O`` (written ``V``).
        """
        kind, mask = batch.targets["kind"], batch.mask
        predictions: list[Predicates | Frame | None] = [None] * len(batch.examples)
        with torch.no_grad():
            parse = head.parse(states) if head.arc_width else None
            found = kind != MARKED
            if found.any():
                logits = head.predicate_logits(states[found])
                cut = math.log(self.config.threshold / (1 - self.config.threshold))
                chosen = ((logits > cut) & mask[found]).tolist()
                trees = _trees(parse[found], mask[found]) if parse is not None else [None] * len(chosen)
                for row, flags, tree in zip(found.nonzero().squeeze(1).tolist(), chosen, trees, strict=True):
                    predictions[row] = Predicates(tuple(i for i, flag in enumerate(flags) if flag), tree)
            marked = kind == MARKED
            if marked.any():
                rows = marked.nonzero().squeeze(1).tolist()
                examples = [batch.examples[row] for row in rows]
                marked_states, positions, words, emissions = _marked_emissions(
                    head, states, batch, parse, marked
                )
                if self.config.argument_bias:
                    emissions = emissions + emissions.new_tensor(
                        [0.0] + [self.config.argument_bias] * (len(self.tags) - 1)
                    )
                paths = head.crf.viterbi(emissions, words, self._allowed_tags(positions, words))
                scores = head.sense_scores(marked_states, positions).float()
                scores = scores.masked_fill(~self._candidates(examples, states.device), -math.inf)
                best = scores.argmax(dim=1).tolist()
                finite = torch.isfinite(scores.max(dim=1).values).tolist()
                for row, example, path, roleset_id, has_candidates in zip(
                    rows, examples, paths, best, finite, strict=True
                ):
                    word = example.position
                    if has_candidates:
                        roleset = self.senses.rolesets[roleset_id]
                    else:
                        roleset = self.senses.fallback(example.tokens[word], example.sentence.lemmas[word])
                    tags = [self.tags[tag] for tag in path]
                    tags += [OUTSIDE] * (len(example.tokens) - len(tags))  # words the host cut off
                    predictions[row] = Frame(roleset, cells_from_tags(tags, word))
        return predictions  # type: ignore[return-value]

    # -- evaluation and output ---------------------------------------------------
    def metrics(self, predictions: Sequence[Any], examples: Sequence[Instance]) -> dict[str, Any]:
        """Scores with gold predicates (``f1``, ``span.*``, ``role.*``, ``sense.accuracy``),
        of identification (``predicate.*``) and end to end (``e2e.*``); see docs/tasks/srl.md."""
        return scoring.srl_scores(examples, predictions)

    def example_statistics(
        self, predictions: Sequence[Any], examples: Sequence[Instance]
    ) -> list[list[float]]:
        """Per instance ``[correct, predicted, gold]`` arguments, summed per sentence.

        The resampling unit must be the sentence, as for NER: its predicates share one
        context, so resampling them one by one would make intervals too narrow. Each
        sentence's counts sit on its identification instance (or its first instance when
        it has none); its other instances get zeros.
        """
        frames, _ = scoring.split_predictions(examples, predictions)
        pairs = [scoring.frame_tags(instance, frame) for instance, frame in frames]
        counts = scoring.sequence_counts([g for g, _ in pairs], [p for _, p in pairs]) if pairs else []
        by_sentence: dict[int, list[float]] = {}
        for (instance, _), row in zip(frames, counts, strict=True):
            totals = by_sentence.setdefault(id(instance.sentence), [0, 0, 0])
            for index, value in enumerate(row):
                totals[index] += value
        carrier: dict[int, int] = {}  # sentence -> index of the instance that carries its counts
        for index, example in enumerate(examples):
            key = id(example.sentence)
            if key not in carrier or (
                example.position is None and examples[carrier[key]].position is not None
            ):
                carrier[key] = index
        rows = [[0, 0, 0] for _ in examples]
        for key, index in carrier.items():
            rows[index] = list(by_sentence.get(key, [0, 0, 0]))
        return rows

    def metric_from_statistics(self, totals: Sequence[float]) -> float:
        """Labelled argument F1 (points) from summed ``[correct, predicted, gold]``."""
        correct, predicted, gold = totals
        return scoring.f1_from_counts(correct, predicted, gold)

    def metric_signature(self) -> str:
        return scoring.signature()

    def decoding_parameters(self) -> dict[str, Any]:
        return {
            "arguments": "viterbi",  # CRF, the marked predicate fixed to O
            "roleset": "argmax over the rolesets seen with the lemma or form, else <lemma>.01",
            "predicate_threshold": self.config.threshold,
            "argument_bias": self.config.argument_bias,
        }

    def write_predictions(self, examples: Sequence[Instance], predictions: Sequence[Any], path: Path) -> None:
        """The input file with the predicted rolesets and argument columns of the gold predicates.

        Every sentence is written once, with its comments and all its rows (ranges and empty
        nodes unchanged); columns 1-10 are as read, column 11 and up hold the predictions for
        the predicates that were marked. Identification predictions are not written (the
        columns belong to the gold predicates); ``nlpplat srl-pipeline --output`` writes
        end-to-end predictions.
        """
        order: dict[int, tuple[Sentence, list[tuple[int, str, tuple[str, ...]]]]] = {}
        for example, prediction in zip(examples, predictions, strict=True):
            entry = order.setdefault(id(example.sentence), (example.sentence, []))
            if example.position is not None:
                entry[1].append((example.position, prediction.roleset, prediction.cells))
        write_sentences(path, order.values())

    def predict_text(self, text: str, predict: Callable[[list[Any]], list[Any]]) -> list[dict[str, Any]]:
        """Tokenise ``text`` with spaCy, find predicates, their rolesets and their arguments.

        One dict per sentence: ``text``, ``start``/``end`` (character offsets, ``end``
        exclusive), ``tokens``, ``argument_extent`` and ``predicates``, each with ``word``,
        ``index``, ``start``, ``end``, ``roleset``, ``arguments`` and a bracketed
        ``summary``. An argument is ``role``, ``head``, ``index``, ``start``, ``end`` (its head
        word) and ``span``: ``text``, ``start``, ``end``, ``first``, ``last`` (word indices).
        ``argument_extent`` says what the span is: ``"subtree"`` when the model parses
        (``task.syntax > 0``), the head's subtree in the model's own parse
        (:func:`~nlpplat_srl.roles.argument_spans`), else ``"head"``, the head word alone
        (``spacy.blank`` has no parser, and without a parse there is no subtree).
        """
        tokenised = split_sentences(text, self.language)
        sentences = [
            Sentence.from_tokens([token.text for token in tokens], line=number)
            for number, tokens in enumerate(tokenised, start=1)
        ]
        results = []
        for tokens, sentence, analysis in zip(tokenised, sentences, analyse(sentences, predict), strict=True):
            tree = analysis.tree if analysis.tree is not None and len(analysis.tree) == len(tokens) else None
            predicates = []
            for word, frame in analysis.frames:
                found = arguments(frame.cells, word)
                spans = argument_spans(tree, word, [index for index, _ in found])
                described = [
                    {
                        "role": role,
                        "head": tokens[index].text,
                        "index": index,
                        "start": tokens[index].start,
                        "end": tokens[index].end,
                        "span": {
                            "text": text[tokens[first].start : tokens[end - 1].end],
                            "start": tokens[first].start,
                            "end": tokens[end - 1].end,
                            "first": first,
                            "last": end - 1,
                        },
                    }
                    for (index, role), (first, end) in zip(found, spans, strict=True)
                ]
                predicates.append(
                    {
                        "word": tokens[word].text,
                        "index": word,
                        "start": tokens[word].start,
                        "end": tokens[word].end,
                        "roleset": frame.roleset,
                        "arguments": described,
                        "summary": _summary(
                            sentence.tokens,
                            word,
                            [(span, role) for (_, role), span in zip(found, spans, strict=True)],
                        ),
                    }
                )
            start, end = tokens[0].start, tokens[-1].end
            results.append(
                {
                    "text": text[start:end],
                    "start": start,
                    "end": end,
                    "tokens": sentence.tokens,
                    "argument_extent": "head" if tree is None else "subtree",
                    "predicates": predicates,
                }
            )
        return results


def _marked_emissions(
    head: SRLHead, states: Tensor, batch: Batch, parse: Parse | None, marked: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The ``marked`` rows' states (N, T, D), predicate positions (N,), real words (N, T) and
    argument tag scores (N, T, K), these from the rows' parse and role priors where there are."""
    states, positions, words = states[marked], batch.targets["position"][marked], batch.mask[marked]
    prior = batch.targets.get("prior")
    emissions = head.emissions(
        states,
        positions,
        words,
        None if parse is None else parse[marked],
        None if prior is None else prior[marked],
    )
    return states, positions, words, emissions


def _trees(parse: Parse, mask: Tensor) -> list[tuple[int, ...]]:
    """The parser's best projective tree of each row of ``parse``
    (:func:`~nlpplat_srl.trees.best_tree` over the log-probabilities of heads, so that no
    word's scale outweighs another's); mask (B, T) the real words."""
    scores = parse.head_log_probs(mask)
    lengths = mask.sum(dim=1).tolist()
    return [tuple(best_tree(row[:n, :n].tolist())) for row, n in zip(scores, lengths, strict=True)]


def _summary(tokens: Sequence[str], predicate: int, spans: Iterable[tuple[tuple[int, int], str]]) -> str:
    """``[ARG0 The court] [V nominated] [ARG1 two judges] .``: the sentence, its argument spans
    (``((start, end), role)``, ``end`` exclusive, never overlapping) bracketed."""
    opens = {start: (end, role) for (start, end), role in spans}
    words, index = [], 0
    while index < len(tokens):
        if index == predicate:
            words.append(f"[V {tokens[index]}]")
            index += 1
        elif index in opens:
            end, role = opens[index]
            words.append(f"[{role} {' '.join(tokens[index:end])}]")
            index = end
        else:
            words.append(tokens[index])
            index += 1
    return " ".join(words)
