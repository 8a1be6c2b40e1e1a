"""The store daemon: one background process per store that samples system metrics for live runs,
marks runs whose process died as `crashed`, and (later) streams run directories to a remote.

Nothing here is imported by `import runstore`: the SDK imports only `runstore.daemon.client`, whose
functions cost microseconds (a non-blocking flock probe) and never raise.

Modules: `lock` (the pid-file flock), `client` (what the SDK and the CLI call), `loop` (the daemon's
event/timer loop and its `Task` protocol), `monitor` (the task that watches live runs), `sampler`
(psutil), `gpu` (NVML behind an interface), `control` (start/stop/status for the CLI), `log`
(rate-limited log). Where its files are, and the live markers and crash records it reads and writes,
belong to the store (store/store.py, store/live.py, store/runs.py).
"""
