"""The package diagram: the project's packages and the imports between them, read
from the source (the `import` statements), and the rule they keep: a service does
not import another service's internals. It may catch another service's published
errors (`exceptions`), and the gateway, the edge, may also validate with a
service's published request and answer schemas (`schemas`); what two services
share lives in the kit, which imports no service."""
import ast
from dataclasses import dataclass

from booking.diagrams.puml import document, ident, multiline
from booking.diagrams.services import PROJECT_ROOT, services

ROOTS = ("booking", "entrypoints")
PUBLISHED = {"exceptions"}
PUBLISHED_TO_THE_EDGE = {"exceptions", "schemas"}


@dataclass(frozen=True)
class Import:
    importer: str   # package, e.g. "booking.reservations"
    module: str     # the importing module, e.g. "booking.reservations.service"
    imported: str   # the imported module, e.g. "booking.search.schemas"

    @property
    def package(self):
        return package_of(self.imported)


def package_of(module):
    """The package a module belongs to: "booking.search" for booking.search.seed,
    "booking" for booking.cli; the gateway is "entrypoints.gateway"."""
    parts = module.split(".")
    if len(parts) >= 3 or (len(parts) == 2 and (PROJECT_ROOT / parts[0] / parts[1]).is_dir()):
        return ".".join(parts[:2])
    return parts[0]


def modules():
    """{module name: its path} of every Python module of the project's packages."""
    found = {}
    for root in ROOTS:
        for path in sorted((PROJECT_ROOT / root).rglob("*.py")):
            relative = path.relative_to(PROJECT_ROOT).with_suffix("")
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            if "migrations" in parts:  # Alembic's scripts, run by alembic, not imported
                continue
            found[".".join(parts)] = path
    return found


def imports():
    """Every import of one of the project's modules by another, across packages."""
    known = modules()
    found = set()
    for module, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [name for name in names if name in known] or [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in ROOTS and package_of(target) != package_of(module):
                    found.add(Import(package_of(module), module, target))
    return sorted(found, key=lambda item: (item.importer, item.imported, item.module))


def service_packages():
    """{package: service name} of the services config/processes.yaml runs."""
    return {service.module.rsplit(".", 1)[0]: service.name for service in services()}


def forbidden(item, services_by_package):
    """Why this import breaks the rule, or None if it keeps it."""
    target = services_by_package.get(item.package)
    leaf = item.imported.rsplit(".", 1)[-1]
    if item.importer == "booking.kit" and target:
        return f"the kit imports the {target} service"
    if item.importer not in services_by_package or target is None:
        return None
    allowed = PUBLISHED_TO_THE_EDGE if item.importer.startswith("entrypoints.") else PUBLISHED
    if leaf not in allowed:
        return f"{item.module} imports {item.imported}, an internal of the {target} service"
    return None


def violations():
    by_package = service_packages()
    return [reason for item in imports() if (reason := forbidden(item, by_package))]


def package_diagram():
    by_package = service_packages()
    every = modules()
    packages = sorted({package_of(module) for module in every})
    lines = ["top to bottom direction", "skinparam nodesep 30", "skinparam ranksep 60",
             "skinparam packageStyle folder"]
    for package in packages:
        members = sorted(module.rsplit(".", 1)[-1] for module in every
                         if package_of(module) == package and module != package)
        if not members:  # a namespace only (entrypoints/__init__.py)
            continue
        kind = f"service {by_package[package]}" if package in by_package else None
        rows = [" · ".join(members[start:start + 4]) for start in range(0, len(members), 4)]
        label = multiline(f"**{package}**", *([f"<i>{kind}</i>"] if kind else []), *rows)
        lines.append(f'rectangle "{label}" <<package>> as {ident(package)}')
    edges = {}
    for item in imports():
        edge = edges.setdefault((item.importer, item.package), {"leaves": set(), "bad": False})
        edge["leaves"].add(item.imported.rsplit(".", 1)[-1] if item.imported != item.package else "")
        edge["bad"] |= forbidden(item, by_package) is not None
    for (importer, package), edge in sorted(edges.items()):
        arrow = "..[#c0392b,bold]>" if edge["bad"] else "..>"
        label = "" if package in ("booking.kit", "booking") else " : " + ", ".join(sorted(edge["leaves"] - {""}))
        lines.append(f"{ident(importer)} {arrow} {ident(package)}{label.rstrip(' :')}")
    lines += [
        "legend right",
        "  Each box is a package with its modules; an arrow, an import (labelled with what",
        "  it imports, but for the kit's and the top package's modules, which anyone may use).",
        "  A service imports another service only for its published errors (exceptions);",
        "  the gateway also for its published schemas. A red arrow breaks that rule, and",
        "  tests/unit/test_diagrams.py fails while one exists.",
        "  <i>generated by booking diagrams from the import statements</i>",
        "endlegend",
    ]
    return document("package", "Booking: packages and their imports", lines)
