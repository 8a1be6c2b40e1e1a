"""The shape of the code, checked: only runstore/store/ knows the on-disk layout, every environment
variable the code names is declared in the settings table (which the README's reference is generated
from), and the code's references to docs/COMPAT.md point at sections that exist.

The import layers themselves are checked by import-linter in `make lint` (pyproject.toml,
[tool.importlinter]).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from runstore.base import env
from runstore.sdk import settings as S
from runstore.store import layout as L

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "runstore"
_NAMES = {v for k, v in vars(L).items() if k.isupper() and isinstance(v, str) and k != "MARKER_SUFFIX"}
# Distinctive file names: forbidden outside the store as any string constant of their own.
_FILE_NAMES = {n for n in _NAMES if "." in n.strip(".") or "-" in n}


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _layout_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docs = _docstrings(tree)
    found = []

    def const(node: ast.AST) -> str | None:
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            parts = node.value.strip("/").split("/")
            if node.value in _FILE_NAMES or (len(parts) > 1 and all(p in _NAMES for p in parts)):
                found.append(f"{where}: {node.value!r}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            for side in (node.left, node.right):
                if const(side) in _NAMES:
                    found.append(f"{where}: ... / {const(side)!r}")
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if name in ("join", "joinpath", "Path", "with_name", "PurePath"):
                found += [f"{where}: {name}(..., {const(a)!r})" for a in node.args if const(a) in _NAMES]
        elif isinstance(node, ast.JoinedStr):
            text = "".join(const(v) or "\0" for v in node.values)
            for n in _NAMES:
                if re.search(rf"(^|[/\0]){re.escape(n)}($|[/\0])", text) and "/" in text:
                    found.append(f"{where}: f-string building a path with {n!r}")
    return found


def test_only_the_store_knows_the_layout() -> None:
    offenders = []
    for path in _modules():
        if PKG / "store" in path.parents:
            continue
        offenders += _layout_literals(path)
    assert not offenders, "store file or directory names outside runstore/store/:\n" + "\n".join(offenders)


def test_the_layout_check_catches_what_it_is_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from pathlib import Path\nimport os\n"
        'a = Path("x") / "history.jsonl"\nb = os.path.join("d", "files")\nc = f"{a}/runs/{b}"\n'
        'd = "system.jsonl"\ne = "projects/p"\n'
    )
    bad.rename(PKG / "_layout_probe.py")
    try:
        found = _layout_literals(PKG / "_layout_probe.py")
    finally:
        (PKG / "_layout_probe.py").unlink()
    assert len(found) == 5, found


# -- environment variables ---------------------------------------------------------------------------
_ENV_NAME = re.compile(r"^(RUNSTORE|WANDB)_[A-Z0-9_]+$")


def test_every_environment_variable_the_code_names_is_in_the_settings_table() -> None:
    known = env.ALL_ENV | env.WANDB_PRIVATE
    offenders = []
    for path in _modules():
        if path == PKG / "base" / "env.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for word in re.findall(r"\b(?:RUNSTORE|WANDB)_[A-Z0-9_]+\b", node.value):
                    if _ENV_NAME.match(word) and word not in known:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {word}")
    assert not offenders, "variables not declared in runstore/base/env.py VARS:\n" + "\n".join(offenders)


def test_only_the_settings_table_reads_the_environment_by_name() -> None:
    """No `os.environ.get("WANDB_X")`/`environ["RUNSTORE_X"]` outside base/env.py: reads go through the
    table, so every variable has its RUNSTORE_ twin and its parser."""
    offenders = []
    for path in _modules():
        if path == PKG / "base" / "env.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("get", "getenv")
            ):
                arg = node.args[0] if node.args else None
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and _ENV_NAME.match(arg.value)
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {arg.value}")
            key = (
                node.slice.value
                if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                else None
            )
            if isinstance(key, str) and _ENV_NAME.match(key):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {key}")
    assert not offenders, "\n".join(offenders)


def test_run_settings_are_the_fields_of_settings() -> None:
    fields = set(S.Settings.__dataclass_fields__)
    assert fields == {v.name for v in S.RUN_VARS} | set(S.INIT_ONLY)


def test_every_variable_has_its_runstore_twin_first() -> None:
    for v in env.VARS:
        assert v.env and v.env[0].startswith("RUNSTORE_"), v
        assert v.help.strip() and v.help.strip().endswith((".", ")")), v


def test_truthy_values_are_one_set_everywhere() -> None:
    from runstore.base import term
    from runstore.daemon import client

    for value in ("1", "true", "yes", "on", "Y", "T"):
        assert env.flag("daemon", {"RUNSTORE_DAEMON": value}) and client.enabled({"RUNSTORE_DAEMON": value})
        assert term.Terminal(environ={"WANDB_SILENT": value}).silent(), value
        assert S.from_env({"WANDB_SAVE_CODE": value})["save_code"] is True
    for value in ("0", "false", "no", "off", "N"):
        assert not client.enabled({"RUNSTORE_DAEMON": value})
        assert not term.Terminal(environ={"WANDB_SILENT": value}).silent(), value
        assert S.from_env({"WANDB_SAVE_CODE": value})["save_code"] is False


def test_the_readme_settings_reference_is_generated_from_the_table() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_settings_docs.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr + "\nrun `make docs`"
    readme = (ROOT / "README.md").read_text()
    for v in env.VARS:
        for var in v.env:
            assert f"`{var}`" in readme, f"README does not list {var}"


# -- docs/COMPAT.md ------------------------------------------------------------------------------------
def test_compat_references_point_at_existing_sections() -> None:
    compat = (ROOT / "docs" / "COMPAT.md").read_text()
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", compat, re.M))
    refs = []
    for path in [*_modules(), ROOT / "docs" / "FORMAT.md", ROOT / "README.md"]:
        text = path.read_text()
        old = re.search(r"(?<!COMPAT\.md )(?:contract|CONTRACT) §", text)
        assert old is None, f"{path}: cites the old contract spec; cite docs/COMPAT.md §N"
        refs += [(path, m) for m in re.findall(r"COMPAT\.md[ ,]*§\s*(\d+(?:\.\d+)?)", text)]
    assert refs, "no references found: the pattern is wrong"
    missing = [f"{p.relative_to(ROOT)}: §{n}" for p, n in refs if n not in sections]
    assert not missing, missing
