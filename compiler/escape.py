"""escape: user-controlled text made safe for each place trtdeploy prints it.

Spec values, keys, file names and messages that quote them are untrusted: in CI a pull
request from a fork writes them, and the output goes to a terminal, a CI log, GitHub
annotations and a pull-request comment. Every renderer passes such text through one of
these functions, so that it shows as written and can never start a line, a table row, an
HTML element, a terminal escape sequence or a workflow command of its own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

# What a terminal, a log viewer or a renderer would act on instead of showing: C0 and C1
# controls (ESC, CR, LF, NEL...), DEL, the Unicode line and paragraph separators, the bidi
# controls that reorder what a reviewer sees (trojan-source), and lone surrogates (from file
# names that are not UTF-8; no output stream can encode them).
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Inline Markdown constructs start at these: code, emphasis, links and images, raw HTML and
# entities, GFM tables, strikethrough and math. A backslash escapes any ASCII punctuation.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&!|~$])")
_BACKTICK_RUN = re.compile("`+")


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """One line of plain text: every control, separator, bidi control and lone surrogate as a visible escape.

    LF, CR and TAB show as \\n, \\r and \\t; the others as \\xNN or \\uNNNN (ESC as \\x1b).
    """
    return _INVISIBLE.sub(_escape_one, text)


def markdown_text(text: str) -> str:
    """Text inside a Markdown line (a table cell, a list item): shows literally, starts no construct.

    Newlines and other controls become visible escapes first, so no line, row or block can
    begin inside it; then every character that opens an inline construct is backslash-escaped
    (a backslash too, so that every backslash in the result escapes the character after it).
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", visible(text))


def markdown_code(text: str) -> str:
    """Text shown as code inside a Markdown line, table cells included.

    A `<code>` element around escaped text rather than a backtick code span: inside a GFM
    table, GitHub splits cells at a pipe before it reads code spans, and a code span cannot
    escape a backslash.
    """
    return f"<code>{markdown_text(text)}</code>"


def html_text(text: str) -> str:
    """Text inside raw HTML (a `<summary>` line of a pull-request comment)."""
    return html.escape(visible(text), quote=True)


def fenced(lines: Iterable[str], info: str = "") -> list[str]:
    """A fenced code block: each line made visible, and a fence longer than any run of backticks inside."""
    shown = [visible(line) for line in lines]
    longest = max((len(run) for line in shown for run in _BACKTICK_RUN.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *shown, fence]


def annotation_data(text: str) -> str:
    """The message of a GitHub Actions workflow command.

    Its own line breaks show as line breaks in the annotation, so callers pass each user-controlled
    part through `visible` first and join the parts with newlines.
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotation_property(text: str) -> str:
    """A property value (file=, title=) of a GitHub Actions workflow command."""
    return annotation_data(visible(text)).replace(":", "%3A").replace(",", "%2C")
