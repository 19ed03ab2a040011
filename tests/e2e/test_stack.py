"""The whole stack started as `make run` starts it: `booking run` in a subprocess."""
import os
import re
import signal
import socket
import subprocess
import time

import eventlet
import pytest
import requests

from booking.devstack.mailsink import wait_for_message
from booking.kit.config import PROJECT_ROOT
from tests.e2e.stack import BOOKING, Stack, stack_environment


@pytest.fixture
def stack_env(rabbit_config, tmp_path):
    return stack_environment(rabbit_config["AMQP_URI"], tmp_path)


def test_booking_run_serves_everything_restarts_the_dead_and_stops_cleanly(stack_env, tmp_path):
    base = stack_env["PUBLIC_URL"]
    stack = Stack(stack_env, logs=tmp_path / "log")
    try:
        stack.wait_for(r"Booking is ready: " + re.escape(base))
        cities = requests.get(f"{base}/api/v1/cities", timeout=10).json()["items"]
        assert len(cities) >= 50 and sum(city["hotel_count"] for city in cities) >= 2000
        page = requests.get(f"{base}/api/v1/hotels", params={"city": "zurich"}, timeout=10).json()
        assert page["total"] > 0 and {hotel["city"] for hotel in page["items"]} == {"Zürich"}
        assert "Find a hotel" in requests.get(base, timeout=10).text

        account = {"email": "ada@example.com", "password": "analytical engine 1843", "full_name": "Ada"}
        assert requests.post(f"{base}/api/v1/users", json=account, timeout=10).status_code == 201
        wait_for_message(stack_env["MAIL_DIR"], lambda message: message["To"] == "ada@example.com")
        credentials = {key: account[key] for key in ("email", "password")}
        tokens = requests.post(f"{base}/api/v1/auth/login", json=credentials, timeout=10)
        me = requests.get(f"{base}/api/v1/me", timeout=10,
                          headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})
        assert me.json()["email"] == "ada@example.com"

        first_search = stack.pids()["search"]
        os.kill(first_search, signal.SIGKILL)
        stack.wait_for(r"search \| exited with code -9; restarting in 1 s")
        stack.wait_for(rf"search \| started \(pid (?!{first_search}\))")
        deadline = time.monotonic() + 60
        while requests.get(f"{base}/ready", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, stack.output
            eventlet.sleep(0.5)
    finally:
        assert stack.stop(), stack.output


def test_a_port_in_use_is_refused_with_a_clear_message(stack_env):
    host, port = stack_env["WEB_SERVER_ADDRESS"].split(":")
    with socket.socket() as taken:
        taken.bind((host, int(port)))
        taken.listen()
        result = subprocess.run([BOOKING, "run"], cwd=PROJECT_ROOT, env=stack_env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"Port {port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr
