"""Shared fixtures: the torch reference (skipped or required), float64 random data, hiding optional modules."""

import builtins
import os

import numpy as np
import pytest

import nnlib

REQUIRE_TORCH = os.environ.get("NNLIB_REQUIRE_TORCH") == "1"
# NNLIB_FAST_KERNELS=0 runs the whole suite on the reference layers (make unit-reference).
FAST_BY_DEFAULT = os.environ.get("NNLIB_FAST_KERNELS", "1") != "0"


def pytest_configure(config):
    nnlib.use_fast_kernels(FAST_BY_DEFAULT)


@pytest.fixture(params=["fast", "reference"])
def kernel_path(request):
    """Run the test once on the fast kernels and once on the reference layers; yields the path's name."""
    with nnlib.use_fast_kernels(request.param == "fast"):
        yield request.param


@pytest.fixture(scope="session")
def torch():
    """PyTorch as a test reference: skipped with a reason when absent, a failure when required."""
    try:
        import torch
    except ImportError:
        if REQUIRE_TORCH:
            pytest.fail("NNLIB_REQUIRE_TORCH=1 but torch is not importable: pip install torch==2.13.0")
        pytest.skip("torch is not installed (pip install torch==2.13.0 for the CPU build); cross-check skipped")
    torch.set_num_threads(1)
    return torch


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def hide_module(monkeypatch):
    """Call ``hide_module("sklearn")`` to make every import of that package fail, as if it were not installed."""
    def hide(prefix: str) -> None:
        real_import = builtins.__import__

        def import_without(name, *args, **kwargs):
            if name == prefix or name.startswith(prefix + "."):
                raise ImportError(f"No module named {prefix!r}")
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", import_without)
    return hide


def pytest_collection_modifyitems(items):
    for item in items:
        if "torch" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.torch)
