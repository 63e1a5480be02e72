"""Layers: each a Module with a documented forward and backward."""

from .activation import ELU, LeakyReLU, Maxout, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .attention import MultiHeadAttention, PositionalEncoding, TransformerDecoderLayer, TransformerEncoderLayer
from .conv import Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .pooling import AvgPool2d, Flatten, MaxPool2d
from .recurrent import GRU, LSTM, RNN

__all__ = ["Linear", "Dropout", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus", "Softmax", "Maxout",
           "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten",
           "RNN", "LSTM", "GRU", "Embedding",
           "LayerNorm", "BatchNorm1d", "BatchNorm2d",
           "MultiHeadAttention", "PositionalEncoding", "TransformerEncoderLayer", "TransformerDecoderLayer"]
