"""`python -m scoring`: the standalone NeuCo-Bench-compatible command-line tool."""

import sys

from scoring.cli import main

if __name__ == "__main__":
    sys.exit(main())
