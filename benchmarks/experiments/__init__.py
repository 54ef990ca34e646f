"""Measurements and experiments, not the product: each is `python -m benchmarks.experiments.<name>`, none runs in CI.
What they measured, and the claims made from them, are in benchmarks/README.md."""
