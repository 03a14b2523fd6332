"""`python -m nntrain ...` is the `nntrain` command."""

from nntrain.cli.main import main

main()
