"""``python -m benchmarks run ...``: see ``benchmarks/cli.py`` and benchmarks/README.md."""

from .cli import main

raise SystemExit(main())
