"""Give the RabbitMQ cluster the `booking` vhost, whose default queue type is quorum,
and the broker user's permissions on it; then check both, and that every node of the
cluster is running.

    python /app/deploy/provision.py

It reads the user, password, host and vhost from the first URL of AMQP_URI (the one
the services use), the management API from RABBITMQ_MANAGEMENT_URL (default
http://<host>:15672) and how many nodes to wait for from RABBITMQ_NODES (default 3).

Why a vhost default: nameko declares its queues without `x-queue-type`, so the vhost
decides. Its service queues (rpc-*, evt-*) become quorum queues, replicated on three
nodes. Each process's reply queue asks to be classic (booking/kit/replies.py), and
the gateway's BROADCAST queue (exclusive, auto-delete) stays classic, as RabbitMQ
keeps every exclusive queue.

Why wait for every node: a quorum queue has as many replicas as the cluster had
nodes when the queue was declared, so the services must not start before the nodes
have joined.

Why over the HTTP API and not `load_definitions` at boot: a node that imports
definitions at boot does not create its default user, so the committed
definitions.json would have to carry a password. Here it carries none.

Why it checks: a vhost that already existed keeps the default queue type it was
created with; then this fails, loudly, rather than leave the services on classic
queues. Delete the vhost (or create it anew) to fix it.

Standard library only.
"""
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

DEFINITIONS = Path(__file__).with_name("definitions.json")
WAIT_SECONDS = 180
POLL_SECONDS = 2


class ProvisionError(Exception):
    pass


def broker(amqp_uri):
    """(user, password, host, vhost) of the first URL of a ';'-separated AMQP_URI."""
    parts = urlsplit(amqp_uri.split(";")[0].strip())
    if not parts.username or not parts.hostname:
        raise ProvisionError("AMQP_URI must name a user and a host")
    vhost = unquote(parts.path[1:]) or "/"
    return unquote(parts.username), unquote(parts.password or ""), parts.hostname, vhost


class ManagementApi:
    def __init__(self, base_url, user, password, timeout=10):
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
        self.timeout = timeout

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=self.headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            text = response.read().decode()
        return json.loads(text) if text.strip() else None


def wait_for_nodes(api, count, wait_seconds, clock=time.monotonic, sleep=time.sleep):
    deadline = clock() + wait_seconds
    while True:
        try:
            running = sorted(node["name"] for node in api.call("GET", "/api/nodes") if node.get("running"))
            if len(running) >= count:
                return running
            seen = f"running: {', '.join(running) or 'none'}"
        except (OSError, ValueError) as error:  # not up yet, or not answering JSON
            seen = str(error)
        if clock() >= deadline:
            raise ProvisionError(f"the cluster does not have {count} running nodes ({seen})")
        sleep(POLL_SECONDS)


def provision(environ, wait_seconds=WAIT_SECONDS, sleep=time.sleep):
    user, password, host, vhost = broker(environ["AMQP_URI"])
    api = ManagementApi(environ.get("RABBITMQ_MANAGEMENT_URL") or f"http://{host}:15672", user, password)
    nodes = wait_for_nodes(api, int(environ.get("RABBITMQ_NODES", "3")), wait_seconds, sleep=sleep)
    definitions = json.loads(DEFINITIONS.read_text())
    if [entry["name"] for entry in definitions["vhosts"]] != [vhost]:
        raise ProvisionError(f"definitions.json defines {definitions['vhosts']}, AMQP_URI uses vhost {vhost!r}")
    definitions["permissions"] = [{"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}]
    api.call("POST", "/api/definitions", definitions)
    described = api.call("GET", f"/api/vhosts/{quote(vhost, safe='')}")
    queue_type = described.get("default_queue_type") or described.get("metadata", {}).get("default_queue_type")
    if queue_type != "quorum":
        raise ProvisionError(f"vhost {vhost!r} has default queue type {queue_type!r}, not quorum: "
                             "it existed before; delete it and run this again")
    return nodes, vhost


def main():
    try:
        nodes, vhost = provision(os.environ)
    except (ProvisionError, urllib.error.URLError, OSError, KeyError) as error:
        print(f"RabbitMQ provisioning failed: {error}", file=sys.stderr)
        return 1
    print(f"RabbitMQ vhost {vhost!r} (quorum queues by default) on {len(nodes)} nodes: {', '.join(nodes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
