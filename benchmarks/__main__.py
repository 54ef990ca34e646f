"""``python -m benchmarks run ...``: see ``benchmarks/cli.py`` and benchmarks/README.md; exit statuses and
error lines: ``benchmarks/exits.py``."""

from .exits import leave, run


def _main(argv: list[str] | None) -> int:
    from .cli import main  # inside the mapping: Ctrl-C while the libraries load is one line too

    return main(argv)


leave(run(_main, prog="benchmarks"))
