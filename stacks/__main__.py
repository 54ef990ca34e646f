"""`python -m stacks <command>`: the commands are stacks/cli/ (one module each, one line in its COMMANDS)."""

from stacks.cli import build_parser, main  # noqa: F401 - the entry points tests and the tour import from here

if __name__ == "__main__":
    from stacks.cli import entry

    entry()
