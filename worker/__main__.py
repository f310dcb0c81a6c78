"""`python -m worker`: the evaluation worker's command line (see worker/cli.py)."""

import sys

from worker.cli import main

if __name__ == "__main__":
    sys.exit(main())
