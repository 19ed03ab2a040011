"""What a service declares, read off its class: nameko's entrypoints and
dependency providers are objects on the class, so nothing is kept by hand."""
import importlib
import inspect
import os
import shlex
from dataclasses import dataclass, field
from unittest import mock

import yaml
from nameko.events import EventHandler
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR, DependencyProvider
from nameko.rpc import Rpc
from nameko.timer import Timer
from nameko.web.handlers import HttpRequestHandler

from booking.devstack.stack import PROCESSES_FILE
from booking.kit.bank import Bank
from booking.kit.config import PROJECT_ROOT, load_config
from booking.kit.database import Database
from booking.kit.mail import Mailer
from booking.kit.outbox import Outbox
from booking.kit.rpc import ServiceRpc

CONFIG_FILE = PROJECT_ROOT / "config.yaml"


@dataclass
class Service:
    name: str
    process: str
    cls: type
    rpc: list = field(default_factory=list)           # method names
    handles: list = field(default_factory=list)       # (source service, event type, method)
    emits: list = field(default_factory=list)         # event types
    timers: list = field(default_factory=list)        # (method, interval in seconds)
    routes: list = field(default_factory=list)        # (HTTP method, url)
    calls: list = field(default_factory=list)         # (service, as_service)
    database: bool = False
    mail: bool = False
    bank: bool = False

    @property
    def module(self):
        return self.cls.__module__


def default_config():
    """config.yaml with every `${VAR:default}` at its default, whatever this
    machine's environment says: the diagrams show the project, not one shell."""
    with mock.patch.dict(os.environ, clear=True):
        return load_config(CONFIG_FILE)


def processes():
    """{process name: its spec} of config/processes.yaml, in order."""
    return yaml.safe_load(PROCESSES_FILE.read_text())["processes"]


def service_class(command):
    """The class a `nameko run ... module:Class` command runs, or None for a process
    that is not a nameko service."""
    argv = shlex.split(command)
    if argv[:2] != ["nameko", "run"]:
        return None
    module_name, _, class_name = argv[-1].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def services():
    """Every nameko service of config/processes.yaml, in its order."""
    found = []
    for process, spec in processes().items():
        cls = service_class(spec["command"])
        if cls is not None:
            found.append(describe(cls, process))
    return found


def describe(cls, process):
    service = Service(name=cls.name, process=process, cls=cls)
    for method_name, method in sorted(inspect.getmembers(cls, inspect.isfunction)):
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, Rpc):
                service.rpc.append(method_name)
            elif isinstance(entrypoint, EventHandler):
                service.handles.append((entrypoint.source_service, entrypoint.event_type, method_name))
            elif isinstance(entrypoint, Timer):
                service.timers.append((method_name, entrypoint.interval))
            elif isinstance(entrypoint, HttpRequestHandler):
                service.routes.append((entrypoint.method, entrypoint.url))
    for _, dependency in inspect.getmembers(cls, lambda value: isinstance(value, DependencyProvider)):
        if isinstance(dependency, ServiceRpc):
            service.calls.append((dependency.target_service, dependency.as_service))
        elif isinstance(dependency, Outbox):
            service.emits.extend(dependency.event_types)
        elif isinstance(dependency, Database):
            service.database = True
        elif isinstance(dependency, Mailer):
            service.mail = True
        elif isinstance(dependency, Bank):
            service.bank = True
    service.calls.sort()
    service.routes.sort(key=lambda route: (route[1], route[0]))
    return service
