"""nnlib: a small NumPy neural-network library with explicit, readable backward passes.

PyTorch's names, batch-first shapes, float32 parameters by default (float64 for gradient checks),
randomness only through an explicit ``rng``.
"""

from . import autograd, data, exercises, functional, init, io, kernels, models, optim, regularization
from ._checks import DTypeError, InputError
from .autograd import Value
from .gradcheck import GradcheckError, check_derivative, check_gradient, gradcheck, numerical_gradient, relative_error
from .kernels import fast_kernels_enabled, use_fast_kernels
from .layers import (
    ELU,
    GRU,
    LSTM,
    RNN,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    LayerNorm,
    LeakyReLU,
    Linear,
    Maxout,
    MaxPool2d,
    MultiHeadAttention,
    PositionalEncoding,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, SquaredError
from .models import Seq2SeqTransformer, SequenceModel, TransformerModel
from .module import Module, NonFiniteError, Parameter, Sequential, detect_anomaly, is_grad_enabled, no_grad
from .optim import SGD, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm, clip_grad_value, grad_norm
from .perceptron import Perceptron
from .regularization import L1Penalty, L2Penalty
from .training import EarlyStopping, History, TrainingDivergedError, accuracy, evaluate, fit, predict

# The one place the version is written: pyproject.toml reads it, CITATION.cff and CHANGELOG.md must match it.
__version__ = "0.1.0"
