"""Fonts embedded in every document: DejaVu Sans for Latin, Greek and Cyrillic
("Zoë Ångström", "Łódź"), IPA Gothic for Japanese and Chinese ("東京"). Both come
from the OS packages `fonts-dejavu-core` and `fonts-ipafont-gothic`.

reportlab does not fall back from one font to another by itself, so `markup()`
wraps each run of CJK characters in the CJK font.
"""
import re
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from booking.reports.exceptions import FontsMissing

SEARCH = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/opentype/ipafont-gothic"),
          Path("/usr/share/fonts/truetype/ipafont-gothic"), Path("/usr/share/fonts")]
FILES = {"Sans": "DejaVuSans.ttf", "Sans-Bold": "DejaVuSans-Bold.ttf", "CJK": "ipag.ttf"}
CJK = re.compile(r"([\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+)")
_registered = False


def find(filename):
    for folder in SEARCH:
        found = next(iter(folder.rglob(filename)), None) if folder.is_dir() else None
        if found:
            return found
    raise FontsMissing(details={"font": filename})


def register():
    """Register the fonts with reportlab once per process."""
    global _registered
    if _registered:
        return
    for name, filename in FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(find(filename))))
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping("Sans", bold, italic, "Sans-Bold" if bold else "Sans")
            addMapping("Sans-Bold", bold, italic, "Sans-Bold")
            addMapping("CJK", bold, italic, "CJK")
    _registered = True


def markup(text):
    """`text` made safe for a Paragraph, with CJK runs in the CJK font."""
    return CJK.sub(r'<font name="CJK">\1</font>', escape(str(text)))
