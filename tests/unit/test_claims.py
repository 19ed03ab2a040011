"""tests/claims.py: how the parts of `make test` share the test modules out."""
from types import SimpleNamespace

from tests.claims import claim, ordered


def items(path, count=2):
    return [SimpleNamespace(nodeid=f"{path}::test_{index}") for index in range(count)]


def test_the_first_modules_lead_then_the_rest_as_collected():
    modules = {path: items(path) for path in ("tests/e2e/a.py", "tests/unit/b.py", "tests/unit/c.py",
                                                     "tests/e2e/d.py", "tests/unit/e.py")}
    assert ordered(modules, first=["tests/e2e/"]) == [
        "tests/e2e/a.py", "tests/e2e/d.py", "tests/unit/b.py", "tests/unit/c.py", "tests/unit/e.py"]
    assert ordered(modules) == list(modules)


def test_a_module_is_claimed_once(tmp_path):
    assert claim(tmp_path, "tests/unit/b.py")
    assert not claim(tmp_path, "tests/unit/b.py")
    assert claim(tmp_path, "tests/unit/c.py")
