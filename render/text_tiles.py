"""Markdown of dashboard text tiles as safe HTML: raw HTML shows as text, and nothing is fetched or linked."""

from __future__ import annotations

import xml.etree.ElementTree as etree

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

_SAFE_SCHEMES = ("http://", "https://", "mailto:", "#")


class _SafeTree(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        for parent in root.iter():
            for index, child in enumerate(list(parent)):
                if child.tag == "img":
                    # The exporter never reaches the network: show the image's words instead.
                    span = etree.Element("span")
                    span.text = child.get("alt") or ""
                    span.tail = child.tail
                    parent.remove(child)
                    parent.insert(index, span)
                elif child.tag == "a" and not (child.get("href") or "").lower().startswith(_SAFE_SCHEMES):
                    child.attrib.pop("href", None)


class _NoRawHtml(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (markdown's API name)
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_SafeTree(md), "safe_tree", 0)


def markdown_to_html(text: str) -> str:
    return markdown.markdown(text, extensions=["tables", "sane_lists", _NoRawHtml()])
