"""The daemon's files under `<store>/daemon/` (docs/FORMAT.md, "The daemon's files")."""

from __future__ import annotations

from pathlib import Path

DAEMON_DIR = "daemon"
PID_FILE = "daemon.pid"
LOG_FILE = "daemon.log"
LIVE_DIR = "live"
MARKER_SUFFIX = ".json"
DEFAULT_INTERVAL = 2.0  # seconds between samples (wandb's legacy monitor sampled every 2 s too)
DEFAULT_IDLE_EXIT = 120.0  # seconds without a live run before the daemon exits by itself


def daemon_dir(store_root: Path) -> Path:
    return Path(store_root) / DAEMON_DIR


def pid_path(store_root: Path) -> Path:
    return Path(store_root) / DAEMON_DIR / PID_FILE


def log_path(store_root: Path) -> Path:
    return Path(store_root) / DAEMON_DIR / LOG_FILE


def live_dir(store_root: Path) -> Path:
    return Path(store_root) / DAEMON_DIR / LIVE_DIR


def marker_path(store_root: Path, project: str, run_id: str) -> Path:
    # `~` may appear in a project name, so the name alone is not a unique key for a reader: the marker's
    # content carries `project` and `id` and the daemon trusts those, not the file name.
    return Path(store_root) / DAEMON_DIR / LIVE_DIR / f"{project}~{run_id}{MARKER_SUFFIX}"
