"""The server's access tokens: shown once, kept only as hashes, in the store it serves.

`<store>/server/tokens.jsonl` (mode 0600, never synced: the file kinds know nothing under `server/`) is
append-only: `{"t": "token", "id", "name", "scope", "project", "hash", "created"}` creates a token,
`{"t": "revoke", "id", "time"}` revokes it. A token is `rs_<id>_<secret>`: the id finds the record, the
SHA-256 of the secret is compared in constant time (the secret is 32 random bytes: a slow hash would
add nothing an attacker could not already not guess).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..store import jsonl
from ..store import layout as L

SCOPES = ("read", "write", "admin")


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    scope: str  # read < write < admin
    project: str | None  # None: every project
    created: float
    revoked: bool = False

    def allows(self, scope: str) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(scope)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "project": self.project,
            "created": self.created,
            "revoked": self.revoked,
        }


class Tokens:
    """The tokens of the store at `root` (re-read when the file changes: `token create` in another
    process takes effect at the server's next request)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.path = Path(root) / L.SERVER_DIR / L.SERVER_TOKENS
        self._sig: tuple[int, int] | None = None
        self._by_id: dict[str, tuple[Token, str]] = {}

    def _load(self) -> dict[str, tuple[Token, str]]:
        try:
            st = os.stat(self.path)
            sig = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            self._sig, self._by_id = None, {}
            return self._by_id
        if sig == self._sig:
            return self._by_id
        records, _ = jsonl.read(self.path)
        out: dict[str, tuple[Token, str]] = {}
        for r in records:
            if not isinstance(r, dict):
                continue
            if r.get("t") == "token" and isinstance(r.get("id"), str) and isinstance(r.get("hash"), str):
                scope = r.get("scope") if r.get("scope") in SCOPES else "read"
                project = r.get("project") if isinstance(r.get("project"), str) else None
                tok = Token(
                    r["id"], str(r.get("name") or ""), str(scope), project, float(r.get("created") or 0)
                )
                out[r["id"]] = (tok, r["hash"])
            elif r.get("t") == "revoke" and r.get("id") in out:
                tok, h = out[r["id"]]
                out[r["id"]] = (Token(tok.id, tok.name, tok.scope, tok.project, tok.created, True), h)
        self._sig, self._by_id = sig, out
        return out

    def any(self) -> bool:
        return any(not t.revoked for t, _ in self._load().values())

    def list(self) -> list[Token]:
        return sorted((t for t, _ in self._load().values()), key=lambda t: t.created)

    def _append(self, rec: dict[str, Any]) -> None:
        L.make_dirs(self.path.parent)
        fd = jsonl.open_write(self.path, os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)  # a file of secrets' hashes: nobody else reads it
            jsonl.write_all(fd, orjson.dumps(rec) + b"\n")
        finally:
            os.close(fd)

    def create(self, name: str, scope: str = "write", project: str | None = None) -> tuple[Token, str]:
        """A new token and its secret string (shown once: only its hash is kept)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        if not isinstance(name, str) or not name.strip() or len(name) > 100 or not name.isprintable():
            raise ValueError("a token needs a name of 1-100 printable characters (--name ci)")
        if project is not None:
            L.check_name("project", project)
        tid = secrets.token_hex(4)
        while tid in self._load():
            tid = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        tok = Token(tid, name.strip(), scope, project, time.time())
        self._append(
            {
                "t": "token",
                **{k: v for k, v in tok.to_dict().items() if k != "revoked"},
                "hash": _hash(secret),
            }
        )
        return tok, f"rs_{tid}_{secret}"

    def revoke(self, token_id: str) -> Token:
        known = self._load().get(token_id)
        if known is None:
            raise KeyError(f"no token {token_id!r} (see `runstore server token ls`)")
        self._append({"t": "revoke", "id": token_id, "time": time.time()})
        t = known[0]
        return Token(t.id, t.name, t.scope, t.project, t.created, True)

    def check(self, presented: str) -> Token | None:
        """The live token `presented` is, or None."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != "rs":
            return None
        known = self._load().get(parts[1])
        if known is None or known[0].revoked:
            return None
        return known[0] if hmac.compare_digest(_hash(parts[2]), known[1]) else None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


__all__ = ["Token", "Tokens", "SCOPES"]
