"""`pytest -p tests.slices --slice K/N`: the K-th of N slices of the tests collected,
by their durations stored in `--durations-path` (pytest-split's file; a test it does
not know counts as the average one). Each slice is a run of consecutive tests, so
that a module's set-up is made once, and the longest slice is as short as it can be.
(pytest-split's `duration_based_chunks` cuts after the first test that brings a
group to its share of the total, so past it by up to that test's length: groups of
637 and 417 s in a run of 2026-11-30.)"""
import json
from itertools import pairwise
from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.getgroup("slices").addoption("--slice", metavar="K/N",
                                        help="run the K-th of N slices of the tests, of about equal durations")


def filled(durations, limit):
    """Where consecutive slices of at most `limit` each (or one test alone) begin, after the first."""
    starts, total = [], 0.0
    for index, duration in enumerate(durations):
        if total and total + duration > limit:
            starts.append(index)
            total = 0.0
        total += duration
    return starts


def cuts(durations, slices):
    """The indices where the second to the last of `slices` slices begin, the longest
    slice the shortest (a binary search on its length)."""
    low, high = max(durations, default=0.0), float(sum(durations))
    while high - low > 0.01:
        middle = (low + high) / 2
        low, high = (low, middle) if len(filled(durations, middle)) < slices else (middle, high)
    starts = filled(durations, high)
    return starts + [len(durations)] * (slices - 1 - len(starts))


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected theirs
def pytest_collection_modifyitems(config, items):
    if not config.getoption("slice"):
        return
    number, slices = (int(part) for part in config.getoption("slice").split("/"))
    path = Path(config.getoption("durations_path"))
    stored = json.loads(path.read_text()) if path.exists() else {}
    known = [stored[item.nodeid] for item in items if item.nodeid in stored]
    average = sum(known) / len(known) if known else 1.0
    durations = [stored.get(item.nodeid, average) for item in items]
    bounds = [0, *cuts(durations, slices), len(items)]
    first, last = bounds[number - 1], bounds[number]
    config.hook.pytest_deselected(items=items[:first] + items[last:])
    config.slice_line = (f"[slices] slice {number} of {slices}: {last - first} tests, estimated "
                         + " s, ".join(f"{'this ' if index == number - 1 else ''}{sum(durations[a:b]):.0f}"
                                       for index, (a, b) in enumerate(pairwise(bounds))) + " s")
    items[:] = items[first:last]


def pytest_report_collectionfinish(config):
    return getattr(config, "slice_line", None)
