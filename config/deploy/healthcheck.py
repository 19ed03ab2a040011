"""Container health checks, standard library only (no nameko, no eventlet):

    python /app/deploy/healthcheck.py amqp           a nameko service: connected to the broker
    python /app/deploy/healthcheck.py http URL       the gateway: URL answers 200
    python /app/deploy/healthcheck.py tcp PORT       the mail sink, the bank: listening

A nameko service has no port of its own; what tells that it works is its broker
connection, so `amqp` looks in /proc/net/tcp{,6} (this container's network
namespace) for an established connection to a port that AMQP_URI names (every
URL of a failover list; 5672, or 5671 for amqps, when none is given).
"""
import os
import socket
import sys
import urllib.request
from urllib.parse import urlsplit

ESTABLISHED = "01"
TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
TIMEOUT_SECONDS = 3


def amqp_ports(amqp_uri):
    ports = set()
    for url in filter(None, (part.strip() for part in amqp_uri.split(";"))):
        parts = urlsplit(url)
        ports.add(parts.port or (5671 if parts.scheme == "amqps" else 5672))
    return ports


def connected_to(ports, tables=TCP_TABLES):
    """Whether a TCP connection to one of `ports` is established."""
    for table in tables:
        try:
            with open(table) as lines:
                next(lines)  # the header
                for line in lines:
                    fields = line.split()
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    if fields[3] == ESTABLISHED and remote_port in ports:
                        return True
        except FileNotFoundError:
            continue
    return False


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return response.status == 200
    except OSError:
        return False


def listening(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=TIMEOUT_SECONDS).close()
        return True
    except OSError:
        return False


def main(argv):
    if argv[:1] == ["amqp"] and len(argv) == 1:
        healthy = connected_to(amqp_ports(os.environ.get("AMQP_URI", "amqp://localhost:5672/")))
    elif argv[:1] == ["http"] and len(argv) == 2:
        healthy = answers(argv[1])
    elif argv[:1] == ["tcp"] and len(argv) == 2:
        healthy = listening(int(argv[1]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
