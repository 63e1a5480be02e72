"""Check functions that lessons call after each exercise. They print ✅, ❌ with a hint, or ⏳; never raise."""

from ._core import Case, check_cases, check_with_diagnosis, evaluate
from .lesson01 import check_and_gate, check_perceptron_predict, check_perceptron_update
