"""Layers: each a Module with a documented forward and backward."""

from .linear import Linear

__all__ = ["Linear"]
