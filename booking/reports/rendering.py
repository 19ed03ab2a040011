"""Rendering a template: validate its data, lay it out, describe the file."""
import base64
import hashlib

from eventlet import tpool
from eventlet.semaphore import Semaphore
from marshmallow import fields

from booking.kit.schemas import load
from booking.reports import document, fonts
from booking.reports.exceptions import UnknownTemplate
from booking.reports.templates import TEMPLATES

# reportlab keeps global state and is not thread-safe: one document at a time per
# process (it is CPU-bound, so a second thread would gain nothing under the GIL)
ONE_AT_A_TIME = Semaphore()


def template(name):
    try:
        return TEMPLATES[name]
    except (KeyError, TypeError):
        raise UnknownTemplate(details={"template": str(name)[:100], "known": ", ".join(TEMPLATES)}) from None


def render(name, data):
    """{filename, content_type, content_base64, pages, sha256, size} of the PDF."""
    chosen = template(name)
    valid = load(chosen.DataSchema(), data if isinstance(data, dict) else {"data": data})
    fonts.register()
    # reportlab is CPU-bound pure Python: a real thread keeps the eventlet hub serving
    with ONE_AT_A_TIME:
        pdf, pages = tpool.execute(lambda: document.build(chosen.title, chosen.flowables(valid), chosen.title))
    return {
        "filename": chosen.filename(valid),
        "content_type": "application/pdf",
        "content_base64": base64.b64encode(pdf).decode(),
        "pages": pages,
        "sha256": hashlib.sha256(pdf).hexdigest(),
        "size": len(pdf),
    }


def describe():
    """Each template with the fields it needs."""
    return [{"name": name, "title": module.title, "fields": fields_of(module.DataSchema())}
            for name, module in TEMPLATES.items()]


def fields_of(schema):
    described = []
    for name, field in schema.fields.items():
        entry = {"name": name, "type": type(field).__name__.lower(), "required": field.required}
        if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            entry["fields"] = fields_of(field.inner.schema)
        described.append(entry)
    return described
