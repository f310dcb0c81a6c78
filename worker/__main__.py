"""`python -m worker`: the evaluation worker's command line (see worker/cli.py)."""

import logging
import os
import sys

from scoring.threads import SINGLE_THREAD_ENV

# Before numpy or torch load: this process coordinates, its scoring processes compute.
os.environ.update(SINGLE_THREAD_ENV)

from worker.cli import main  # noqa: E402

if __name__ == "__main__":
    code = main()
    # By now every command has closed what it opened (its `finally` blocks). Skip the
    # interpreter's teardown of torch, scikit-learn and friends: it took 5-13 s on a loaded
    # machine, after the worker had already stopped cleanly, and pushed `docker stop` past
    # its 10 s. An exception still exits the normal way, with its traceback.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
