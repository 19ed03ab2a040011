"""`pytest -p tests.claims --claims DIR [--first PATH]`: pytest sessions side by side
share out the test modules as they go. Each session collects the same tests; before
it runs a module it claims it in DIR (a folder made there: one session wins), and
leaves the modules another claimed. Modules under PATH come first, then the rest in
the order collected.

So the sessions end within about one module of each other, whatever each module
costs on the day. (Cut in advance by an earlier run's durations, the parts ended 655,
790 and 898 s into a run on a slower day, as the services' tests slowed more than the
stacks, which wait. Claimed longest first, the heaviest modules of every session ran
at once beside the stacks: an HTTP call waited past 15 s, and two event tests past
their deadlines.)"""
import os
from itertools import groupby
from pathlib import Path

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("claims")
    group.addoption("--claims", metavar="DIR", help="share the modules out with the sessions claiming in DIR")
    group.addoption("--first", metavar="PATH", action="append", default=[],
                    help="run the modules under PATH first (with --claims)")


def ordered(modules, first=()):
    """The paths of `modules` (in the order collected) in the order to claim them."""
    early = [path for path in modules if any(path.startswith(prefix) for prefix in first)]
    return early + [path for path in modules if path not in early]


def claim(folder, path):
    try:
        os.mkdir(folder / path.replace("/", "."))
    except FileExistsError:
        return False
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    folder = session.config.getoption("claims")
    if not folder or session.config.option.collectonly:
        return None  # pytest's own loop
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        raise session.Interrupted(f"{session.testsfailed} errors during collection")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    modules = {path: list(items) for path, items in groupby(session.items, key=lambda item: item.nodeid.split("::")[0])}
    unclaimed = iter(ordered(modules, session.config.getoption("first")))

    def next_claimed():
        return next((modules[path] for path in unclaimed if claim(folder, path)), [])

    current = next_claimed()
    while current:
        following = []
        for index, item in enumerate(current):
            if index + 1 == len(current):  # claimed before the last test ends, so that its teardown knows what follows
                following = next_claimed()
            later = current[index + 1:] or following
            item.config.hook.pytest_runtest_protocol(item=item, nextitem=later[0] if later else None)
            if session.shouldfail:
                raise session.Failed(session.shouldfail)
            if session.shouldstop:
                raise session.Interrupted(session.shouldstop)
        current = following
    return True
