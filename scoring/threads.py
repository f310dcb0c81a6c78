"""The environment that keeps a process's numeric libraries to one thread. Pure (a constant);
stdlib only, so an entry point can apply it before numpy or torch is imported.

Read by OpenMP, MKL, OpenBLAS, BLIS, Accelerate and numexpr when they load. Scoring processes
start with it (`scoring.pool`); the CLIs apply it to themselves too, since their heavy numeric
work runs in those processes and what is left (ranking, leaderboard intervals) is element-wise
numpy: nothing oversubscribes the CPUs.
"""

SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
