"""`python -m lobflow`: the command line."""

from lobflow.cli import main

main()
