"""The base layer: what every other layer may use and which uses nothing of runstore's.

* `env`     — the one table of settings and environment variables (name, env vars, default, help),
              and the one parser of their values.
* `term`    — messages from inside training code: printed, never raised.
* `names`   — run ids and generated run names.
* `urls`    — URLs with their credentials stripped, for messages and records.
* `convert` — user values (numpy, torch, dataclasses, …) to what JSON can hold.
* `gcpause` — the cyclic garbage collector paused around bulk reads.
* `version` — the package version.
"""
