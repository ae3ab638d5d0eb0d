"""`python -m mig.cli`: the same as the `mig` command."""

from mig.cli.main import main

main()
