"""score_submission: reproducibility, task independence, failed splits, warnings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring.config import ProbeConfig
from scoring.engine import TooManyFailedSplits, score_submission, task_generator_seed
from scoring.quality import q_statistic
from tests.unit.scoring_data import table_from, tiny_tasks

CONFIG = ProbeConfig(k_folds=8, epochs=4, batch_size=16, learning_rate=0.01)


@pytest.fixture(scope="module")
def challenge():
    tasks, ids, z = tiny_tasks()
    rng = np.random.default_rng(5)
    good = np.hstack([z, rng.normal(size=(len(ids), 10))])
    return tasks, table_from(ids, good, tasks)


def test_same_seed_is_bit_identical(challenge):
    tasks, table = challenge
    a, _ = score_submission(table, tasks, CONFIG, seed=7)
    b, _ = score_submission(table, tasks, CONFIG, seed=7)
    assert [t.split_scores for t in a.tasks] == [t.split_scores for t in b.tasks]
    assert a.mean_q == b.mean_q


def test_other_seed_gives_other_numbers(challenge):
    tasks, table = challenge
    a, _ = score_submission(table, tasks, CONFIG, seed=7)
    b, _ = score_submission(table, tasks, CONFIG, seed=8)
    assert a.tasks[0].split_scores != b.tasks[0].split_scores


def test_task_scores_do_not_depend_on_other_tasks_or_order(challenge):
    tasks, table = challenge
    full, _ = score_submission(table, tasks, CONFIG, seed=3)
    alone, _ = score_submission(table, [tasks[1]], CONFIG, seed=3)
    reversed_, _ = score_submission(table, list(reversed(tasks)), CONFIG, seed=3)
    assert alone.tasks[0].split_scores == full.task("beta-two_x").split_scores
    for t in full.tasks:
        assert reversed_.task(t.task).split_scores == t.split_scores


def test_q_and_summary_follow_the_protocol(challenge):
    tasks, table = challenge
    card, _ = score_submission(table, tasks, CONFIG, seed=1)
    for t in card.tasks:
        s = np.array(t.split_scores)
        assert t.mean_score == pytest.approx(s.mean())
        assert t.std_score == pytest.approx(s.std(ddof=0))
        assert t.q == pytest.approx(2 * s.mean() / (s.std() + 0.02))
        assert t.k == 8 and t.failed_splits == 0
        assert all(1 <= e <= CONFIG.epochs for e in t.best_epochs)
    assert card.mean_q == pytest.approx(np.mean([t.q for t in card.tasks]))
    assert card.task("gamma").metric == "f1" and card.task("alpha").metric == "r2"
    assert card.task("beta-two_x").n_rows == 100
    assert card.config_fingerprint == CONFIG.fingerprint()


def test_informative_embeddings_beat_noise(challenge):
    tasks, table = challenge
    _, ids, _ = tiny_tasks()
    noise = table_from(ids, np.random.default_rng(9).normal(size=(len(ids), 16)), tasks)
    trained = CONFIG.replace(epochs=40, learning_rate=0.05)
    good, _ = score_submission(table, tasks, trained, seed=2)
    bad, _ = score_submission(noise, tasks, trained, seed=2)
    assert good.task("alpha").q > bad.task("alpha").q + 5
    assert good.task("alpha").mean_score > 0.5 > bad.task("alpha").mean_score


def test_q_statistic_formula():
    assert q_statistic(0.5, 0.0) == pytest.approx(50.0)
    assert q_statistic(1.0, 0.0) == pytest.approx(100.0)  # the maximum
    assert q_statistic(-0.1, 0.08) == pytest.approx(-2.0)


def test_failed_split_limit_fails_the_submission_without_naming_the_task(challenge):
    tasks, _ = challenge
    _, ids, z = tiny_tasks()
    huge = table_from(ids, np.hstack([z, np.zeros((len(ids), 2))]), tasks)
    # Poison the prepared matrix as a diverging embedding would: every probe turns NaN.
    huge.matrix[:, 0] = np.float32("nan")
    strict = CONFIG.replace(max_failed_splits=2)
    with pytest.raises(TooManyFailedSplits) as info:
        score_submission(huge, tasks, strict, seed=1)
    assert info.value.task == "alpha"
    assert "8 of 8 linear probes of one hidden task failed (the limit is 2)" in str(info.value)
    assert "alpha" not in str(info.value)


def test_default_failed_split_limit_is_thirty_percent():
    assert ProbeConfig(k_folds=10).failed_split_limit == 3
    assert ProbeConfig(k_folds=200).failed_split_limit == 60
    assert ProbeConfig(k_folds=10, max_failed_splits=0).failed_split_limit == 0


def test_nan_splits_ignored_by_q():
    from scoring.quality import split_summary

    mean, std, failed = split_summary(np.array([0.5, np.nan, 0.3]))
    assert (mean, failed) == (pytest.approx(0.4), 1)
    assert std == pytest.approx(0.1)
    assert math.isnan(split_summary(np.array([np.nan, np.nan]))[0])


def test_progress_reports_every_epoch_of_every_task(challenge):
    tasks, table = challenge
    calls = []
    score_submission(table, tasks, CONFIG, seed=1, on_progress=lambda *a: calls.append(a))
    assert len(calls) == len(tasks) * CONFIG.epochs
    assert calls[-1] == (2, 3, CONFIG.epochs, CONFIG.epochs)


def test_task_generator_seed_is_stable_and_task_specific():
    assert task_generator_seed(42, "crops") == task_generator_seed(42, "crops")
    assert task_generator_seed(42, "crops") != task_generator_seed(42, "crops2")
    assert task_generator_seed(42, "crops") != task_generator_seed(43, "crops")
