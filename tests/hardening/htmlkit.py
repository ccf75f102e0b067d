"""Markdown rendered the way a pull-request comment is, and the resulting HTML read back as elements.

markdown-it-py is a CommonMark parser; with GFM tables and strikethrough enabled and raw HTML
passed through, it renders what GitHub renders before sanitizing. Whatever a spec smuggled into
the Markdown shows up here as an element, a comment, a table row or an attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from markdown_it import MarkdownIt

_GITHUB_LIKE = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


@dataclass
class Element:
    tag: str
    attrs: list[tuple[str, str | None]]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def find(self, tag: str) -> list[Element]:
        """Descendants with this tag, in document order."""
        found = []
        for child in self.children:
            if child.tag == tag:
                found.append(child)
            found += child.find(tag)
        return found


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("root", [])
        self.open = [self.root]
        self.comments: list[str] = []
        self.declarations: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, attrs)
        self.open[-1].children.append(element)
        if tag not in ("img", "br", "hr", "input"):
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text += data

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_decl(self, decl: str) -> None:
        self.declarations.append(decl)

    def unknown_decl(self, data: str) -> None:
        self.declarations.append(data)


@dataclass(frozen=True)
class Rendered:
    html: str
    root: Element
    comments: tuple[str, ...]

    def tags(self) -> set[str]:
        return {element.tag for element in _walk(self.root)}

    def attributes(self) -> list[tuple[str, list[tuple[str, str | None]]]]:
        return [(element.tag, element.attrs) for element in _walk(self.root) if element.attrs]


def _walk(element: Element) -> list[Element]:
    out = []
    for child in element.children:
        out.append(child)
        out += _walk(child)
    return out


def render(markdown: str) -> Rendered:
    html = _GITHUB_LIKE.render(markdown)
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return Rendered(html, reader.root, tuple(reader.comments + reader.declarations))


def rows(table: Element) -> list[list[str]]:
    """The body rows of a table, as the text of their cells."""
    return [[cell.text for cell in row.find("td")] for row in table.find("tr") if row.find("td")]
