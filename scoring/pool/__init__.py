"""Parallel, isolated scoring: a pool of single-threaded scoring processes shared by every
submission (issue 11), each job watched for memory and time (issue 8).

Public names: `ScoringPool`, `PoolLimits`, `ChildFailed` (a job ended abnormally),
`SharedFolder` (where shared matrices live), `shared_submission` (read a file in the pool),
`score_shared` (score its tasks in parallel), `process_count` / `usable_cpus` (sizing) and
`SINGLE_THREAD_ENV`. Modules: cpus (sizing), process (one child), child (the child's program),
messages (what crosses the pipe), shared (the matrix files), pool (the dispatcher),
evaluation (one submission).
"""

from scoring.pool.cpus import SINGLE_THREAD_ENV, process_count, usable_cpus
from scoring.pool.evaluation import SharedTable, score_shared, shared_submission
from scoring.pool.pool import ChildFailed, PoolLimits, ScoringPool
from scoring.pool.shared import SharedFolder

__all__ = [
    "SINGLE_THREAD_ENV",
    "ChildFailed",
    "PoolLimits",
    "ScoringPool",
    "SharedFolder",
    "SharedTable",
    "process_count",
    "score_shared",
    "shared_submission",
    "usable_cpus",
]
