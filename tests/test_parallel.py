"""nnlib.kernels.parallel: pieces split over BLAS's thread limit, results in order, errors raised, one core under
threadpool_limits(1)."""

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nnlib.kernels.parallel import even_slices, run_split, worker_count


@pytest.mark.parametrize("total, parts", [(7, 3), (2, 5), (10, 10), (1, 1), (100, 7)])
def test_even_slices_cover_the_range_in_order_with_lengths_differing_by_at_most_one(total, parts):
    slices = even_slices(total, parts)
    covered = [i for part in slices for i in range(total)[part]]
    lengths = [part.stop - part.start for part in slices]
    assert covered == list(range(total))
    assert len(slices) == min(total, parts) and max(lengths) - min(lengths) <= 1 and min(lengths) >= 1


def test_one_core_under_threadpool_limits_1_and_every_piece_on_the_calling_thread():
    with threadpool_limits(1):
        assert worker_count() == 1
        threads = run_split(lambda piece: threading.current_thread().name, range(6))
    assert set(threads) == {threading.current_thread().name}


def test_two_threads_share_the_pieces_keep_their_order_and_hold_blas_to_one_thread_inside():
    with threadpool_limits(2):
        if worker_count() < 2:
            pytest.skip("this machine has one core")
        seen = run_split(lambda piece: (piece, threading.current_thread().name, worker_count()), range(8))
    assert [piece for piece, _, _ in seen] == list(range(8))
    assert len({name for _, name, _ in seen}) == 2
    assert {inner for _, _, inner in seen} == {1}, "a split inside a split must run serially"
    with threadpool_limits(2):
        assert worker_count() == 2, "BLAS's limit is restored after the split"


def test_products_split_over_threads_equal_the_serial_ones():
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((40, 30)) for _ in range(5)]
    weight = rng.standard_normal((30, 20))
    with threadpool_limits(2):
        split = run_split(lambda block: block @ weight, blocks)
    np.testing.assert_array_equal(np.stack(split), np.stack([block @ weight for block in blocks]))


def test_an_error_in_any_piece_is_raised_and_the_limit_restored():
    def task(piece):
        if piece == 5:
            raise ValueError("piece 5")
        return piece

    with threadpool_limits(2):
        before = worker_count()
        with pytest.raises(ValueError, match="piece 5"):
            run_split(task, range(6))
        assert worker_count() == before
