"""A Sphinx extension: a banner on every page of the book that is not current.

At build time each executed notebook is judged by :func:`idl_book.page_status.page_status`
(stale, failed or interrupted re-run, missing run record); pages that are not current get a
warning box above their content saying why and how to re-run them. A book built without its
source notebooks beside it (a copy of ``book/`` alone) gets no banners.
"""

from __future__ import annotations

import html
from pathlib import Path

TITLES = {"stale": "This page is stale", "failed": "The last re-run of this page failed",
          "interrupted": "The last re-run of this page was interrupted",
          "missing": "This page has no recorded run",
          "damaged": "This page or its results file is damaged"}


def collect(root: Path) -> dict[str, object]:
    """``{pagename: PageStatus}`` of the pages under ``root/book`` that are not current."""
    from .page_status import page_status

    root = Path(root)
    source_root, book_root = root / "notebooks", root / "book"
    if not source_root.is_dir() or not book_root.is_dir():
        return {}
    try:
        pages = page_status(source_root=source_root, book_root=book_root)
    except ValueError as exc:  # an unreadable run log: every page would be unknown; said, and
        # `idl-book build -W` refuses to build before Sphinx starts (cli.book_problems)
        import sys

        print(f"WARNING: no page banners: {exc}", file=sys.stderr)
        return {}
    out = {}
    for p, src in zip(pages, _sources(source_root)):
        if not p.ok:
            out["book/" + src.relative_to(source_root).with_suffix("").as_posix()] = p
    return out


def _sources(source_root: Path):
    from .pages import discover

    return discover(source_root)


def banner(status) -> str:
    again = f"idl-book run --profile {status.profile or 'quick'} --only {status.name}"
    return (f'<div class="admonition warning idl-page-status"><p class="admonition-title">'
            f'{html.escape(TITLES.get(status.state, status.state))}</p>'
            f'<p>{html.escape(status.detail)}. Re-run it with <code>{html.escape(again)}</code>.</p></div>\n')


def _builder_inited(app) -> None:
    app.env.idl_page_status = collect(Path(app.srcdir))


def _page_context(app, pagename, templatename, context, doctree) -> None:
    status = getattr(app.env, "idl_page_status", {}).get(pagename)
    if status is not None and "body" in context:
        context["body"] = banner(status) + context["body"]


def rewrite_book_pages(app, env, added, changed, removed):
    """``env-get-outdated``: re-write every page of the book. What the book's extensions add (this
    banner, :mod:`idl_book.answer_box`) comes from files outside the page (run logs, results),
    so an unchanged page may still need a new one."""
    return [d for d in env.found_docs if d.startswith("book/")]


def setup(app):
    app.connect("builder-inited", _builder_inited)
    app.connect("env-get-outdated", rewrite_book_pages)
    app.connect("html-page-context", _page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
