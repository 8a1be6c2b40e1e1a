"""What a run records besides its metrics: console output, git state, environment, code (docs/COMPAT.md §13)."""
