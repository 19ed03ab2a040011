"""Fault injection, for tests only: make a process die at a chosen step, so that
a test proves what survives it without counting on timing luck.

    BOOKING_DIE_AFTER_COMMIT=reservation_held,payment_succeeded
    BOOKING_FAULTS_DIR=/tmp/faults

makes the process that commits a `reservation_held` event die (SIGKILL) right after
the commit, before the event is published; likewise for `payment_succeeded`. Each
step kills once: a marker file in BOOKING_FAULTS_DIR says it was done, so the
restarted process goes on. Unset (always, outside tests), nothing happens.
"""
import logging
import os
import signal
from pathlib import Path

log = logging.getLogger(__name__)

DIE_AFTER_COMMIT = "BOOKING_DIE_AFTER_COMMIT"
FAULTS_DIR = "BOOKING_FAULTS_DIR"


def after_commit(step):
    steps = os.environ.get(DIE_AFTER_COMMIT)
    if not steps or step not in steps.split(","):
        return
    marker = Path(os.environ.get(FAULTS_DIR, ".")) / f"died-after-commit-{step}"
    try:
        marker.open("x").close()
    except FileExistsError:
        return  # this step has killed a process already
    log.warning("fault injection: dying after the commit of %s, before it is published", step)
    os.kill(os.getpid(), signal.SIGKILL)
