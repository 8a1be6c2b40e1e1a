"""`runstore server`: one team hub over HTTP — a runstore store behind token auth (docs/SERVER.md)."""
