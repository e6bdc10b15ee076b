"""A Sphinx extension of this book: every page loads each of its scripts once.

Sphinx 7.4 adds the scripts that extensions register after the builder starts (sphinx-thebe's
inline configuration, sphinx-togglebutton's selector) a second time while writing, and a page
that declares ``const THEBE_JS_URL`` twice stops with a JavaScript error. This drops the repeats
from every page's list of scripts, keeping the first of each.
"""

from __future__ import annotations


def _dedupe(app, pagename, templatename, context, doctree) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", None) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    if "script_files" in context:
        context["script_files"][:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
