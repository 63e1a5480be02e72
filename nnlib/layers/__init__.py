"""Layers: each a Module with a documented forward and backward."""

from .activation import ELU, LeakyReLU, Maxout, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .dropout import Dropout
from .linear import Linear

__all__ = ["Linear", "Dropout", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus", "Softmax", "Maxout"]
