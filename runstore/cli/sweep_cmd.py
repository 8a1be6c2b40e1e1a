"""`runstore sweep` (create, steer, show, list sweeps) and `runstore agent` (run a sweep's trials)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from ..api import Api, Sweep
from ..errors import UsageError
from ..store import sweeps as S
from ..store.history import flatten
from ..store.store import Store, find_root
from ..sweeps import controller as C
from ..sweeps.agent import run_cli_agent
from ..sweeps.schema import SweepConfigError, parse_config
from ._common import console, err_console, fmt_duration, fmt_time, fmt_value, json_text, store_at


def _load_config(path: str, name: str | None, program: str | None) -> dict[str, Any]:
    if not Path(path).is_file():
        raise UsageError(
            f"sweep config {path!r} does not exist (give a YAML file, or a sweep id with "
            "--stop/--cancel/--pause/--resume, or `sweep show ID`)"
        )
    raw = dict(parse_config(path).raw)
    if name:
        raw["name"] = name
    if program:
        raw["program"] = program
    return raw


def _config_errors(e: Exception, source: str) -> typer.Exit:
    """All problems of a sweep config, one per line (the CLI's one-line error would hide all but one)."""
    err_console.print(Text.assemble(("error: ", "bold red"), f"invalid sweep config {source}:"))
    for line in str(e).splitlines():
        err_console.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)
    return typer.Exit(1)


def _agent_command(store: Store, st: Sweep) -> str:
    where = f"{st.entity}/{st.project}" if st.entity else st.project
    cmd = ["runstore", "agent"]
    if store.root != find_root():
        cmd += ["--dir", str(store.root)]
    return shlex.join([*cmd, f"{where}/{st.id}"])


def sweep(
    args: list[str] = typer.Argument(None, metavar="CONFIG_YAML_OR_SWEEP_ID | show ID | ls"),
    project: str = typer.Option(None, "--project", "-p", help="Project the sweep's runs go to."),
    entity: str = typer.Option(None, "--entity", "-e", help="Entity recorded with the sweep."),
    name: str = typer.Option(None, "--name", help="Sweep name (overrides the config's)."),
    program: str = typer.Option(None, "--program", help="Program to run (overrides the config's)."),
    update: str = typer.Option(
        None,
        "--update",
        metavar="SWEEP_ID",
        help="Replace the config of SWEEP_ID, which has not started a run yet.",
    ),
    stop: bool = typer.Option(False, "--stop", help="Finish the sweep: no new runs, running runs finish."),
    cancel: bool = typer.Option(
        False, "--cancel", help="Cancel the sweep: no new runs, running runs are stopped."
    ),
    pause: bool = typer.Option(False, "--pause", help="Pause: agents take no new runs until --resume."),
    resume: bool = typer.Option(False, "--resume", help="Resume a paused sweep."),
    prior_run: list[str] = typer.Option(
        None, "--prior-run", "--prior_run", "-R", help="Seed the search with an existing run (repeatable)."
    ),
    controller: bool = typer.Option(
        False,
        "--controller",
        help="Accepted for wandb compatibility: every agent "
        "runs the controller itself, there is nothing else to start.",
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Accepted for wandb compatibility."),
    dir: Path = typer.Option(None, "--dir", help="Store directory (or its parent)."),
    json: bool = typer.Option(False, "--json", help="With `show` or `ls`: print JSON."),
    remote: str = typer.Option(
        None,
        "--remote",
        help="Create (or steer) the sweep on a runstore server, for agents on many machines.",
    ),
) -> None:
    """Create a sweep from CONFIG_YAML, steer one (--stop/--cancel/--pause/--resume ID), `show ID` or `ls`.

    Creating prints the sweep id and the `runstore agent` command to run, in as many terminals or
    machines sharing the store as you like.
    """
    store = store_at(dir)
    args = list(args or [])
    actions = [
        a for a, on in (("stop", stop), ("cancel", cancel), ("pause", pause), ("resume", resume)) if on
    ]
    if len(actions) + bool(update) > 1:
        raise UsageError("give only one of --stop, --cancel, --pause, --resume, --update")
    if args[:1] == ["show"]:
        if len(args) != 2:
            raise UsageError("usage: runstore sweep show SWEEP_ID [--json]")
        return _show(store, args[1], json)
    if args[:1] == ["ls"]:
        return _list(store, json)
    if len(args) != 1:
        raise UsageError("give one sweep config YAML (or a sweep id with --stop/--cancel/--pause/--resume)")
    target = args[0]
    if remote:
        return _on_server(remote, target, actions, update, name, program, project, entity, prior_run)
    if actions:
        sd = S.open_sweep(store, target)
        new = C.set_state(sd, actions[0])
        console.print(f"Sweep {sd.id}: {new} ({C.ACTIONS[actions[0]][2]}).")
        return None
    try:
        raw = _load_config(target, name, program)
        if update:
            sd = S.open_sweep(store, update)
            C.update_config(sd, raw)
            console.print(f"Updated the config of sweep {sd.id} from {target}.")
            return None
        sd = C.create_sweep(raw, entity=entity, project=project, prior_runs=prior_run or None, store=store)
    except SweepConfigError as e:
        raise _config_errors(e, target) from None
    console.print(f"Created sweep with ID: {sd.id}", markup=False, highlight=False)
    console.print(
        f"Run sweep agent with: {_agent_command(store, Api(store=store).sweep(sd.id))}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return None


def _on_server(
    url: str,
    target: str,
    actions: list[str],
    update: str | None,
    name: str | None,
    program: str | None,
    project: str | None,
    entity: str | None,
    prior_run: list[str] | None,
) -> None:
    from ..remotes.base import RemoteError
    from ..remotes.sync import describe
    from ..sweeps import remote as R

    if update:
        raise UsageError("--update works on sweeps in a local store (create a new sweep on the server)")
    try:
        if actions:
            state = R.control_remote_sweep(url, target.rsplit("/", 1)[-1], actions[0])
            console.print(f"Sweep {target}: {state} ({C.ACTIONS[actions[0]][2]}).")
            return
        try:
            raw = _load_config(target, name, program)
        except SweepConfigError as e:
            raise _config_errors(e, target) from None
        made = R.create_remote_sweep(url, raw, project, entity, prior_run or None)
    except RemoteError as e:
        raise UsageError(describe(e)) from None
    console.print(f"Created sweep with ID: {made['id']}", markup=False, highlight=False)
    where = f"{made.get('entity')}/{made['project']}" if made.get("entity") else made["project"]
    command = shlex.join(["runstore", "agent", "--remote", url, f"{where}/{made['id']}"])
    console.print(
        f"Run sweep agent with: {command}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _show(store: Store, ref: str, as_json: bool = False) -> None:
    """A table of the sweep's runs, best first by the sweep's metric, with their parameters."""
    api = Api(store=store)
    sw = api.sweep(ref)
    if as_json:
        doc = {**sw.to_dict(), "runs": [r.to_dict() for r in sw.ranked_runs()]}
        console.file.write(json_text(doc, indent=True) + "\n")
        return
    metric = sw.metric
    mname = metric["name"] if metric else None
    runs = list(sw.ranked_runs())
    trials = sw.trials()
    by_run = {t["run"]: flatten(t["params"]) for t in trials}
    pnames: dict[str, None] = {}
    for t in trials:
        for k in flatten(t["params"]):
            pnames.setdefault(k, None)
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.state] = counts.get(r.state, 0) + 1
    exp = sw.expected_run_count
    head = (
        f"sweep {sw.id}"
        + (f" {sw.name!r}" if sw.name and sw.name != sw.id else "")  # an unnamed sweep's name is its id
        + f": {sw.state}, method {sw.method}"
        + (f", {metric.get('goal', 'minimize')} {mname}" if metric else "")
        + f", project {sw.project}; {len(runs)} run(s)"
        + (f" of {exp}" if exp else "")
        + (f" ({', '.join(f'{n} {k}' for k, n in sorted(counts.items()))})" if counts else "")
    )
    console.print(head, markup=False, highlight=False, soft_wrap=True)
    if not runs:
        console.print(
            f"no runs yet: start one with `{_agent_command(store, sw)}`", markup=False, highlight=False
        )
        return
    table = Table(show_edge=False, header_style="bold")
    table.add_column("run", no_wrap=True, min_width=8)
    table.add_column("name", no_wrap=True, max_width=20)
    table.add_column("state", no_wrap=True)
    if mname:
        table.add_column(str(mname), justify="right", no_wrap=True)
    for p in pnames:
        table.add_column(p, justify="right", no_wrap=True)
    table.add_column("runtime", justify="right", no_wrap=True)
    parameters = sw.config.get("parameters") or {}
    for r in runs:
        d = r.to_dict()
        params = by_run.get(r.id) or flatten({k: d["config"].get(k) for k in parameters})
        row = [r.id, fmt_value(d["name"]), d["state"]]
        if mname:
            row.append(fmt_value(_dig(d["summary"], str(mname))))
        row += [fmt_value(params.get(p)) for p in pnames]
        row.append(fmt_duration(d["runtime"]))
        table.add_row(*row)
    console.print(table)


def _dig(d: Any, name: str) -> Any:
    if isinstance(d, dict) and name in d:
        return d[name]
    for part in name.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)
    return d


def _list(store: Store, as_json: bool = False) -> None:
    sweeps = Api(store=store).sweeps() if store.exists() else []
    if as_json:
        docs = [sw.to_dict() for sw in sweeps]
        console.file.write(json_text(docs, indent=True) + "\n")
        return
    if not sweeps:
        console.print(f"no sweeps in {store.root}; create one with `runstore sweep config.yaml`")
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("sweep", "name", "state", "method", "project", "runs", "created"):
        table.add_column(col)
    for sw in sweeps:
        d = sw.to_dict()
        table.add_row(
            sw.id,
            fmt_value(sw.config.get("name")),
            d["state"],
            str(d["method"]),
            d["project"],
            str(d["runs"]),
            fmt_time(sw.created),
        )
    console.print(table)


def _agent_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="runstore agent",
        description="Run a sweep's trials, one child process at a time, until the sweep is done (or --count). "
        "Start as many agents as you like, on this machine or on machines sharing the store: they "
        "take proposals under a file lock, so no trial runs twice.",
    )
    p.add_argument("sweep_id", metavar="SWEEP_ID", help="Sweep id, project/id or entity/project/id.")
    p.add_argument("-p", "--project", help="Accepted for wandb compatibility (the id names the sweep).")
    p.add_argument("-e", "--entity", help="Accepted for wandb compatibility.")
    p.add_argument("--count", type=int, help="Run at most this many trials, then exit.")
    p.add_argument(
        "-f",
        "--forward-signals",
        action="store_true",
        help="Accepted for wandb compatibility: SIGTERM/SIGHUP always go on to the running trial.",
    )
    p.add_argument(
        "-t",
        "--term-timeout",
        type=float,
        help="Seconds between SIGTERM and SIGKILL when a trial is stopped "
        "(default: WANDB_AGENT_KILL_DELAY or 30).",
    )
    p.add_argument(
        "--max-consecutive-failed-runs", type=int, help="Exit after this many failed runs in a row."
    )
    p.add_argument("--dir", type=Path, help="Store directory (or its parent).")
    p.add_argument(
        "--remote",
        help="The sweep lives on this runstore server (http(s)://…): take its trials from there, run them "
        "here, and stream their runs back.",
    )
    return p


def agent(ctx: typer.Context) -> None:
    """Run a sweep's trials until it is done: runstore agent [--count N] [--dir D] SWEEP_ID (see --help).

    Start as many agents as you like, on this machine or on machines sharing the store: they take
    proposals under a file lock, so no trial runs twice.
    """
    # Options are parsed with argparse, not typer: typer's per-parameter coercion imports pydantic
    # (~100 ms), and an agent must start its first trial within 0.5 s.
    raise typer.Exit(agent_main(list(ctx.args)))


def agent_main(argv: list[str]) -> int:
    """`runstore agent ARGS`: parse, run the agent, return its exit code (usable without typer)."""
    try:
        ns = _agent_parser().parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if ns.remote:
        from ..sweeps.remote import run_remote_agent

        return run_remote_agent(
            ns.remote,
            ns.sweep_id.rsplit("/", 1)[-1],
            store_at(ns.dir),
            count=ns.count,
            max_consecutive_failed_runs=ns.max_consecutive_failed_runs,
            term_timeout=ns.term_timeout,
        )
    return run_cli_agent(
        ns.sweep_id,
        count=ns.count,
        store=store_at(ns.dir),
        max_consecutive_failed_runs=ns.max_consecutive_failed_runs,
        term_timeout=ns.term_timeout,
    )


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
    app.command(
        "agent",
        add_help_option=False,
        context_settings={
            "allow_extra_args": True,
            "ignore_unknown_options": True,
            "allow_interspersed_args": False,
        },
    )(agent)
