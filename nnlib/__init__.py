"""nnlib: a small NumPy neural-network library with explicit, readable backward passes.

PyTorch's names, batch-first shapes, float32 parameters by default (float64 for gradient checks),
randomness only through an explicit ``rng``.
"""

from . import functional
from ._checks import DTypeError, InputError
from .gradcheck import GradcheckError, check_derivative, check_gradient, gradcheck, numerical_gradient, relative_error
from .layers import Linear
from .module import Module, Parameter, Sequential

__version__ = "0.1.0"
