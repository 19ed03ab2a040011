"""tests/claims.py: how the parts of `make test` share the test modules out."""
from types import SimpleNamespace

from tests.claims import claim, ordered


def items(path, count=2):
    return [SimpleNamespace(nodeid=f"{path}::test_{index}") for index in range(count)]


def test_the_first_modules_lead_then_the_longest():
    modules = {path: items(path) for path in ("tests/e2e/a.py", "tests/unit/b.py", "tests/unit/c.py",
                                                     "tests/e2e/d.py", "tests/unit/e.py")}
    durations = {"tests/unit/b.py::test_0": 1, "tests/unit/c.py::test_0": 5, "tests/unit/c.py::test_1": 5,
                 "tests/e2e/a.py::test_0": 1, "tests/e2e/d.py::test_0": 50, "tests/unit/e.py::test_1": 7}
    assert ordered(modules, durations, first=["tests/e2e/"]) == [
        "tests/e2e/a.py", "tests/e2e/d.py", "tests/unit/c.py", "tests/unit/e.py", "tests/unit/b.py"]
    assert ordered(modules, durations) == [
        "tests/e2e/d.py", "tests/unit/c.py", "tests/unit/e.py", "tests/e2e/a.py", "tests/unit/b.py"]


def test_a_module_is_claimed_once(tmp_path):
    assert claim(tmp_path, "tests/unit/b.py")
    assert not claim(tmp_path, "tests/unit/b.py")
    assert claim(tmp_path, "tests/unit/c.py")
