"""The deployment manifests under config/deploy/, checked as far as this machine can:
it has no Docker and no Kubernetes, so nothing here builds an image or applies a
manifest. What is checked: every file parses; every service of config/processes.yaml
runs, with the same `module:Class`, in compose and in Kubernetes; every secret that
config/postgres.yaml would otherwise take from its public development default is
supplied, and only ever as a reference or a placeholder; the broker is a cluster of
three with quorum queues; and the small scripts the image runs do what they say.
"""
import base64
import importlib.util
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from booking.devstack.stack import PROCESSES_FILE
from booking.kit.config import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "config" / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
POSTGRES_CONFIG = PROJECT_ROOT / "config" / "postgres.yaml"
RABBITMQ_NODES = {"rabbit1", "rabbit2", "rabbit3"}
BOOKING_IMAGE = "booking"
# settings whose default names this machine but which are what people type in a browser
BROWSER_FACING = {"PUBLIC_URL", "TOKEN_ISSUER"}


def load_script(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


entrypoint = load_script("deploy_entrypoint", DEPLOY / "entrypoint.py")
healthcheck = load_script("deploy_healthcheck", DEPLOY / "healthcheck.py")
provision = load_script("deploy_provision", DEPLOY / "rabbitmq" / "provision.py")


def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def compose_resolved():
    """compose.yaml as `docker compose` would see it with every variable of the env file
    set (to `<NAME>`): ${NAME}, ${NAME:?message} and ${NAME:-default} resolved."""
    def value(match):
        name, operator, default = match.groups()
        return default if operator == ":-" else f"{name.lower()}-value"
    text = re.sub(r"\$\{(\w+)(?:(:[?-])([^}]*))?\}", value, (DEPLOY / "compose.yaml").read_text())
    return yaml.safe_load(text)


def kubernetes_objects():
    """(file name, object) for every object of every manifest in kubernetes/."""
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document["kind"] != "Kustomization":
                yield path.name, document


def workloads():
    """(name, pod spec) of every Deployment and Job."""
    for _, item in kubernetes_objects():
        if item["kind"] in ("Deployment", "Job"):
            yield item["metadata"]["name"], item["spec"]["template"]["spec"]


def deployments():
    return {item["metadata"]["name"]: item for _, item in kubernetes_objects() if item["kind"] == "Deployment"}


def processes():
    return yaml.safe_load(PROCESSES_FILE.read_text())["processes"]


def postgres_settings():
    return dict(entrypoint.SETTING.findall(POSTGRES_CONFIG.read_text()))


def secrets():
    return entrypoint.secret_settings(POSTGRES_CONFIG.read_text())


def secret_template():
    return next(item for _, item in kubernetes_objects() if item["kind"] == "Secret")


def configmap():
    return next(item for _, item in kubernetes_objects() if item["kind"] == "ConfigMap")


def booking_containers(pod):
    return [c for c in pod.get("initContainers", []) + pod["containers"] if c["image"].split(":")[0] == BOOKING_IMAGE]


def runs_booking(command):
    return command[0] in ("nameko", "booking")


def example_env():
    lines = (DEPLOY / "secrets.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


# --- parsing ---------------------------------------------------------------------

def test_every_manifest_parses():
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert len(files) >= 15
    for path in files:
        assert [d for d in yaml.safe_load_all(path.read_text()) if d], path
    assert json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text())["vhosts"]


def test_every_kubernetes_object_has_a_kind_a_name_and_the_booking_namespace():
    for name, item in kubernetes_objects():
        assert item["apiVersion"] and item["metadata"]["name"], name
        if item["kind"] != "Namespace":
            assert item["metadata"]["namespace"] == "booking", name


def test_kustomization_lists_every_manifest_but_never_the_secret_template():
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    manifests = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml", "secret.template.yaml"}
    assert set(kustomization["resources"]) == manifests
    assert [image["name"] for image in kustomization["images"]] == [BOOKING_IMAGE]


# --- the same processes everywhere -------------------------------------------------

def test_every_service_runs_in_compose_with_its_module_and_two_replicas():
    services = compose()["services"]
    for name, process in processes().items():
        if process.get("local_only"):
            continue
        target = process["command"].split()[-1]
        command = services[name]["command"]
        assert command[:2] == ["nameko", "run"] and command[-1] == target, name
        assert services[name]["deploy"]["replicas"] == 2, name


def test_every_service_runs_in_kubernetes_with_its_module_and_two_replicas():
    found = deployments()
    for name, process in processes().items():
        if process.get("local_only"):
            continue
        target = process["command"].split()[-1]
        (container,) = found[name]["spec"]["template"]["spec"]["containers"]
        assert container["args"][:2] == ["nameko", "run"] and container["args"][-1] == target, name
        assert found[name]["spec"]["replicas"] == 2, name


def test_the_stand_ins_run_as_the_local_stack_runs_them_listening_beyond_localhost():
    services, found = compose()["services"], deployments()
    for name, process in processes().items():
        if not process.get("local_only"):
            continue
        module = process["command"].split()[2]
        options = {word for word in process["command"].split() if word.startswith("--")}
        (container,) = found[name]["spec"]["template"]["spec"]["containers"]
        for command in (services[name]["command"], container["args"]):
            assert command[:3] == ["python", "-m", module], name
            assert options <= set(command), name
            assert command[command.index("--host") + 1] == "0.0.0.0", name


def test_the_gateway_is_published_on_8000_through_the_edge_and_an_ingress():
    services = compose()["services"]
    assert services["edge"]["ports"] == ["${BOOKING_HTTP_PORT:-8000}:8000"]
    assert "gateway:8000" in (DEPLOY / "nginx" / "gateway.conf").read_text()
    kinds = {(item["kind"], item["metadata"]["name"]) for _, item in kubernetes_objects()}
    assert {("Service", "gateway"), ("Ingress", "gateway")} <= kinds


def test_the_gateway_probes_ask_its_health_route():
    routes = (PROJECT_ROOT / "entrypoints" / "gateway" / "routes" / "health.py").read_text()
    (container,) = deployments()["gateway"]["spec"]["template"]["spec"]["containers"]
    for probe in ("livenessProbe", "readinessProbe"):
        path = container[probe]["httpGet"]["path"]
        assert f'@api("GET", "{path}")' in routes
    assert "/health" in " ".join(compose()["services"]["gateway"]["healthcheck"]["test"])


def test_compose_migrates_and_seeds_before_any_service_starts():
    services = compose()["services"]
    assert services["migrate"]["command"][-1] == "migrate" and services["seed"]["command"][-1] == "seed"
    assert services["seed"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name, process in processes().items():
        if not process.get("local_only"):
            assert services[name]["depends_on"]["seed"]["condition"] == "service_completed_successfully"
            assert services[name]["depends_on"]["rabbitmq-setup"]["condition"] == "service_completed_successfully"


def test_kubernetes_migrates_then_seeds_in_one_job():
    job = next(item for _, item in kubernetes_objects()
               if item["kind"] == "Job" and item["metadata"]["name"] == "migrate")
    pod = job["spec"]["template"]["spec"]
    assert [c["args"][-1] for c in pod["initContainers"] + pod["containers"]] == ["migrate", "seed"]


# --- settings and secrets ------------------------------------------------------------

def test_the_secrets_are_those_config_postgres_yaml_falls_back_to_development_values_for():
    assert set(secrets()) == {
        "SESSION_SECRET", "CREDENTIALS_KEY", "SIGNING_KEY_PASSPHRASE", "BANK_API_KEY",
        "AUTH_CLIENT_SECRET", "USERS_CLIENT_SECRET", "SEARCH_CLIENT_SECRET", "RESERVATIONS_CLIENT_SECRET",
        "PAYMENTS_CLIENT_SECRET", "DEVELOPER_CLIENT_SECRET"}


def test_compose_gives_every_booking_process_every_secret_from_the_env_file_only():
    for name, service in compose()["services"].items():
        if not runs_booking(service.get("command", ["?"])):
            continue
        environment = service["environment"]
        for secret in secrets():
            # `${NAME:?message}`: compose stops when it is unset or empty; never a default
            assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", environment[secret]), (name, secret)
    assert set(secrets()) | {"RABBITMQ_PASSWORD", "RABBITMQ_ERLANG_COOKIE", "POSTGRES_PASSWORD"} <= set(example_env())


def test_compose_supplies_every_setting_whose_default_names_this_machine():
    local = {name for name, default in postgres_settings().items() if "localhost" in default}
    assert {"AMQP_URI", "SEARCH_DB_URI", "BANK_URL", "SMTP_HOST"} <= local
    for name, service in compose()["services"].items():
        if not runs_booking(service.get("command", ["?"])):
            continue
        for setting in local:
            value = service["environment"][setting]
            if setting not in BROWSER_FACING:
                assert "localhost" not in value and "127.0.0.1" not in value, (name, setting)


def test_kubernetes_gives_every_booking_container_every_setting_and_secret():
    local = {name for name, default in postgres_settings().items() if "localhost" in default}
    template_keys = set(secret_template()["stringData"])
    config_keys = set(configmap()["data"])
    assert set(secrets()) <= template_keys
    assert not set(secrets()) & config_keys
    for name, pod in workloads():
        for container in booking_containers(pod):
            if not runs_booking(container["args"]):
                continue
            sources = container["envFrom"]
            assert {"configMapRef": {"name": "booking-config"}} in sources, name
            assert {"secretRef": {"name": "booking-secrets"}} in sources, name
            supplied = template_keys | config_keys | {e["name"] for e in container.get("env", [])}
            assert local <= supplied, (name, local - supplied)
            for setting in local - BROWSER_FACING:
                value = configmap()["data"].get(setting) or secret_template()["stringData"].get(setting) \
                    or next(e["value"] for e in container["env"] if e["name"] == setting)
                assert "localhost" not in value, (name, setting)


def test_the_secret_template_holds_placeholders_only():
    for key, value in secret_template()["stringData"].items():
        if entrypoint.SECRET_NAME.search(key) and value:
            assert re.fullmatch(r"<[^<>]+>", value), key
        elif key.endswith("_DB_URI"):
            assert "<password>" in value, key


def test_the_example_env_file_holds_no_secret():
    for key, value in example_env().items():
        assert value == "" or key == "RABBITMQ_USER", key


def test_no_manifest_holds_a_real_looking_secret():
    development_values = list(secrets().values()) + ["guest:guest"]
    # 32+ hex digits, or 32+ base64 characters mixing digits, lower and upper case
    random_looking = re.compile(r"\b[0-9a-fA-F]{32,}\b|(?=[\w+/-]*\d)(?=[\w+/-]*[a-z])(?=[\w+/-]*[A-Z])[\w+/-]{32,}")
    inline_credentials = re.compile(r"[a-z]+://([^/\s:@\"']+):([^@\s\"']+)@")
    for path in DEPLOY.rglob("*"):
        if not path.is_file() or path.name.endswith((".pyc",)) or path.name == "secrets.env":
            continue
        text = path.read_text()
        for value in development_values:
            assert value not in text, (path, value)
        assert not random_looking.search(text), (path, random_looking.search(text))
        assert "PRIVATE KEY" not in text, path
        for user, password in inline_credentials.findall(text):
            assert password.startswith(("${", "$(", "<")), (path, user, password)


def test_the_documented_recipe_fills_every_secret_with_its_own_random_value(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    recipe = [line[1:].strip() for line in (DEPLOY / "secrets.env.example").read_text().splitlines()
              if line.startswith("#   while") or line.startswith("#       <")]
    shutil.copy(DEPLOY / "secrets.env.example", tmp_path)
    subprocess.run(["sh", "-c", " ".join(recipe).replace("\\ ", " ")], cwd=tmp_path, check=True)
    filled = dict(line.split("=", 1) for line in (tmp_path / "secrets.env").read_text().splitlines()
                  if line and not line.startswith("#"))
    randoms = [value for key, value in filled.items() if key != "RABBITMQ_USER"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in randoms)
    assert len(set(randoms)) == len(randoms)
    assert list(entrypoint.problems(filled, secrets())) == []


# --- the broker and the databases ----------------------------------------------------

def test_compose_amqp_uri_names_all_three_nodes_of_the_booking_vhost():
    services = compose()["services"]
    urls = compose_resolved()["services"]["auth"]["environment"]["AMQP_URI"].split(";")
    parts = [urlsplit(url) for url in urls]
    assert {p.hostname for p in parts} == RABBITMQ_NODES and len(parts) == 3
    assert {p.path for p in parts} == {"/booking"}
    for node in RABBITMQ_NODES:
        assert services[node]["image"] == "rabbitmq:3.12-management"
        assert services[node]["hostname"] == node
        assert services[node]["environment"]["RABBITMQ_ERLANG_COOKIE"].startswith("${RABBITMQ_ERLANG_COOKIE:?")
    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text()
    assert "cluster_formation.peer_discovery_backend = classic_config" in conf
    assert set(re.findall(r"classic_config\.nodes\.\d+ = rabbit@(\w+)", conf)) == RABBITMQ_NODES


def test_the_booking_vhost_defaults_to_quorum_queues_and_kubernetes_uses_it_on_three_nodes():
    (vhost,) = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text())["vhosts"]
    assert vhost["name"] == "booking" and vhost["metadata"]["default_queue_type"] == "quorum"
    cluster = next(item for _, item in kubernetes_objects() if item["kind"] == "RabbitmqCluster")
    assert cluster["spec"]["replicas"] == 3
    for name, pod in workloads():
        for container in booking_containers(pod):
            uri = {e["name"]: e.get("value") for e in container.get("env", [])}.get("AMQP_URI")
            if uri:
                assert urlsplit(uri).hostname == f"{cluster['metadata']['name']}.booking.svc", name
                assert urlsplit(uri).path == "/booking", name


def test_postgres_has_one_database_per_service_as_config_postgres_yaml_names_them():
    wanted = {urlsplit(default).path[1:] for name, default in postgres_settings().items() if name.endswith("_DB_URI")}
    created = set(re.findall(r"CREATE DATABASE (\w+);", (DEPLOY / "postgres" / "init-databases.sql").read_text()))
    assert created == wanted and len(wanted) == 5
    environment = compose_resolved()["services"]["auth"]["environment"]
    assert {urlsplit(environment[n]).path[1:] for n in postgres_settings() if n.endswith("_DB_URI")} == wanted


# --- the image -----------------------------------------------------------------------

def dockerfile_instructions():
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.split(None, 1) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_image_is_python_3_11_slim_with_the_pdf_fonts_and_a_non_root_user():
    instructions = dockerfile_instructions()
    assert instructions[0] == ["FROM", "python:3.11-slim-bookworm"]
    run = " ".join(arg for op, arg in instructions if op == "RUN")
    assert "fonts-dejavu-core" in run and "fonts-ipafont-gothic" in run
    fonts = (PROJECT_ROOT / "booking" / "reports" / "fonts.py").read_text()
    assert "/usr/share/fonts/truetype/dejavu" in fonts and "/usr/share/fonts/opentype/ipafont-gothic" in fonts
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    for op, arg in instructions:
        if op in ("ENV", "ARG"):
            assert not any(name in arg for name in secrets()), arg


def test_the_image_copies_files_that_exist_and_holds_every_script_the_manifests_run():
    copied = []
    for op, arg in dockerfile_instructions():
        if op == "COPY":
            *sources, target = arg.split()
            for source in sources:
                assert (PROJECT_ROOT / source).exists(), source
                if target.endswith("/") and target.startswith("deploy"):
                    copied.append(Path(source).name)
    manifests = (DEPLOY / "compose.yaml").read_text() + "".join(p.read_text() for p in KUBERNETES.glob("*.yaml"))
    for script in set(re.findall(r"/app/deploy/([\w.]+)", manifests)):
        assert script in copied, script


def test_the_installed_package_has_the_templates_and_migrations_the_services_read(tmp_path):
    """The image installs the wheel (`pip install .`), which must carry the files
    that are not in a Python package."""
    install = next(arg for op, arg in dockerfile_instructions() if op == "RUN" and "pip install" in arg)
    if "pip install -e ." in install:
        copies = [arg for op, arg in dockerfile_instructions() if op == "COPY"]
        assert "booking/ booking/" in copies and "entrypoints/ entrypoints/" in copies
        return
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(PROJECT_ROOT)], check=True)
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "entrypoints/gateway/templates/base.html" in names
    assert any(n.startswith("booking/search/migrations/versions/") for n in names)


def test_the_build_context_leaves_out_secrets_files():
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "config/deploy/*.env" in ignored and ".git" in ignored and ".venv" in ignored


# --- the scripts the image runs ------------------------------------------------------

def test_the_entrypoint_names_every_secret_that_is_missing_a_default_or_a_placeholder():
    environ = {"SESSION_SECRET": "dev-only-session-secret-change-me", "CREDENTIALS_KEY": "<openssl rand -hex 32>",
               "SIGNING_KEY_PASSPHRASE": "short", "BANK_API_KEY": "b" * 64}
    found = " ".join(entrypoint.problems(environ, secrets()))
    assert "SESSION_SECRET is the public development default" in found
    assert "CREDENTIALS_KEY is still a placeholder" in found
    assert "SIGNING_KEY_PASSPHRASE is shorter" in found
    assert "AUTH_CLIENT_SECRET is not set" in found
    assert "BANK_API_KEY" not in found


def test_the_entrypoint_refuses_a_service_without_secrets_and_runs_the_stand_ins(monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(entrypoint.os, "execvp", lambda file, argv: ran.append(argv))
    service = ["nameko", "run", "--config", str(POSTGRES_CONFIG), "booking.search.service:SearchService"]
    assert entrypoint.main(service, environ={}) == entrypoint.EX_CONFIG
    assert "SESSION_SECRET is not set" in capsys.readouterr().err
    assert entrypoint.main(service, environ={"BOOKING_ALLOW_DEV_SECRETS": "1"}) is None
    good = {name: f"{index:064x}" for index, name in enumerate(secrets(), start=1)}
    assert entrypoint.main(service, environ=good) is None
    assert entrypoint.main(["python", "-m", "booking.devstack.bank"], environ={}) is None
    assert ran == [service, service, ["python", "-m", "booking.devstack.bank"]]


def test_the_broker_health_check_sees_an_established_connection_to_an_amqp_port():
    uri = "amqp://u:p@rabbit1:5672/b;amqp://u:p@rabbit2:5673/b;amqps://r3/b"
    assert healthcheck.amqp_ports(uri) == {5672, 5673, 5671}
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert not healthcheck.connected_to({port})
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = server.accept()
            assert healthcheck.connected_to({port})
            accepted.close()
        assert healthcheck.listening(port)


class FakeManagementApi(BaseHTTPRequestHandler):
    """RabbitMQ's management API as far as provision.py uses it."""
    nodes_answers, queue_type, requests = [], "quorum", []

    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.requests.append(("GET", self.path, self.headers["Authorization"], None))
        if self.path == "/api/nodes":
            self.answer(self.nodes_answers.pop(0) if len(self.nodes_answers) > 1 else self.nodes_answers[0])
        else:
            self.answer({"name": "booking", "metadata": {"default_queue_type": self.queue_type}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(("POST", self.path, self.headers["Authorization"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def management_api():
    FakeManagementApi.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeManagementApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def node(name):
    return {"name": name, "running": True}


def test_provisioning_waits_for_three_nodes_then_imports_the_vhost_with_the_users_permissions(management_api):
    FakeManagementApi.nodes_answers = [[node("rabbit@rabbit1")], [node(f"rabbit@{n}") for n in sorted(RABBITMQ_NODES)]]
    FakeManagementApi.queue_type = "quorum"
    environ = {"AMQP_URI": "amqp://booking:s%40cret@rabbit1:5672/booking;amqp://booking:s%40cret@rabbit2:5672/booking",
               "RABBITMQ_MANAGEMENT_URL": f"http://127.0.0.1:{management_api.server_port}"}
    nodes, vhost = provision.provision(environ, wait_seconds=5, sleep=lambda seconds: None)
    assert len(nodes) == 3 and vhost == "booking"
    (post,) = [r for r in FakeManagementApi.requests if r[0] == "POST"]
    assert post[1] == "/api/definitions"
    assert post[2] == "Basic " + base64.b64encode(b"booking:s@cret").decode()
    assert post[3]["vhosts"][0]["metadata"]["default_queue_type"] == "quorum"
    assert post[3]["permissions"] == [
        {"user": "booking", "vhost": "booking", "configure": ".*", "write": ".*", "read": ".*"}]


def test_provisioning_fails_when_the_vhost_kept_classic_queues_or_nodes_are_missing(management_api):
    environ = {"AMQP_URI": "amqp://booking:secret@rabbit1:5672/booking",
               "RABBITMQ_MANAGEMENT_URL": f"http://127.0.0.1:{management_api.server_port}"}
    FakeManagementApi.nodes_answers = [[node(f"rabbit@{n}") for n in RABBITMQ_NODES]]
    FakeManagementApi.queue_type = "classic"
    with pytest.raises(provision.ProvisionError, match="not quorum"):
        provision.provision(environ, wait_seconds=5, sleep=lambda seconds: None)
    FakeManagementApi.nodes_answers = [[node("rabbit@rabbit1"), {"name": "rabbit@rabbit2", "running": False}]]
    with pytest.raises(provision.ProvisionError, match="3 running nodes"):
        provision.provision(environ, wait_seconds=0, sleep=lambda seconds: None)
