"""Check functions that lessons call after each exercise. They print ✅, ❌ with a hint, or ⏳; never raise."""

from ._core import Case, check_cases, evaluate
