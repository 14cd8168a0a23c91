"""A browsable static site of sessions: one page per session and an index page with a filter box.

Everything a page needs is inside it (styles and the filter's few lines of script), so the folder opens
from disk in any browser, with no server and nothing fetched: a Content-Security-Policy allows the
page's own style and script only, and an image in a message is a link to it. Session pages are the
markdown export rendered to HTML; raw HTML in a message is shown as text, never run.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
from typing import Any

from markdown_it import MarkdownIt

from ..archive.session import Session
from .markdown import IndexEntry, human_time, to_markdown

STYLE = """
body{font:16px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1f21;background:#fafafa}
main{max-width:52rem;margin:0 auto;padding:1.5rem 1rem 4rem}
a{color:#0b5cad}h1{font-size:1.5rem;line-height:1.3}h3{margin:.2rem 0;font-size:1rem;color:#555}
pre{background:#f0f1f3;padding:.8rem;overflow-x:auto;border-radius:6px;font-size:.9rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
p code,li code{background:#f0f1f3;padding:0 .25rem;border-radius:4px}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}hr{border:0;border-top:1px solid #ddd;margin:1.5rem 0}
blockquote{color:#666;margin-left:0;padding-left:1rem;border-left:3px solid #ddd}
#filter{width:100%;font-size:1rem;padding:.5rem;box-sizing:border-box;margin:.5rem 0 1rem}
.sessions td:first-child{white-space:nowrap;color:#555}.count{color:#555}
"""

FILTER_SCRIPT = """
const box = document.getElementById("filter");
const rows = Array.from(document.querySelectorAll("tbody tr"));
const count = document.getElementById("count");
function apply() {
  const words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  for (const row of rows) {
    const keep = words.every((word) => row.dataset.text.includes(word));
    row.hidden = !keep;
    if (keep) shown += 1;
  }
  count.textContent = shown + " of " + rows.length + " sessions";
}
box.addEventListener("input", apply);
const asked = new URLSearchParams(location.search).get("q");
if (asked) box.value = asked;
apply();
"""


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


POLICY = (
    f"default-src 'none'; style-src {_digest(STYLE)}; script-src {_digest(FILTER_SCRIPT)}; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
"""Nothing from the network, ever (a reply's ``![x](https://host/?leak=...)`` would otherwise be
fetched when the page opens): the page's own style and filter script only, by their hashes."""


def _image_as_link(renderer: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
    """An image of a message as a link to it: a page never loads anything by itself."""
    token = tokens[index]
    source = str(token.attrGet("src") or "")
    alt = renderer.renderInlineAsText(token.children or [], options, env) or source
    return f'<a href="{html.escape(source)}" rel="noreferrer">[image: {html.escape(alt)}]</a>'


@functools.lru_cache(maxsize=1)
def _markdown() -> Any:
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    renderer.add_render_rule("image", _image_as_link)
    return renderer


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


def session_page(session: Session, *, standalone: bool = False) -> str:
    """One session as a page: the markdown export rendered, with a link back to the index (none for
    a page that stands alone, ``ollm export ID --format html > page.html``)."""
    body = _markdown().render(to_markdown(session))
    back = "" if standalone else '<p><a href="index.html">&larr; all sessions</a></p>\n'
    return _page(session.title or session.session_id, back + body)


def index_page(
    entries: list[IndexEntry], links: list[tuple[str, str]] | None = None, heading: str = "Chat sessions"
) -> str:
    """The list of sessions, newest first, with a box that filters them as you type (``?q=`` fills it),
    and links to the folder's other pages (``links``: (file, text))."""
    rows = []
    for entry in sorted(entries, key=lambda e: e.started, reverse=True):
        day = human_time(entry.started)[:16]
        searchable = " ".join([day, entry.model, entry.provider, entry.title, entry.session_id]).lower()
        rows.append(
            f'<tr data-text="{html.escape(searchable)}"><td>{html.escape(day)}</td>'
            f"<td>{html.escape(entry.model)}</td>"
            f'<td><a href="{html.escape(entry.session_id)}.html">{html.escape(entry.title)}</a></td>'
            f"<td>{entry.messages}</td></tr>"
        )
    shown = " · ".join(f'<a href="{html.escape(name)}">{html.escape(text)}</a>' for name, text in links or [])
    body = (
        f"<h1>{html.escape(heading)}</h1>\n" + (f"<p>{shown}</p>\n" if shown else "") + ""
        '<input id="filter" type="search" placeholder="Filter by words in the title, model or date" '
        'autofocus>\n<p class="count" id="count"></p>\n'
        '<table class="sessions"><thead><tr><th>Started</th><th>Model</th><th>Title</th>'
        "<th>Messages</th></tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody></table>\n"
        f"<script>{FILTER_SCRIPT}</script>"
    )
    return _page(heading, body)
