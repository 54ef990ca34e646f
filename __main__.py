"""Entry point of the Pulumi program; the program itself is `stacks.program`."""

from stacks.program import main

main()
