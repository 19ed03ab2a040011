"""The stand-ins for third parties run as plain processes, apart from nameko's world."""
import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["booking.devstack.bank", "booking.devstack.mailsink"])
def test_a_stand_in_imports_neither_eventlet_nor_nameko(module):
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; "
         "print(sorted({name.split('.')[0] for name in sys.modules} & {'eventlet', 'nameko'}))"],
        capture_output=True, text=True, check=True,
    )
    assert loaded.stdout.strip() == "[]"
