"""`python -m scoring`: the standalone NeuCo-Bench-compatible command-line tool."""

import os
import sys

from scoring.threads import SINGLE_THREAD_ENV

# Before numpy or torch load: this process coordinates, its scoring processes compute.
os.environ.update(SINGLE_THREAD_ENV)

from scoring.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
