import socket
from urllib.parse import urlparse


def is_listening(host, port, timeout=0.5):
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def host_port(address, default_port):
    """("0.0.0.0", 8000) from "0.0.0.0:8000"; ("localhost", 5672) from "amqp://…@localhost/"."""
    if "://" in address:
        url = urlparse(address)
        return url.hostname or "localhost", url.port or default_port
    host, _, port = address.rpartition(":")
    return host or "0.0.0.0", int(port or default_port)


def host_of(address):
    """The host of a URL ("http://localhost:8100") or of a bare host name."""
    if "://" in address:
        return urlparse(address).hostname or ""
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def is_local(host):
    return host_of(str(host)) in ("localhost", "127.0.0.1", "::1", "0.0.0.0", "")
