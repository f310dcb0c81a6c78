"""Soak and latency of the EvalAI worker (`python -m worker run` in subprocesses) against the
EvalAI double over real HTTP. Not a test: CI never runs it; it prints a report.

    python bench/worker_soak.py [--out bench-output] [--only soak|latency]
        [--submissions 50] [--kills 2] [--fault-rate 0.1] [--seed 1] [--latency-runs 3]

(a) Soak: --submissions submissions (about 10 % malformed, three teams, both phases of a
    demo-size synthetic challenge at D = 64, about a second of scoring each) arrive one every
    0.3 s while one worker polls every 1 s; the double answers --fault-rate of all requests
    with a random 5xx; the worker is SIGKILLed --kills times, each a random 0.5-8 s into a
    life, and a watchdog-like loop here restarts it after 1 s (at most 10 restarts).
    The double's clock follows real time, so an unacknowledged message comes back after the
    real 30 s visibility timeout. Ends when every submission is finished or failed on the
    double (or after a deadline). Reports: finished-or-failed, posted twice (more than one
    accepted FINISHED/FAILED PUT for a pk, whatever the statuses), lost, wrong outcome,
    messages left in the queue, total time.
(b) Latency at K = 200 on the full-size synthetic final phase (9 tasks, 23,165 labelled rows,
    N = 1,024, E = 20, batch 64; generated once into <out>/worker-soak/full-final): a worker
    polling every 1 s; time from the message becoming visible to the FINISHED PUT arriving,
    over --latency-runs submissions. With the real 60 s poll interval the worst case is
    60 s + that processing time.

Writes <out>/worker-soak.json. I/O: a loopback HTTP server, worker subprocesses (each in its
own session; only those are signalled), files under <out>/worker-soak/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.doubles.evalai import EvalAIDouble  # noqa: E402
from tests.e2e.worker_harness import (  # noqa: E402
    ChallengeFiles,
    Processes,
    WallClock,
    open_store,
    phase_entry,
    start_double,
    worker_env,
    write_challenge_yaml,
    write_synthetic_challenge,
)

# About a second per scoring on the soak's challenge (demo rows, D = 64): the queue backs up
# while submissions arrive, so a kill usually lands in the middle of some work.
SOAK_DIM = 64
SOAK_PROBE = {
    "k_folds": 100,
    "probe_type": "linear",
    "probe_params": {"batch_size": 32, "epochs": 10, "learning_rate": 0.001, "device": "cpu"},
}
LATENCY_PROBE = {
    "k_folds": 200,
    "probe_type": "linear",
    "probe_params": {"batch_size": 64, "epochs": 20, "learning_rate": 0.001, "device": "cpu"},
    "embedding_dim": 1024,
}
TEAMS = ("alpha", "beta", "hosts")
MAX_RESTARTS = 10
WATCHDOG_DELAY_S = 1.0  # how long the "watchdog" takes to notice a dead worker
SOAK_DEADLINE_S = 900.0
FEED_INTERVAL_S = 0.3  # one new submission every 0.3 s


# ---------------------------------------------------------------------- shared
def final_calls(double: EvalAIDouble) -> dict[int, list[str]]:
    """pk -> statuses of the PUTs EvalAI accepted (what the participant got told, in order)."""
    posted: dict[int, list[str]] = {}
    for call in double.updates():
        if call.method == "PUT" and call.response_status == 200 and call.submission_pk:
            posted.setdefault(call.submission_pk, []).append(call.submission_status)
    return posted


def malformed(kind: int, good: bytes) -> bytes:
    lines = good.decode().splitlines()
    if kind == 0:  # text in a number column
        cells = lines[1].split(",")
        cells[2] = "n/a?"
        return "\n".join([lines[0], ",".join(cells), *lines[2:]]).encode() + b"\n"
    if kind == 1:  # half the ids missing
        return ("\n".join(lines[: len(lines) // 2]) + "\n").encode()
    if kind == 2:  # one column too many
        return ("\n".join([lines[0] + ",99999", *(ln + ",1" for ln in lines[1:])]) + "\n").encode()
    return b"this is not a CSV file\n"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------------- (a) soak
def soak(out: Path, n: int, kills: int, fault_rate: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    work = out / "worker-soak" / f"soak-{time.strftime('%Y%m%dT%H%M%S')}"
    challenge = write_synthetic_challenge(work / "challenge", "demo", seed=seed, dim=SOAK_DIM)
    phases = {name: phase_entry(folder, SOAK_PROBE, dim=challenge.dim)
              for name, folder in challenge.annotations.items()}
    config = write_challenge_yaml(work / "challenge.yaml", phases, poll_interval_seconds=1.0,
                                  max_attempts=5)
    bad = set(rng.sample(range(n), max(1, round(0.1 * n))))
    good_files = sorted(challenge.submissions)
    plan = []
    for i in range(n):
        content = challenge.submissions[good_files[i % len(good_files)]].read_bytes()
        if i in bad:
            content = malformed(i % 4, content)
        plan.append((TEAMS[i % len(TEAMS)], "dev" if i % 4 == 3 else "final", content, i in bad))

    double = start_double(clock=WallClock())
    processes = Processes(work / "logs")
    expected: dict[int, str] = {}
    feeder_done = threading.Event()

    def feed() -> None:
        for team, phase, content, is_bad in plan:
            pk = double.create_submission(team=team, phase=phase, file_bytes=content)
            expected[pk] = "failed" if is_bad else "finished"
            time.sleep(FEED_INTERVAL_S)
        feeder_done.set()

    env = worker_env(double, work / "var")
    heartbeat = work / "var" / "heartbeat"
    double.inject_random_5xx(fault_rate, seed)
    # Each kill comes a random 0.5-8 s after the current worker's first heartbeat, i.e. while
    # it is polling or scoring, never while it is still importing.
    kill_delays = [rng.uniform(0.5, 8.0) for _ in range(kills)]
    kill_log: list[dict[str, Any]] = []
    restarts = 0
    started = time.monotonic()
    try:
        worker = processes.start(("run",), config, env)
        life_started = time.time()
        threading.Thread(target=feed, daemon=True).start()
        dead_since: float | None = None
        kill_at: float | None = None
        while True:
            now = time.monotonic() - started
            posted = final_calls(double)
            if feeder_done.is_set() and all(pk in posted for pk in expected):
                break
            if now > SOAK_DEADLINE_S:
                break
            if kill_delays and kill_at is None and worker.alive() and heartbeat.exists() \
                    and heartbeat.stat().st_mtime >= life_started:
                kill_at = now + kill_delays.pop(0)
            if kill_at is not None and now >= kill_at and worker.alive():
                kill_at = None
                store = open_store(work / "var")
                try:
                    scoring = [s.pk for s in store.list_submissions(status="running")]
                finally:
                    store.close()
                worker.kill(signal.SIGKILL)
                worker.wait(timeout=10)
                last = (worker.stderr().strip().splitlines() or [""])[-1]
                kill_log.append({"at_s": round(now, 2), "running_in_store": scoring,
                                 "posted_so_far": len(posted), "last_log_line": last[21:]})
            if not worker.alive():
                dead_since = dead_since if dead_since is not None else now
                if now - dead_since >= WATCHDOG_DELAY_S and restarts < MAX_RESTARTS:
                    worker = processes.start(("run",), config, env)
                    life_started = time.time()
                    restarts += 1
                    dead_since = None
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        # Leftover messages come back after the visibility timeout and are deleted on sight.
        queue_deadline = time.monotonic() + 45.0
        while double.queue_messages() and time.monotonic() < queue_deadline and worker.alive():
            time.sleep(0.2)
        left_in_queue = len(double.queue_messages())
        exit_code = worker.stop()
    finally:
        processes.kill_all()
        double.stop()

    posted = final_calls(double)
    states = {pk: double.submission(pk).status for pk in expected}
    done = [pk for pk, s in states.items() if s in ("finished", "failed")]
    twice = {pk: calls for pk, calls in posted.items() if len(calls) > 1}
    wrong = {pk: (states[pk], want) for pk, want in expected.items()
             if states[pk] in ("finished", "failed") and states[pk] != want}
    faulted = [r for r in double.requests() if r.fault]
    store = open_store(work / "var")
    try:
        evaluations = {pk: len(store.evaluation_ids("evalai", pk)) for pk in expected}
        abandoned = sum(e.detail.endswith("(worker restarted)")
                        for pk in expected for e in store.events("evalai", pk))
    finally:
        store.close()
    return {
        "submissions": len(expected),
        "malformed": len(bad),
        "finished_or_failed": len(done),
        "finished": sum(s == "finished" for s in states.values()),
        "failed": sum(s == "failed" for s in states.values()),
        "posted_twice": len(twice),
        "posted_twice_detail": {str(k): v for k, v in twice.items()},
        "lost": len(expected) - len(done),
        "wrong_outcome": {str(k): v for k, v in wrong.items()},
        "messages_left_in_queue": left_in_queue,
        "kills": kill_log,
        "restarts": restarts,
        "orphans_restarted": abandoned,
        "rescored_after_kill": sum(c > 1 for c in evaluations.values()),
        "requests": len(double.requests()),
        "faulted_requests": len(faulted),
        "fault_statuses": dict(Counter(r.status for r in faulted)),
        "final_worker_exit": exit_code,
        "total_seconds": round(elapsed, 1),
        "load_average": load_average(),
        "work_dir": str(work),
    }


# ---------------------------------------------------------------------- (b) latency
def full_final_phase(out: Path) -> ChallengeFiles:
    root = out / "worker-soak" / "full-final"
    marker = root / "complete.json"
    if marker.exists():
        data = json.loads(marker.read_text())
        return ChallengeFiles(root, {"final": Path(data["annotations"])},
                              {"strong": Path(data["submission"])},
                              {"final": tuple(data["tasks"])}, data["dim"])
    started = time.perf_counter()
    challenge = write_synthetic_challenge(root, "full", seed=2025, teams=("strong",),
                                          phases=("final",))
    marker.write_text(json.dumps({
        "annotations": str(challenge.annotations["final"]),
        "submission": str(challenge.submissions["strong"]), "tasks": challenge.task_names["final"],
        "dim": challenge.dim, "seconds": round(time.perf_counter() - started, 1)}))
    return challenge


def latency(out: Path, runs: int) -> dict[str, Any]:
    challenge = full_final_phase(out)
    rows = sum(len(p.read_text().splitlines()) - 1
               for p in challenge.annotations["final"].glob("*.csv"))
    work = out / "worker-soak" / f"latency-{time.strftime('%Y%m%dT%H%M%S')}"
    phases = {"final": phase_entry(challenge.annotations["final"], LATENCY_PROBE)}
    config = write_challenge_yaml(work / "challenge.yaml", phases, poll_interval_seconds=1.0,
                                  max_file_mb=500.0, read_timeout_seconds=60.0)
    content = challenge.submissions["strong"].read_bytes()
    double = start_double(clock=WallClock())
    processes = Processes(work / "logs")
    samples: list[dict[str, float]] = []
    try:
        worker = processes.start(("run",), config, worker_env(double, work / "var"))
        heartbeat = work / "var" / "heartbeat"
        deadline = time.monotonic() + 120
        while not heartbeat.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # past the first (empty) tick: the next message waits for a poll
        for _ in range(runs):
            visible = time.monotonic()
            pk = double.create_submission(team="alpha", phase="final", file_bytes=content)
            patched = put = None
            deadline = visible + 900
            while put is None and time.monotonic() < deadline and worker.alive():
                if patched is None and double.patches(pk):
                    patched = time.monotonic()
                if any(c.response_status == 200 for c in double.puts(pk)):
                    put = time.monotonic()
                time.sleep(0.02)
            if put is None:
                raise RuntimeError(f"no FINISHED PUT for submission {pk}:\n{worker.stderr()}")
            samples.append({"pk": pk, "to_running_s": round((patched or put) - visible, 2),
                            "to_finished_put_s": round(put - visible, 2)})
        worker.stop()
        log = worker.stderr()
    finally:
        processes.kill_all()
        double.stop()
    scoring = [float(line.rsplit(", ", 1)[1].split(" s)")[0])
               for line in log.splitlines() if ": finished, mean_Q = " in line]
    processing = [s["to_finished_put_s"] for s in samples]
    return {
        "phase": {"tasks": len(challenge.task_names["final"]), "label_rows": rows,
                  "N": challenge.dim, "K": LATENCY_PROBE["k_folds"],
                  "E": LATENCY_PROBE["probe_params"]["epochs"],
                  "batch": LATENCY_PROBE["probe_params"]["batch_size"],
                  "submission_mb": round(len(content) / 2**20, 1)},
        "samples": samples,
        "scoring_seconds_logged": scoring,
        "processing_median_s": round(statistics.median(processing), 1),
        "processing_max_s": round(max(processing), 1),
        "worst_case_at_60s_poll_s": round(60.0 + max(processing), 1),
        "mean_case_at_60s_poll_s": round(30.0 + statistics.median(processing), 1),
        "load_average": load_average(),
        "work_dir": str(work),
    }


# ---------------------------------------------------------------------- report
def print_report(result: dict[str, Any]) -> None:
    if "soak" in result:
        s = result["soak"]
        print("## Soak (worker `run`, 1 s poll, random 5xx, SIGKILLs, watchdog restarts)\n")
        print("| measure | value |\n|---|---|")
        for key in ("submissions", "malformed", "finished_or_failed", "finished", "failed",
                    "posted_twice", "lost", "messages_left_in_queue", "restarts",
                    "orphans_restarted", "rescored_after_kill", "requests", "faulted_requests",
                    "total_seconds", "load_average"):
            print(f"| {key} | {s[key]} |")
        print(f"| kills | {s['kills']} |")
        print(f"| wrong_outcome | {s['wrong_outcome'] or 'none'} |")
        print()
    if "latency" in result:
        lat = result["latency"]
        p = lat["phase"]
        print(f"## Latency: full final phase ({p['tasks']} tasks, {p['label_rows']:,} rows, "
              f"N = {p['N']}, K = {p['K']}, E = {p['E']}, batch {p['batch']}, "
              f"{p['submission_mb']} MB file)\n")
        print("| run | visible -> PATCH running (s) | visible -> FINISHED PUT (s) |")
        print("|---|---|---|")
        for i, sample in enumerate(lat["samples"], 1):
            print(f"| {i} | {sample['to_running_s']} | {sample['to_finished_put_s']} |")
        print(f"\nscoring alone (worker log): {lat['scoring_seconds_logged']} s")
        print(f"processing with a 1 s poll: median {lat['processing_median_s']} s, "
              f"max {lat['processing_max_s']} s")
        print(f"with the real 60 s poll: worst case {lat['worst_case_at_60s_poll_s']} s "
              f"(60 + max), typical {lat['mean_case_at_60s_poll_s']} s (30 + median)")
        print(f"load average during the run: {lat['load_average']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "bench-output")
    p.add_argument("--only", choices=("soak", "latency"))
    p.add_argument("--submissions", type=int, default=50)
    p.add_argument("--kills", type=int, default=2)
    p.add_argument("--fault-rate", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--latency-runs", type=int, default=3)
    args = p.parse_args(argv)
    result: dict[str, Any] = {}
    if args.only in (None, "soak"):
        result["soak"] = soak(args.out, args.submissions, args.kills, args.fault_rate, args.seed)
    if args.only in (None, "latency"):
        result["latency"] = latency(args.out, args.latency_runs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "worker-soak.json").write_text(json.dumps(result, indent=2) + "\n")
    print_report(result)
    soak_ok = "soak" not in result or (
        result["soak"]["posted_twice"] == 0 and result["soak"]["lost"] == 0
        and not result["soak"]["wrong_outcome"])
    return 0 if soak_ok else 1


if __name__ == "__main__":
    sys.exit(main())
