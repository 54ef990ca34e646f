"""Live endpoint state read from the cluster (the tuning driver's wait and `stacks status`), not from
stack outputs: a `pulumi refresh` does not re-run the program, so outputs computed at `up` are never
recomputed (https://github.com/pulumi/pulumi/issues/2710)."""

DEFAULT_TIMEOUT = 10.0  # seconds per API request: the API server answers a GET in well under a second
