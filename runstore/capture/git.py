"""Git state of the code a run executes: commit, branch, remote, dirty flag, untracked files, diff."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..base import env as _env
from ..base.urls import strip_credentials

MAX_UNTRACKED = 1000


def find_root(start: str | os.PathLike[str]) -> Path | None:
    """The work tree containing `start` (like git itself: the nearest ancestor holding `.git`)."""
    here = Path(start).absolute()
    for d in (here, *here.parents):
        if (d / ".git").exists():
            return d
    return None


def capture(
    start: str | os.PathLike[str], want_diff: bool = True, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], bytes | None]:
    """({commit, branch, remote, dirty, root, untracked}, diff bytes or None) for the repo at `start`.

    Outside a repository both are empty and nothing is printed: most scripts that are not in git
    simply have no git state. `WANDB_GIT_COMMIT` / `WANDB_GIT_REMOTE_URL` override what git says.
    """
    git_root = _env.get("git_root", environ)
    root = Path(git_root) if git_root else find_root(start)
    info: dict[str, Any] = {}
    diff: bytes | None = None
    if root is not None:
        try:
            import git

            repo = git.Repo(root)
            info["root"] = str(root)
            try:
                info["commit"] = repo.head.commit.hexsha
            except ValueError:
                info["commit"] = None  # a repository without commits yet
            info["branch"] = None if repo.head.is_detached else repo.active_branch.name
            remote = next((r for r in repo.remotes if r.name == "origin"), None) or next(
                iter(repo.remotes), None
            )
            if remote is not None:
                urls = list(remote.urls)
                if urls:
                    info["remote"] = strip_credentials(urls[0])
            untracked = repo.untracked_files
            info["untracked"] = untracked[:MAX_UNTRACKED]
            if len(untracked) > MAX_UNTRACKED:
                info["untracked_truncated"] = len(untracked)
            if info["commit"]:
                info["dirty"] = repo.is_dirty(untracked_files=False)
                if want_diff and info["dirty"]:
                    # Staged and unstaged changes against HEAD, with binary files and renames, as raw
                    # bytes (a decoded string would mangle non-UTF-8 files and drop the final newline).
                    diff = repo.git.diff(
                        "HEAD", "--binary", "-M", stdout_as_string=False, strip_newline_in_stdout=False
                    )
            else:
                info["dirty"] = bool(untracked) or repo.is_dirty(untracked_files=False)
        except Exception as e:  # a broken or foreign repository must not stop the run
            info = {"root": str(root), "error": f"{type(e).__name__}: {e}"[:300]}
            diff = None
    commit, remote_url = _env.get("git_commit", environ), _env.get("git_remote_url", environ)
    if commit:
        info["commit"] = commit
    if remote_url:
        info["remote"] = strip_credentials(remote_url)
    return info, (diff or None)
