"""A case's documents as its page shows them: each page a picture (``<img>``), a PDF (``<object>``, with a link
inside for a browser that cannot show it), a link, or only named.

A document comes from the case's context, which its caller wrote: a page is Ballerine's ``{uri, type}`` (or
``url``, ``mimeType``), or a plain address. Only ``http``/``https`` addresses and ``data:`` URLs of pictures and
PDFs are ever put on the page; any other address (``javascript:``, ``data:text/html``) is named, never followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_IMAGE_TYPES = frozenset({"png", "jpg", "jpeg", "gif", "webp", "bmp", "svg", "image"})
_WEB_SCHEMES = ("http", "https")


@dataclass(frozen=True, slots=True)
class PageView:
    """One page of a document: ``kind`` is image, pdf, link (a web address of another type) or unshown."""

    kind: str
    url: str
    label: str


@dataclass(frozen=True, slots=True)
class DocumentView:
    """One document: its id (what a decision names), what it is, its decision and its pages."""

    document_id: str
    title: str
    status: str | None
    reason: str | None
    comment: str | None
    pages: list[PageView]
    data: dict[str, Any]


def _declared_type(page: dict[str, Any]) -> str:
    for key in ("type", "mimeType", "fileType"):
        value = page.get(key)
        if isinstance(value, str) and value:
            return value.lower()
    return ""


def _kind(url: str, declared: str) -> str:
    """What a page at ``url`` is, from its data: URL's media type, or its declared type and its path's ending."""
    if url.startswith("data:"):
        media = url[5:].split(",", 1)[0].split(";", 1)[0].strip().lower()
        if media.startswith("image/"):
            return "image"
        return "pdf" if media == "application/pdf" else "unshown"
    parts = urlsplit(url)
    if parts.scheme.lower() not in _WEB_SCHEMES or not parts.netloc:
        return "unshown"
    ending = parts.path.rsplit(".", 1)[-1].lower() if "." in parts.path else ""
    declared = declared.removeprefix("image/") if declared.startswith("image/") else declared
    if declared in ("pdf", "application/pdf") or (not declared and ending == "pdf"):
        return "pdf"
    if declared in _IMAGE_TYPES or declared.startswith("image") or (not declared and ending in _IMAGE_TYPES):
        return "image"
    return "link"


def page_view(page: Any, number: int) -> PageView:
    label = f"page {number}"
    if isinstance(page, str):
        url, declared = page.strip(), ""
    elif isinstance(page, dict):
        found = page.get("uri") or page.get("url") or ""
        url, declared = (found.strip() if isinstance(found, str) else ""), _declared_type(page)
    else:
        return PageView("unshown", "", label)
    kind = _kind(url, declared) if url else "unshown"
    return PageView(kind, url if kind != "unshown" else "", label)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def document_view(document: dict[str, Any], index: int) -> DocumentView:
    decision = document.get("decision")
    decision = decision if isinstance(decision, dict) else {}
    pages = document.get("pages")
    pages = pages if isinstance(pages, list) else []
    named = [_text(document.get(key)) for key in ("category", "type")]
    title = " · ".join(dict.fromkeys(name for name in named if name)) or f"Document {index + 1}"
    return DocumentView(
        document_id=str(document.get("id") or ""),
        title=title,
        status=_text(decision.get("status")),
        reason=_text(decision.get("rejectionReason")) or _text(decision.get("revisionReason")),
        comment=_text(decision.get("comment")),
        pages=[page_view(page, number) for number, page in enumerate(pages, start=1)],
        data={key: value for key, value in document.items() if key not in ("pages", "decision")},
    )


def document_views(documents: Any) -> list[DocumentView]:
    """The context's ``documents`` (anything else: none), in their order."""
    if not isinstance(documents, list):
        return []
    return [document_view(document, index) for index, document in enumerate(documents) if isinstance(document, dict)]
