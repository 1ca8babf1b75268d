"""nlpplat-cnn: the ``cnn`` backbone, an iterated dilated convolutional network."""

from nlpplat_cnn.idcnn import CNNBackbone, IDCNNConfig, IDCNNEncoder

__all__ = ["CNNBackbone", "IDCNNConfig", "IDCNNEncoder"]
