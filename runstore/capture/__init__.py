"""What a run records besides its metrics: console output, git state, environment, code (contract §13)."""
