"""SVM probe: our fast search against the reference procedure run directly, per task.

    .venv/bin/python bench/svm_parity.py --config svm.yaml [--teams strong weak] \
        [--tasks crops random_cls] [--k 40] [--n-iter 50] [--skip-reference] \
        [--noise-seeds 0 1 2 3 4] [--json out.json]

For every (team, task) of the golden challenge (../shared/golden): the task's rows, labels and
standardised embeddings exactly as the engine prepares them; then
- ours: scoring.probes.svm.svm_search (one Gram matrix, precomputed kernels), timed;
- reference: tests/reference_svm_procedure.py (BayesSearchCV over SVC/SVR fitted by libsvm from
  the rows, one (candidate, split) after another, as NeuCo-Bench composes it), timed;
and prints Q, mean split score and the largest per-split difference of both, plus wall-clock
and CPU seconds of each (both run in this one process, one thread of work at a time), and
whether both searches proposed the same candidates (else the first that differs; the JSON
holds both candidate lists and the mean refit score each search told its optimiser).
`--k` / `--n-iter` override the config's k_folds / n_iter (the reference procedure at K = 40,
50 candidates takes long: a subset of teams and tasks keeps a comparison affordable).
Reads files, prints a table; writes JSON when asked. The measured table is in docs/fidelity.md
(SVM section).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scoring.config import load_probe_config  # noqa: E402
from scoring.engine import normalised_labels, task_rows  # noqa: E402
from scoring.labels import load_tasks  # noqa: E402
from scoring.probes.svm import svm_search  # noqa: E402
from scoring.quality import q_from_splits  # noqa: E402
from scoring.splits import random_splits  # noqa: E402
from scoring.submission import load_submission  # noqa: E402
from tests.reference_svm_procedure import reference_svm_search  # noqa: E402

GOLDEN = ROOT.parent.parent / "shared" / "golden"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, required=True, help="an SVM config (reference shape)")
    ap.add_argument("--golden", type=Path, default=GOLDEN)
    ap.add_argument("--teams", nargs="*", default=["strong"])
    ap.add_argument("--tasks", nargs="*", default=None, help="default: every task")
    ap.add_argument("--k", type=int, default=None)
    ap.add_argument("--n-iter", type=int, default=None)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument(
        "--noise-seeds", nargs="*", type=int, default=[],
        help="where the two searches proposed different candidates, also run the reference "
        "procedure with these optimiser random states (same splits): its own seed noise",
    )
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--synthetic", nargs=2, type=int, metavar=("ROWS", "DIM"), default=None,
        help="instead of the golden files: one regression task of ROWS x DIM Gaussian "
        "embeddings (to time challenge-sized tasks, e.g. 3355 1024)",
    )
    args = ap.parse_args(argv)

    config = load_probe_config(args.config)
    if config.svm is None:
        ap.error("the config is not probe_type: svm")
    svm = config.svm
    if args.n_iter is not None:
        svm = type(svm)(**{**svm.__dict__, "n_iter": args.n_iter})
    k = args.k or config.k_folds
    probe_params = svm.as_reference_dict()
    if args.synthetic is not None:
        return _synthetic(args.synthetic[0], args.synthetic[1], k, svm, probe_params)
    tasks = load_tasks(args.golden / "annotations")
    # Every task's ids, as the engine reads the file: standardisation is over all of them, so
    # a subset of tasks must not change the embeddings.
    expected = set().union(*(set(t.ids) for t in tasks))
    if args.tasks:
        tasks = tuple(t for t in tasks if t.name in set(args.tasks))
    rows_out = []
    print(f"K = {k}, {svm.n_iter} candidates, seed 42", flush=True)
    header = (f"{'team':16s} {'task':24s} {'Q ours':>8s} {'Q ref':>8s} {'mean ours':>9s} "
              f"{'mean ref':>9s} {'max|d|':>8s} {'s ours':>7s} {'cpu':>7s} {'s ref':>7s} "
              f"{'cpu':>7s} candidates")
    print(header, flush=True)
    for team in args.teams:
        table = load_submission(
            args.golden / "submissions" / f"{team}.csv.gz", expected, embedding_dim=None,
            strict=True, standardize=config.standardize_embeddings,
        )
        for task in tasks:
            rows, labels = task_rows(table, task)
            y = normalised_labels(labels) if config.normalize_labels else labels
            x = table.matrix[rows]
            splits = list(zip(*random_splits(len(y), k, 42), strict=True))
            started, cpu = time.perf_counter(), time.process_time()
            ours = svm_search(x, y, splits, task.kind, svm, seed=42)
            ours_s = time.perf_counter() - started
            ours_cpu = time.process_time() - cpu
            row = {
                "team": team, "task": task.name, "kind": task.kind, "n_rows": int(len(y)),
                "q_ours": float(q_from_splits(ours.run.best_scores)),
                "mean_ours": float(np.nanmean(ours.run.best_scores)),
                "seconds_ours": ours_s,
                "cpu_seconds_ours": ours_cpu,
                "fit_seconds_ours": ours.fit_seconds,
                "split_scores_ours": ours.run.best_scores.tolist(),
            }
            if not args.skip_reference:
                started, cpu = time.perf_counter(), time.process_time()
                ref = reference_svm_search(x, y, task.kind, probe_params, k=k, split_seed=42)
                row["seconds_ref"] = time.perf_counter() - started
                row["cpu_seconds_ref"] = time.process_time() - cpu
                row["q_ref"] = float(q_from_splits(ref.split_scores))
                row["mean_ref"] = float(np.nanmean(ref.split_scores))
                row["max_abs_split_diff"] = float(
                    np.nanmax(np.abs(ref.split_scores - ours.run.best_scores))
                )
                differing = [
                    i for i, (a, b) in enumerate(
                        zip(ours.candidates, ref.candidates, strict=True)
                    )
                    if not _same_candidate(a, b)
                ]
                row["same_candidates"] = not differing
                row["first_differing_candidate"] = differing[0] + 1 if differing else None
                row["candidates_ours"] = [_plain(c) for c in ours.candidates]
                row["candidates_ref"] = [_plain(c) for c in ref.candidates]
                row["mean_refit_ours"] = (-ours.run.test_loss.mean(axis=1)).tolist()
                row["mean_refit_ref"] = ref.mean_refit.tolist()
            if args.noise_seeds and not row.get("same_candidates", True):
                noise = []
                for state in args.noise_seeds:
                    params = {**probe_params,
                              "opt_params": {**probe_params["opt_params"], "random_state": state}}
                    other = reference_svm_search(x, y, task.kind, params, k=k, split_seed=42)
                    noise.append({"random_state": state,
                                  "q": float(q_from_splits(other.split_scores)),
                                  "mean": float(np.nanmean(other.split_scores))})
                row["reference_seed_noise"] = noise
            rows_out.append(row)
            ref_q = f"{row['q_ref']:8.3f}" if "q_ref" in row else f"{'-':>8s}"
            ref_m = f"{row['mean_ref']:9.4f}" if "mean_ref" in row else f"{'-':>9s}"
            diff = f"{row['max_abs_split_diff']:8.1e}" if "q_ref" in row else f"{'-':>8s}"
            ref_s = (f"{row['seconds_ref']:7.1f} {row['cpu_seconds_ref']:7.1f}" if "q_ref" in row
                     else f"{'-':>7s} {'-':>7s}")
            same = ("" if "q_ref" not in row else "same" if row["same_candidates"]
                    else f"differ from #{row['first_differing_candidate']}")
            print(f"{team:16s} {task.name:24s} {row['q_ours']:8.3f} {ref_q} "
                  f"{row['mean_ours']:9.4f} {ref_m} {diff} {ours_s:7.1f} {ours_cpu:7.1f} {ref_s} "
                  f"{same}", flush=True)
            if "reference_seed_noise" in row:
                qs = [n["q"] for n in row["reference_seed_noise"]]
                print(f"  reference with optimiser random states {args.noise_seeds}: Q "
                      f"{min(qs):.3f} to {max(qs):.3f} (sd {np.std(qs, ddof=1):.3f})", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"k": k, "n_iter": svm.n_iter, "rows": rows_out},
                                        indent=2) + "\n")
    return 0


def _same_candidate(a: dict, b: dict) -> bool:
    """Equal keys, equal categorical values, real values equal to 1e-9 relative."""
    return a.keys() == b.keys() and all(
        a[key] == b[key] if isinstance(b[key], str)
        else abs(a[key] - b[key]) <= 1e-9 * max(1.0, abs(b[key]))
        for key in a
    )


def _plain(candidate: dict) -> dict:
    return {k: (v if isinstance(v, str) else float(v)) for k, v in candidate.items()}


def _synthetic(n: int, d: int, k: int, svm, probe_params: dict) -> int:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = x[:, :8].sum(axis=1) + rng.normal(size=n) * 2.0
    y = (y - y.min()) / (y.max() - y.min())
    splits = list(zip(*random_splits(n, k, 42), strict=True))
    print(f"synthetic regression task {n} x {d}, K = {k}, {svm.n_iter} candidates", flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    ours = svm_search(x, y, splits, "regr", svm, seed=42)
    print(f"ours: {time.perf_counter() - started:.1f} s wall, {time.process_time() - cpu:.1f} s "
          f"CPU ({ours.fit_seconds:.1f} s fitting), Q {q_from_splits(ours.run.best_scores):.3f}",
          flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    ref = reference_svm_search(x, y, "regr", probe_params, k=k, split_seed=42)
    print(f"reference: {time.perf_counter() - started:.1f} s wall, "
          f"{time.process_time() - cpu:.1f} s CPU, Q {q_from_splits(ref.split_scores):.3f}, "
          f"max |split difference| "
          f"{np.nanmax(np.abs(ref.split_scores - ours.run.best_scores)):.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
