"""`runstore restore`: put a run's exact code back (its commit plus its diff.patch) and its config."""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import UsageError
from ..store import jsonl
from ..store.layout import REPLACED, RestorePaths
from ..store.runs import RunState
from ..store.store import Store
from . import git as gitcap


@dataclass
class Restored:
    run_id: str
    branch: str | None = None
    commit: str | None = None
    patched: bool = False
    stash: str | None = None
    paths: RestorePaths | None = None
    files: list[str] = field(default_factory=list)
    command: str = ""


def config_yaml(config: dict[str, Any]) -> str:
    """wandb's config.yaml format: `wandb_version: 1` then `key: {value: v}` per top-level key."""
    body = {k: {"value": v} for k, v in config.items() if k != "_wandb"}
    return "wandb_version: 1\n\n" + yaml.safe_dump(body, sort_keys=True, allow_unicode=True)


def rerun_command(st: RunState) -> str:
    meta, info = st.metadata, st.info
    program = meta.get("codePath") or info.get("program") or ""
    if not program or program.startswith("<"):
        return ""
    args = [str(a) for a in info.get("args") or []]
    if program in ("-m", "-c") or program.endswith(".py"):
        return shlex.join(["python", program, *args])
    return shlex.join([program, *args])  # a wrapped executable (`runstore run -- ./train.sh`)


def restore(
    store: Store, st: RunState, cwd: Path, *, use_git: bool = True, branch: bool = True, force: bool = False
) -> Restored:
    out = Restored(run_id=st.id, command=rerun_command(st))
    if use_git:
        _restore_git(st, cwd, out, branch=branch, force=force, store_root=store.root)
    paths = out.paths = store.restore_paths(st.id)
    paths.dir.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(config_yaml(st.config))
    if st.ref.requirements.is_file():
        shutil.copyfile(st.ref.requirements, paths.requirements)
    if not use_git:
        # What the program saved (kind `replaced`) and the copy of its source, not the run's records of
        # itself (media, output.log, diff.patch, requirements.txt).
        code = st.ref.code_dir
        for f in st.ref.files():
            if f.kind != REPLACED and code not in f.path.parents:
                continue
            rel = st.ref.files_rel(f.path)
            dest = paths.files_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:  # never through a symlink planted in the run since it was listed
                with jsonl.open_read(f.path) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except FileNotFoundError:
                continue
            out.files.append(rel)
    return out


def patch_paths(repo: Any, patch: Path) -> list[str]:
    """The paths a patch creates, changes, deletes or renames (both sides), as git reads them."""
    raw = repo.git.apply("--numstat", "-z", str(patch))
    out = []
    for item in raw.split("\0"):
        # `added<TAB>deleted<TAB>path`, or for a rename `added<TAB>deleted<TAB>` then the two paths
        name = item.split("\t")[-1] if "\t" in item else item
        if name:
            out.append(name)
    return out


def _restore_git(
    st: RunState, cwd: Path, out: Restored, *, branch: bool, force: bool, store_root: Path
) -> None:
    import git

    info = st.metadata.get("git") or {}
    commit = info.get("commit")
    if not commit:
        raise UsageError(
            f"run {st.id} was not captured inside a git repository (no commit recorded); "
            "use --no-git to restore its config and files"
        )
    root = gitcap.find_root(cwd)
    if root is None:
        hint = f"git clone {info['remote']}" if info.get("remote") else "clone the repository"
        raise UsageError(
            f"{cwd} is not inside a git repository; {hint} and run restore there, or use --no-git"
        )
    repo = git.Repo(root)
    try:
        repo.commit(commit)
    except (ValueError, git.BadName, git.GitCommandError):
        raise UsageError(
            f"commit {commit[:12]} of run {st.id} is not in {root}; `git fetch` it first "
            "(or restore in a clone of the run's repository)"
        ) from None
    if repo.is_dirty(untracked_files=False):
        if not force:
            raise UsageError(
                f"{root} has uncommitted changes; commit or stash them, or pass --force "
                "to stash them automatically"
            )
        out.stash = f"runstore restore {st.id}"
        repo.git.stash("push", "-m", out.stash)
    out.commit = commit
    if branch:
        name = f"runstore/{st.id}"
        if name in [h.name for h in repo.heads]:
            if repo.heads[name].commit.hexsha != commit:
                raise UsageError(f"branch {name} exists at another commit; delete it or pass --no-branch")
            repo.git.checkout(name)
        else:
            repo.git.checkout("-b", name, commit)
        out.branch = name
    else:
        repo.git.checkout("--detach", commit)
    patch = st.ref.diff_patch
    if patch.is_file() and patch.stat().st_size:
        _refuse_store_patch(repo, patch, Path(root), store_root)
        try:
            repo.git.apply("--binary", "--whitespace=nowarn", str(patch))
        except git.GitCommandError as e:
            detail = (e.stderr or "").strip().splitlines()
            raise UsageError(
                f"checked out {out.branch or commit[:12]}, but its diff.patch did not apply "
                f"({detail[0] if detail else 'git apply failed'}); the patch is at {patch}"
            ) from None
        out.patched = True


def _refuse_store_patch(repo: Any, patch: Path, root: Path, store_root: Path) -> None:
    """A run's diff.patch is data anyone writing the store could have written: it may change the
    user's code, never the store (settings.yaml, other runs) nor git's own files."""
    import git

    try:
        touched = patch_paths(repo, patch)
    except git.GitCommandError:
        return  # not a patch git can read: the apply below reports it
    store = store_root.resolve()
    for name in touched:
        target = (root / name).resolve()
        if target == store or store in target.parents or name.split("/")[0] == ".git":
            raise UsageError(
                f"refusing to apply {patch}: it changes {name}, inside "
                f"{'the runstore store ' + str(store) if name.split('/')[0] != '.git' else 'git'}; "
                "a run's patch only changes code (restore with --no-git to get its config and files)"
            )
