"""A RabbitMQ cluster of three nodes on this machine, each on ports of its own.

The service queues of the `booking` vhost are quorum queues (the vhost's default
queue type): each is replicated on every node, so losing one node loses no
message. Clients get every node's URI, separated by ';' (kombu fails over to the
next when one goes away):

    cluster = LocalCluster(PROJECT_ROOT / "var" / "rabbitmq-cluster")
    cluster.start()
    cluster.amqp_uri   # "amqp://guest:guest@localhost:5720/booking;...:5721/booking;..."
"""
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from booking.devstack.broker import LocalBroker

FIRST_PORT = 5720
VHOST = "booking"


class LocalCluster:
    def __init__(self, root, size=3, first_port=FIRST_PORT, name="booking-cluster"):
        root = Path(root)
        names = [f"{name}{index + 1}@localhost" for index in range(size)]
        # new nodes find each other as they boot (RabbitMQ's peer discovery from the
        # configuration), where joining them one by one afterwards took 20 s
        discovery = ["cluster_formation.peer_discovery_backend = classic_config",
                     *(f"cluster_formation.classic_config.nodes.{index + 1} = {node}"
                       for index, node in enumerate(names))]
        self.nodes = [
            LocalBroker(root / f"node{index + 1}", port=first_port + index,
                        management_port=10000 + first_port + index, node=node, settings=discovery)
            for index, node in enumerate(names)
        ]

    @property
    def amqp_uri(self):
        return ";".join(f"amqp://guest:guest@localhost:{node.port}/{VHOST}" for node in self.nodes)

    def start(self):
        self._share_cookie()
        first, *others = self.nodes
        try:
            # together: a node that was part of the cluster waits for the others to boot
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                list(pool.map(LocalBroker.start, self.nodes))
            for node in others:  # a node made before, or one that formed a cluster of its own
                if first.node not in self._members(node):
                    node.ctl("stop_app")
                    node.ctl("reset")
                    node.ctl("join_cluster", first.node)
                    node.ctl("start_app")
            if VHOST not in first.ctl("list_vhosts", "--quiet", "--no-table-headers").split():
                first.ctl("add_vhost", VHOST, "--default-queue-type", "quorum")
                first.ctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
        except Exception:
            self.stop()
            raise
        return self

    def stop(self, graceful=True):
        """Stop every node, all at once (see `LocalBroker.stop`), then their port
        mapper: each node, stopping beside the others, saw them still using it."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(graceful), self.nodes))
        self.nodes[0].stop_port_mapper()

    def _share_cookie(self):
        # nodes of one cluster must share their Erlang cookie; each keeps it in its HOME
        cookies = [node.root / ".erlang.cookie" for node in self.nodes]
        existing = [cookie.read_text() for cookie in cookies if cookie.exists()]
        cookie_text = existing[0] if existing else secrets.token_hex(20)
        for cookie in cookies:
            cookie.parent.mkdir(parents=True, exist_ok=True)
            if not cookie.exists() or cookie.read_text() != cookie_text:
                cookie.unlink(missing_ok=True)
                cookie.write_text(cookie_text)
                cookie.chmod(0o400)

    @staticmethod
    def _members(node):
        return node.ctl("eval", "rabbit_nodes:all().")
