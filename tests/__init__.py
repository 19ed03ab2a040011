# The tests' own broker node, on ports of its own so that it neither meets a
# `make run` node nor a system one (tests/conftest.py starts it, or tests/run.py
# for every part of `make test`).
TEST_AMQP_PORT = 5682
TEST_MANAGEMENT_PORT = 15682


def shared_broker():
    """That node, not started."""
    from booking.devstack.broker import LocalBroker
    from booking.kit.config import PROJECT_ROOT

    return LocalBroker(PROJECT_ROOT / "var" / "test" / "rabbitmq", port=TEST_AMQP_PORT,
                       management_port=TEST_MANAGEMENT_PORT, node="booking-test@localhost")


def eventually(check, timeout=15):
    """Wait until `check()` neither fails an assertion (a `pytest.raises` that saw
    nothing raised included) nor returns False: events take a moment to travel."""
    import time

    import eventlet
    import pytest

    deadline = time.monotonic() + timeout
    while True:
        try:
            assert check() is not False
            return
        except (AssertionError, pytest.fail.Exception):
            if time.monotonic() > deadline:
                raise
            eventlet.sleep(0.1)
