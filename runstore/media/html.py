"""wandb.Html: an HTML string, file or stream → `media/html/….html` + an `html-file` reference."""

from __future__ import annotations

import os
from typing import Any

from ._util import file_ref, source_file
from .base import BindContext, Media

# What wandb prepends so links open in a new tab. wandb also links its app's stylesheet from
# app.wandb.ai: a request to wandb's servers from every viewing of a local page (and an error offline,
# or under the dashboard's sandbox CSP), so that part is not copied.
_INJECT = '<base target="_blank">'


class Html(Media):
    _log_type = "html-file"

    def __init__(self, data: Any, inject: bool = True, data_is_not_path: bool = False) -> None:
        if isinstance(data, os.PathLike):
            data = os.fspath(source_file(data, "Html"))
            is_path = True
        else:
            is_path = isinstance(data, str) and not data_is_not_path and os.path.isfile(data)
        if is_path:
            with open(data, encoding="utf-8") as f:
                self.html = f.read()
        elif isinstance(data, str):
            if not data_is_not_path and "<" not in data and data.lower().endswith((".html", ".htm")):
                # looks like a file name, not markup: most likely a typo in a path
                raise ValueError(
                    f"Html: file not found: {data!r} (pass data_is_not_path=True to log the text itself)"
                )
            self.html = data
        elif hasattr(data, "read"):
            if hasattr(data, "seek"):
                data.seek(0)
            text = data.read()
            self.html = text.decode("utf-8") if isinstance(text, bytes) else str(text)
        else:
            raise TypeError(
                f"Html accepts an HTML string, a file path or a file object, not {type(data).__name__}"
            )
        if inject:
            self.inject_head()

    def inject_head(self) -> None:
        if "<head>" in self.html:
            parts = self.html.split("<head>", 1)
            parts[0] += "<head>"
        elif "<html>" in self.html:
            parts = self.html.split("<html>", 1)
            parts[0] += "<html><head>"
            parts[1] = "</head>" + parts[1]
        else:
            parts = ["", self.html]
        parts.insert(1, _INJECT)
        self.html = "".join(parts).strip()

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        return file_ref(ctx, self._log_type, "html", key, step, self.html.encode("utf-8"), "html")

    @classmethod
    def bind_list(cls, items: list[Media], ctx: BindContext, key: str, step: int) -> Any:
        refs = [m.bind(ctx, key, step) for m in items]
        return {"_type": "html", "count": len(refs), "html": refs}
