"""Write the diagrams: PlantUML text beside the SVG that PlantUML renders from it."""
import re
import shutil
import subprocess
from pathlib import Path

from booking.diagrams.components import component_events, component_rpc
from booking.diagrams.deployment import deployment_cluster, deployment_local
from booking.diagrams.packages import package_diagram
from booking.diagrams.sequence import sequence_diagram
from booking.diagrams.services import PROJECT_ROOT, services
from booking.kit.logs import read_records

DIAGRAMS_DIR = PROJECT_ROOT / "docs" / "diagrams"
SEQUENCE = "sequence-booking"


class PlantUmlMissing(RuntimeError):
    pass


def static_diagrams():
    """{name: PlantUML text} of every diagram drawn from the code and the configuration."""
    found = services()
    return {
        "component-rpc": component_rpc(found),
        "component-events": component_events(found),
        "deployment-local": deployment_local(),
        "deployment-cluster": deployment_cluster(),
        "package": package_diagram(),
    }


def sequence_from_logs(request_ids, log_dir):
    """The sequence diagram of the requests `request_ids` (a booking's hold, then its
    payment), from the JSON logs in `log_dir`; each titled by its entrypoint."""
    requests = []
    for request_id in request_ids:
        records = read_records(Path(log_dir), request_id)
        if not records:
            raise LookupError(f"no record of {request_id} in {log_dir}/*.log")
        requests.append((records[0]["request_id"].split(".")[1], records))
    return sequence_diagram(requests)


def write(diagrams, out_dir, png_dir=None):
    """Write NAME.puml and render NAME.svg into `out_dir` (and NAME.png into
    `png_dir`, to look at); returns the paths written."""
    if shutil.which("plantuml") is None or shutil.which("dot") is None:
        raise PlantUmlMissing("booking diagrams needs PlantUML and Graphviz: apt-get install plantuml graphviz "
                              "(make diagrams and make test install them)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = []
    for name, text in diagrams.items():
        path = out_dir / f"{name}.puml"
        path.write_text(text)
        sources.append(path)
    written = list(sources)
    for fmt, target in (("svg", out_dir), ("png", png_dir)):
        if target is None:
            continue
        Path(target).mkdir(parents=True, exist_ok=True)
        # one JVM for every file; -o is relative to each source unless absolute
        subprocess.run(["plantuml", f"-t{fmt}", "-failfast2", "-o", str(Path(target).resolve()),
                        *map(str, sources)], check=True, capture_output=True, timeout=300)
        written += [Path(target) / f"{path.stem}.{fmt}" for path in sources]
    return written


def source_in_svg(svg_text):
    """The PlantUML text an SVG was rendered from (PlantUML keeps it in a comment,
    with every "--" written "- -"), for comparing with a .puml file."""
    match = re.search(r"<!--MD5=\[\w+\]\s*(@startuml.*?@enduml)", svg_text, re.S)
    return normalise(match[1]) if match else None


def normalise(text):
    """Text compared as PlantUML's comment keeps it: dashes and spacing left out."""
    return re.sub(r"[\s-]+", "", text)
