"""The tuning driver: expand a parameter grid, prune it with the rule library, deploy and benchmark
each point (a local engine process or a Pulumi stack), record every trial in SQLite, report the best
configuration as a ready-to-paste stack config entry."""
