"""tests/slices.py: where `make test` cuts the suite into the parts it runs side by side."""
import random
from itertools import combinations, pairwise

from tests.slices import cuts


def lengths(durations, slices):
    bounds = [0, *cuts(durations, slices), len(durations)]
    return [sum(durations[a:b]) for a, b in pairwise(bounds)]


def test_the_longest_slice_is_the_shortest_there_can_be():
    # pytest-split's chunks cut after the 60: 70 and 35
    assert lengths([10, 60, 5, 30], 2) == [70, 35]
    assert lengths([10, 20, 60, 5, 30], 2) == [90, 35]  # not 30 and 95
    assert lengths([5, 5, 5, 5], 2) == [10, 10]
    assert lengths([100, 1, 1], 2) == [100, 2]
    assert lengths([60, 40, 30, 30, 20, 20, 10], 3) == [60, 70, 80]
    assert lengths([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], 3) == [14, 17, 13]


def test_no_other_cut_has_a_shorter_longest_slice():
    generator = random.Random(2026)
    for _ in range(200):
        durations = [generator.choice([0.1, 1, 2, 5, 30, 120]) for _ in range(generator.randint(1, 9))]
        best = min(max(sum(durations[a:b]) for a, b in pairwise((0, *bounds, len(durations))))
                   for bounds in combinations(range(len(durations) + 1), 2) if bounds[0] <= bounds[1])
        assert max(lengths(durations, 3)) <= best + 0.01, durations


def test_more_slices_than_tests_leave_the_last_ones_empty():
    assert lengths([3], 2) == [3, 0]
    assert lengths([], 3) == [0, 0, 0]
    assert lengths([2, 2], 3) in ([2, 2, 0], [2, 0, 2])
