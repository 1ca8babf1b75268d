"""The ``nlpplat`` entry point of this distribution: the ``cnn`` backbone."""

from __future__ import annotations

from nlpplat import Backbone, hookimpl
from nlpplat_cnn.idcnn import CNNBackbone

# The nlpplat plugin API versions this plugin was written for; nlpplat skips the plugin,
# with a message, when it provides another one.
NLPPLAT_API = ">=1,<2"


@hookimpl
def register_backbones() -> list[type[Backbone]]:
    return [CNNBackbone]
