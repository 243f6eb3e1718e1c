"""``idl-book walk``: read the built book as a reader does, in headless Chromium, and list what gets in the way.

Every HTML page of ``_build/html/book/`` is opened at a reader's window width (1280 px by default) and
measured in the browser: code blocks, printed output, tables and display equations that scroll sideways;
tables wider than the text column; tables that show an unnamed pandas index; snake_case column headers;
raw Python reprs (``<… at 0x…>``, a printed ``{1.0: …}`` dict); settings dumps (``= None``); figures
without a caption or with a file name as alt text; launch links to a placeholder repository; and the
lines of code a reader sees unfolded (the whole book: at most :data:`MAX_VISIBLE_CODE_LINES`).

It needs a browser, which the book itself does not: ``pip install playwright`` and a Chromium
(Debian: ``apt-get install chromium``; or ``$IDL_CHROMIUM`` names the executable). The measuring is in
:data:`MEASURE_JS`; the judging in :func:`faults`, a pure function the tests check.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import socketserver
import threading
from pathlib import Path

#: what the issue asks of the whole book: at most this many lines of unfolded code
MAX_VISIBLE_CODE_LINES = 400
#: a pixel of rounding is not a scroll bar
_SLACK_PX = 2

MEASURE_JS = r"""
() => {
  const art = document.querySelector('article') || document.querySelector('main') || document.body;
  const column = art.getBoundingClientRect().width;
  const seen = el => { const r = el.getBoundingClientRect();
                       return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  const short = el => (el.innerText || '').replace(/\s+/g, ' ').trim().slice(0, 70);
  let codeLines = 0;
  document.querySelectorAll('div.cell_input').forEach(ci => {
    if (seen(ci)) codeLines += ci.innerText.split('\n').filter(s => s.trim()).length; });
  const scrolls = [];
  document.querySelectorAll('pre, div.cell_output, div.output, table, mjx-container').forEach(el => {
    if (seen(el) && el.scrollWidth > el.clientWidth + 2 && getComputedStyle(el).overflowX !== 'visible')
      scrolls.push({what: el.tagName.toLowerCase(), width: el.scrollWidth, text: short(el)}); });
  const tables = [...document.querySelectorAll('table')].filter(seen);
  const wide = tables.filter(t => t.getBoundingClientRect().width > column + 2)
                     .map(t => ({width: Math.round(t.getBoundingClientRect().width), text: short(t)}));
  const index = tables.filter(t => t.querySelector('tbody th') &&
                                   [...t.querySelectorAll('thead th')].some(th => !th.innerText.trim()))
                      .map(short);
  const snake = [...document.querySelectorAll('table thead th')].filter(seen).map(th => th.innerText.trim())
                  .filter(h => /^[a-z0-9]+(_[a-z0-9]+)+$/.test(h));
  const figures = [...document.querySelectorAll('img')].filter(seen).map(i => {
    const fig = i.closest('figure');
    return {alt: i.getAttribute('alt') || '', caption: fig && fig.querySelector('figcaption') ? short(fig.querySelector('figcaption')) : ''}; });
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href).filter(h => /OWNER|\/USER\/|example\.com/.test(h));
  const text = document.body.innerText;
  return {column, codeLines, scrolls, wide, index, snake, figures, links, height: document.documentElement.scrollHeight,
          reprs: text.match(/<[\w.]+( object)? at 0x[0-9a-f]+>|\{\d+(\.\d+)?: [\d.]+, /g) || [],
          dumps: text.match(/\b\w+ = None\b/g) || []};
}
"""


def faults(m: dict) -> list[str]:
    """What a reader trips over on one page, one short line each, from :data:`MEASURE_JS`'s measurement."""
    out = [f"scrolls sideways: {s['what']} {s['width']} px ({s['text'][:40]!r})" for s in m.get("scrolls", [])]
    out += [f"table wider than the {m.get('column', 0):.0f} px column: {t['width']} px ({t['text'][:40]!r})"
            for t in m.get("wide", [])]
    out += [f"table shows an unnamed index ({t[:40]!r})" for t in m.get("index", [])]
    out += [f"snake_case header: {h}" for h in sorted(set(m.get("snake", [])))]
    out += [f"raw repr: {r}" for r in m.get("reprs", [])]
    out += [f"settings dump: {d}" for d in m.get("dumps", [])]
    for f in m.get("figures", []):
        alt = f.get("alt", "")
        if not f.get("caption"):
            out.append(f"figure without a caption (alt {alt[:40]!r})")
        if not alt or re.search(r"[0-9a-f]{16}", alt) or alt.endswith((".png", ".svg", ".jpg")):
            out.append(f"figure without real alt text ({alt[:40]!r})")
    out += [f"placeholder link: {h}" for h in m.get("links", [])]
    return out


def book_faults(pages: dict[str, dict]) -> list[str]:
    """Faults of the whole book (beyond each page's): too much unfolded code."""
    total = sum(m.get("codeLines", 0) for m in pages.values())
    return ([f"{total} lines of unfolded code in the book (at most {MAX_VISIBLE_CODE_LINES})"]
            if total > MAX_VISIBLE_CODE_LINES else [])


class WalkError(RuntimeError):
    """No browser to walk with, or no built book to walk."""


def _chromium() -> str:
    for exe in (os.environ.get("IDL_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                shutil.which("google-chrome")):
        if exe and Path(exe).exists():
            return exe
    raise WalkError("no Chromium found: install one (Debian: `apt-get install chromium`) or set $IDL_CHROMIUM "
                    "to its executable")


def pages_of(html: Path) -> list[str]:
    """The book's pages, relative to ``html`` (the question pages, the scorecard, the how-to)."""
    return sorted(p.relative_to(html).as_posix() for p in (html / "book").rglob("*.html"))


def walk(html: Path, *, width: int = 1280, screenshots: Path | None = None, progress=print) -> dict[str, dict]:
    """Open every page of the built book at ``width`` px and measure it; ``{page: measurement}``."""
    html = Path(html)
    if not (html / "book").is_dir():
        raise WalkError(f"{html}: no built book here (run `idl-book build` first, or pass --html)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise WalkError("the walk drives a browser with Playwright: `pip install playwright` "
                        "(its own browser download is not needed; a system Chromium is used)") from None
    exe = _chromium()
    handler = functools.partial(_QuietHandler, directory=str(html))
    with socketserver.TCPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        out = {}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=exe, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--no-first-run"])
                page = browser.new_page(viewport={"width": width, "height": 900})
                for rel in pages_of(html):
                    page.goto(f"{base}/{rel}", wait_until="networkidle", timeout=60_000)
                    page.wait_for_timeout(300)  # MathJax typesets after the load event
                    out[rel] = page.evaluate(MEASURE_JS)
                    if screenshots is not None:
                        screenshots.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(screenshots / (rel.replace("/", "_") + ".png")))
                    progress(f"  {rel}: {len(faults(out[rel]))} fault(s)")
                browser.close()
        finally:
            server.shutdown()
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request log on the terminal
        pass


def report(pages: dict[str, dict]) -> tuple[str, int]:
    """The walk as text (each page's faults, then the book's) and the number of faults."""
    lines, n = [], 0
    for rel, m in pages.items():
        fs = faults(m)
        n += len(fs)
        lines.append(f"{rel}: {m.get('codeLines', 0)} code lines unfolded, {m.get('height', 0):,} px tall"
                     + ("" if fs else " — no faults"))
        lines += [f"    {f}" for f in fs]
    whole = book_faults(pages)
    n += len(whole)
    total = sum(m.get("codeLines", 0) for m in pages.values())
    lines.append(f"\n{len(pages)} pages, {total} lines of unfolded code; "
                 + (f"{n} fault(s)" if n else "no faults"))
    lines += [f"    {f}" for f in whole]
    return "\n".join(lines), n


def write_json(pages: dict[str, dict], path: Path) -> None:
    Path(path).write_text(json.dumps({rel: {**m, "faults": faults(m)} for rel, m in pages.items()}, indent=1))
