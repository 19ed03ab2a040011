"""The few PlantUML phrases every diagram shares."""

HEADER = """\
skinparam shadowing false
skinparam defaultFontName DejaVu Sans
skinparam defaultFontSize 13
skinparam roundCorner 8
skinparam ArrowColor #444444
skinparam ArrowFontColor #333333
skinparam ArrowFontSize 11
skinparam componentStyle uml2"""


def document(name, title, lines, footer=None):
    """A whole .puml text: `@startuml name`, the shared look, a title, the lines."""
    body = [f"@startuml {name}", HEADER, f"title {title}", *lines]
    if footer:
        body.append(f"footer {footer}")
    body.append("@enduml")
    return "\n".join(body) + "\n"


def ident(text):
    """A PlantUML identifier from any name ("search-2" -> "search_2")."""
    return "".join(char if char.isalnum() else "_" for char in text)


def multiline(*lines):
    return "\\n".join(lines)
