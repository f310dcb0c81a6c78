"""Unit tests of the synthetic challenge generator (tiny and demo sizes; full size only where
generating labels is cheap). Writes only into pytest's tmp_path."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthetic import (
    FINAL_PHASE_2025,
    TEAM_NAMES,
    TEAMS,
    Challenge,
    ChallengeSpec,
    final_phase,
    latent_state,
    make_challenge,
    significant_digits_rounded,
    spec_for_size,
    write_challenge,
    write_embedding_table,
)
from synthetic.__main__ import main

INFORMATIVE_TASKS = (
    "biomass_mean",
    "biomass_std",
    "crops",
    "landcover_agriculture",
    "landcover_forest",
    "heat-island_mean",
    "heat-island_std",
)


@pytest.fixture(scope="module")
def tiny() -> Challenge:
    return make_challenge(spec_for_size("tiny"))


@pytest.fixture(scope="module")
def full_labels():
    """The full-size final phase: labels only (embeddings would take seconds)."""
    spec = spec_for_size("full")
    latent = latent_state(spec)
    return latent, final_phase(spec, latent)


def _all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# --- shape of the challenge -------------------------------------------------------------------


def test_full_size_has_the_2025_final_phase_shape(full_labels):
    latent, final = full_labels
    rows = {task.name: len(task.ids) for task in final.tasks}
    assert rows == {
        "biomass_mean": 2415,
        "biomass_std": 2415,
        "crops": 3355,
        "landcover_agriculture": 4691,
        "landcover_forest": 4691,
        "heat-island_mean": 1659,
        "heat-island_std": 1659,
        "random_reg": 1140,
        "random_cls": 1140,
    }
    assert sum(rows.values()) == 23165
    assert len(latent.ids) == len(set(latent.ids)) == 13260
    assert {t.file_name for t in final.tasks} == {
        "biomass_mean__regr.csv",
        "biomass_std__regr.csv",
        "crops__regr.csv",
        "landcover_agriculture__regr.csv",
        "landcover_forest__regr.csv",
        "heat-island_mean__regr.csv",
        "heat-island_std__regr.csv",
        "random_reg__regr.csv",
        "random_cls__cls.csv",
    }


def test_tasks_of_a_group_share_ids_and_groups_are_disjoint(tiny):
    final = tiny.phase("final")
    group_ids = []
    for group in FINAL_PHASE_2025:
        first, *rest = [final.task(t.name).ids for t in group.tasks]
        assert len(first) == tiny.spec.group_rows(group) >= 60
        for other in rest:
            np.testing.assert_array_equal(other, first)
        group_ids.append(set(first))
    union = set().union(*group_ids)
    assert len(union) == sum(len(ids) for ids in group_ids) == len(tiny.ids)
    assert union == set(tiny.ids)


def test_every_submission_covers_every_id_once_with_the_configured_dim(tiny):
    assert [s.team for s in tiny.submissions] == list(TEAM_NAMES) == list(TEAMS)
    for submission in tiny.submissions:
        assert submission.matrix.shape == (len(tiny.ids), 16)
        assert submission.matrix.dtype == np.float32
        assert np.isfinite(submission.matrix).all()
        np.testing.assert_array_equal(submission.ids, tiny.ids)
    assert len(set(tiny.ids)) == len(tiny.ids)


def test_development_phase_is_a_row_subset_of_five_final_tasks(tiny):
    final, dev = tiny.phase("final"), tiny.phase("dev")
    assert [t.name for t in dev.tasks] == [
        "biomass_mean",
        "crops",
        "landcover_agriculture",
        "heat-island_mean",
        "random_cls",
    ]
    for task in dev.tasks:
        full = final.task(task.name)
        assert len(task.ids) == round(0.4 * len(full.ids))
        position = {i: k for k, i in enumerate(full.ids)}
        rows = np.array([position[i] for i in task.ids])
        assert (np.diff(rows) > 0).all()  # final-phase order kept
        np.testing.assert_array_equal(task.labels, full.labels[rows])
    assert dev.task("random_cls").labels.sum() >= 1  # stratified: positives survive


# --- labels -----------------------------------------------------------------------------------


def test_label_ranges_skew_and_zero_inflation(full_labels):
    _, final = full_labels

    def labels(name: str) -> np.ndarray:
        values = final.task(name).labels
        return values[~np.isnan(values)]

    biomass = labels("biomass_mean")
    assert biomass.min() == 0.0 and biomass.max() <= 400.0
    assert 0.03 < np.mean(biomass == 0) < 0.15
    assert biomass.mean() > 1.2 * np.median(biomass)  # right-skewed
    mean, std = final.task("biomass_mean").labels, final.task("biomass_std").labels
    both = ~np.isnan(std)
    assert np.corrcoef(mean[both], std[both])[0, 1] > 0.5
    assert np.median(std[both]) < np.median(mean[both])

    for name in ("crops", "landcover_agriculture", "landcover_forest"):
        fraction = labels(name)
        assert fraction.min() == 0.0 and fraction.max() == 1.0, name
        assert np.mean(fraction == 0) > 0.15, name
        assert 0.005 < np.mean(fraction == 1) < 0.25, name
    agriculture, forest = labels("landcover_agriculture"), labels("landcover_forest")
    assert np.corrcoef(agriculture, forest)[0, 1] < -0.3
    assert (agriculture + forest <= 1.0001).all()

    heat_mean, heat_std = labels("heat-island_mean"), labels("heat-island_std")
    assert 20 <= heat_mean.min() and heat_mean.max() <= 45 and 28 < heat_mean.mean() < 36
    assert 0.5 <= heat_std.min() and heat_std.max() <= 6

    random_reg, random_cls = labels("random_reg"), labels("random_cls")
    assert random_reg.min() == 0.0 and 0.75 < np.mean(random_reg == 0) < 0.9
    assert set(np.unique(random_cls)) == {0.0, 1.0}
    assert abs(random_cls.mean() - 0.1) < 0.01


def test_random_labels_do_not_depend_on_the_latent_state(full_labels):
    latent, final = full_labels
    _, z = latent.group("random")
    for name in ("random_reg", "random_cls"):
        labels = final.task(name).labels
        correlations = [abs(np.corrcoef(labels, z[:, j])[0, 1]) for j in range(z.shape[1])]
        assert max(correlations) < 4 / math.sqrt(len(labels)), name


def test_empty_labels_only_where_intended(tiny, full_labels):
    _, final = full_labels
    assert {t.name: t.empty_labels for t in final.tasks if t.empty_labels} == {
        "biomass_std": 3,
        "heat-island_std": 2,
    }
    assert {t.name: t.empty_labels for t in tiny.phase("final").tasks if t.empty_labels} == {
        "biomass_std": 1,
        "heat-island_std": 1,
    }
    assert all(t.empty_labels == 0 for t in tiny.phase("dev").tasks)


# --- files ------------------------------------------------------------------------------------


def test_written_label_files_parse_back_with_empty_cells(tiny, tmp_path):
    layout = write_challenge(tiny, tmp_path)
    for phase in tiny.phases:
        written = sorted(p.name for p in layout.annotations[phase.name].iterdir())
        assert written == sorted(t.file_name for t in phase.tasks)
        for task in phase.tasks:
            path = layout.annotations[phase.name] / task.file_name
            frame = pd.read_csv(path)
            assert list(frame.columns) == ["id", "label"]
            np.testing.assert_array_equal(frame["id"].to_numpy(str), task.ids)
            np.testing.assert_array_equal(frame["label"].to_numpy(float), task.labels)
            empty_lines = [ln for ln in path.read_text().splitlines() if ln.endswith(",")]
            assert len(empty_lines) == task.empty_labels
    cls_lines = (layout.annotations["final"] / "random_cls__cls.csv").read_text().splitlines()
    assert {line.rsplit(",", 1)[1] for line in cls_lines[1:]} == {"0", "1"}


@pytest.mark.parametrize("gzip_submissions", [False, True])
def test_written_submissions_parse_back_to_the_same_ids_and_values(
    tiny, tmp_path, gzip_submissions
):
    layout = write_challenge(tiny, tmp_path, gzip_submissions=gzip_submissions)
    for submission in tiny.submissions:
        path = layout.submissions[submission.team]
        assert path.name == submission.team + (".csv.gz" if gzip_submissions else ".csv")
        frame = pd.read_csv(path)
        assert list(frame.columns) == ["id"] + [str(i) for i in range(16)]
        np.testing.assert_array_equal(frame["id"].to_numpy(str), submission.ids)
        np.testing.assert_allclose(
            frame.drop(columns="id").to_numpy(np.float64),
            submission.matrix,
            rtol=6e-6,
            atol=1e-30,
        )
    manifest = pd.read_json(layout.manifest, typ="series")
    assert manifest["ids"] == len(tiny.ids)
    assert [t["name"] for t in manifest["teams"]] == list(TEAM_NAMES)


def test_values_are_printed_with_six_significant_digits(tmp_path):
    values = np.array([[0.123456789, -1234567.0, 0.0, 1.5e-7, 1.0, np.nan]], dtype=np.float32)
    path = write_embedding_table(tmp_path / "t.csv", ["a"], values)
    assert path.read_text().splitlines() == [
        "id,0,1,2,3,4,5",
        "a,0.123457,-1234570,0,1.5e-7,1,nan",
    ]
    rounded = significant_digits_rounded(np.array([9.9999996, 0.00123456789]))
    assert rounded.tolist() == pytest.approx([10.0, 0.00123457], rel=1e-7)


def test_embedding_table_writer_crafts_custom_files_and_rejects_unsafe_ids(tmp_path):
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = write_embedding_table(
        tmp_path / "odd.csv.gz",
        ["x.zarr.zip", "y.zarr"],
        matrix,
        column_names=["2", "0", "feature"],
    )
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["id", "2", "0", "feature"]
    assert frame["id"].tolist() == ["x.zarr.zip", "y.zarr"]
    np.testing.assert_array_equal(frame[["2", "0", "feature"]].to_numpy(), matrix)
    with pytest.raises(ValueError, match="commas") as error:
        write_embedding_table(tmp_path / "bad.csv", ["a,b", "c"], np.zeros((3, 2)))
    assert "2 ids for 3 matrix rows" in str(error.value)
    assert not (tmp_path / "bad.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.csv.gz"]  # no temp files left


def test_same_spec_gives_byte_identical_files(tmp_path):
    spec = spec_for_size("tiny", seed=7)
    first = write_challenge(make_challenge(spec), tmp_path / "a", gzip_submissions=True)
    second = write_challenge(make_challenge(spec), tmp_path / "b", gzip_submissions=True)
    files = _all_files(first.root)
    assert len(files) == 9 + 5 + 5 + 1
    assert files == _all_files(second.root)
    other_seed = make_challenge(spec_for_size("tiny", seed=8))
    assert not set(other_seed.ids) & set(make_challenge(spec).ids)


def test_a_team_does_not_depend_on_which_other_teams_are_generated():
    spec = spec_for_size("tiny")
    alone = make_challenge(dataclasses.replace(spec, teams=("medium",)))
    together = make_challenge(spec)
    np.testing.assert_array_equal(
        alone.submission("medium").matrix, together.submission("medium").matrix
    )


def test_the_wide_team_set_adds_specialists_without_changing_the_five():
    from synthetic import TEAM_SETS, VARIANT_TEAM_NAMES
    from synthetic.variants import VARIANT_TEAMS

    assert list(VARIANT_TEAMS) == list(VARIANT_TEAM_NAMES)
    assert TEAM_SETS["default"] == TEAM_NAMES and len(TEAM_SETS["wide"]) == 12
    wide = make_challenge(spec_for_size("tiny", teams="wide"))
    default = make_challenge(spec_for_size("tiny"))
    assert [s.team for s in wide.submissions] == list(TEAM_NAMES + VARIANT_TEAM_NAMES)
    for team in TEAM_NAMES:
        np.testing.assert_array_equal(wide.submission(team).matrix, default.submission(team).matrix)
    # landcover_only is a linear view on the landcover samples and noise elsewhere.
    position = {i: k for k, i in enumerate(wide.ids)}
    for name, informative in (("landcover_forest", True), ("crops", False)):
        task = wide.phase("final").task(name)
        rows = np.array([position[i] for i in task.ids])
        x = wide.submission("landcover_only").matrix[rows].astype(np.float64)
        x_strong = wide.submission("strong").matrix[rows].astype(np.float64)
        ours = _ridge_r2(x, task.labels, np.random.default_rng(0), 20, 0.2, 0.1)
        strong = _ridge_r2(x_strong, task.labels, np.random.default_rng(0), 20, 0.2, 0.1)
        assert (ours > strong - 0.1) if informative else (ours < strong - 0.1), (name, ours, strong)
    with pytest.raises(ValueError, match="unknown team set 'huge'"):
        spec_for_size("tiny", teams="huge")


# --- quality ordering -------------------------------------------------------------------------


def _ridge_r2(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    splits: int = 10,
    test_share: float = 0.1,
    penalty: float = 1.0,
) -> float:
    """Mean test R^2 of closed-form ridge (penalty x training rows) over random splits, with the
    protocol's one global standardisation of the embeddings and min-max labels."""
    x = (x - x.mean()) / x.std()
    y = (y - y.min()) / (y.max() - y.min())
    n = len(y)
    scores = []
    for _ in range(splits):
        order = rng.permutation(n)
        n_test = round(n * test_share)
        test, train = order[:n_test], order[n_test:]
        x_mean, y_mean = x[train].mean(axis=0), y[train].mean()
        centred = x[train] - x_mean
        weights = np.linalg.solve(
            centred.T @ centred + penalty * len(train) * np.eye(x.shape[1]),
            centred.T @ (y[train] - y_mean),
        )
        predicted = (x[test] - x_mean) @ weights + y_mean
        residual = ((y[test] - predicted) ** 2).sum()
        scores.append(1.0 - residual / ((y[test] - y[test].mean()) ** 2).sum())
    return float(np.mean(scores))


def test_linear_probe_orders_the_teams_on_informative_tasks():
    challenge = make_challenge(spec_for_size("demo"))
    position = {i: k for k, i in enumerate(challenge.ids)}
    r2: dict[str, list[float]] = {team: [] for team in TEAM_NAMES}
    for name in INFORMATIVE_TASKS:
        task = challenge.phase("final").task(name)
        labelled = ~np.isnan(task.labels)
        rows = np.array([position[i] for i in task.ids[labelled]])
        for submission in challenge.submissions:
            x = submission.matrix[rows].astype(np.float64)
            r2[submission.team].append(
                _ridge_r2(x, task.labels[labelled], np.random.default_rng(0), 5, 0.2)
            )
    strong, medium, weak = (np.array(r2[t]) for t in ("strong", "medium", "weak"))
    random, nonlinear = np.array(r2["baseline_random"]), np.array(r2["nonlinear"])
    assert (strong > 0.25).all() and (strong > medium + 0.1).all(), r2
    assert (medium > weak + 0.05).all(), r2
    assert np.abs(weak).max() < 0.1 and weak.mean() > random.mean(), r2
    assert (nonlinear < 0).all(), r2  # sines of projections: nothing a linear probe can use


def test_strong_beats_weak_at_tiny_size(tiny):
    task = tiny.phase("final").task("landcover_agriculture")
    position = {i: k for k, i in enumerate(tiny.ids)}
    rows = np.array([position[i] for i in task.ids])
    scores = {
        team: _ridge_r2(
            tiny.submission(team).matrix[rows].astype(np.float64),
            task.labels,
            np.random.default_rng(0),
            splits=30,
            test_share=0.2,
            penalty=0.1,
        )
        for team in ("strong", "weak")
    }
    assert scores["strong"] > 0.15 and scores["strong"] > scores["weak"] + 0.15, scores


# --- spec and CLI -----------------------------------------------------------------------------


def test_named_sizes_and_explicit_parameters():
    assert spec_for_size("full") == ChallengeSpec(size="full")
    demo = spec_for_size("demo", seed=3, dim=1024)
    assert (demo.seed, demo.dim, demo.row_scale) == (3, 1024, 0.25)
    assert [demo.group_rows(g) for g in FINAL_PHASE_2025] == [604, 839, 1173, 415, 285]
    custom = ChallengeSpec(row_scale=0.1, dim=8, latent_dim=8, seed=5)
    assert [custom.group_rows(g) for g in FINAL_PHASE_2025] == [242, 336, 469, 166, 114]
    floored = ChallengeSpec(row_scale=0.01, min_rows_per_task=40)
    assert [floored.group_rows(g) for g in FINAL_PHASE_2025] == [40, 40, 47, 40, 40]
    with pytest.raises(ValueError, match="unknown size"):
        spec_for_size("huge")


def test_invalid_spec_lists_every_problem():
    with pytest.raises(ValueError) as error:
        ChallengeSpec(dim=0, dev_fraction=1.5, teams=("strong", "nobody"))
    message = str(error.value)
    assert "dim must be >= 1" in message
    assert "dev_fraction" in message
    assert "unknown teams ['nobody']" in message
    with pytest.raises(ValueError, match="fewer than 10 rows"):
        ChallengeSpec(row_scale=0.001)


def test_cli_writes_and_reports_the_challenge(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--size", "tiny", "--dim", "4", "--gzip"]) == 0
    printed = capsys.readouterr().out
    assert "434 ids" in printed and "biomass_std__regr.csv: 72 rows (1 empty labels)" in printed
    frame = pd.read_csv(tmp_path / "submissions" / "strong.csv.gz")
    assert frame.shape == (434, 5)
    assert (tmp_path / "phases" / "dev" / "annotations" / "crops__regr.csv").exists()
    assert main(["--out", str(tmp_path), "--size", "tiny", "--row-scale", "0"]) == 2
