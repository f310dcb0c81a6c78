"""ProbeConfig and the annotation folder: accepted shapes and every error message."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.config import ConfigError, ProbeConfig, load_probe_config, probe_config_from_mapping
from scoring.labels import AnnotationError, load_tasks, select_tasks


def test_nested_and_flat_reference_forms_agree():
    nested = probe_config_from_mapping(
        {"k_folds": 40, "probe_params": {"batch_size": 64, "epochs": 20, "learning_rate": 0.001}}
    )
    flat = probe_config_from_mapping(
        {"k_folds": 40, "batch_size": 64, "epochs": 20, "learning_rate": 0.001}
    )
    assert nested == flat
    assert nested.epochs == 20 and nested.k_folds == 40


def test_golden_config_loads():
    path = Path(__file__).resolve().parents[3] / "shared" / "golden" / "config.yaml"
    if not path.exists():
        pytest.skip("golden config not available")
    config = load_probe_config(path)
    assert (config.k_folds, config.epochs, config.output_fold_results) == (40, 20, True)


def test_every_problem_reported_at_once():
    with pytest.raises(ConfigError) as info:
        probe_config_from_mapping(
            {"k_folds": "many", "probe_params": {"lr": 1}, "device": "gpu", "seed": -1,
             "batching": "fast", "task_filter": "crops", "test_fraction": 1.5}
        )
    problems = info.value.problems
    assert "k_folds must be a positive whole number, got 'many'" in problems
    assert "unknown key 'probe_params.lr'" in problems
    assert "device must be one of cpu, cuda, auto, got 'gpu'" in problems
    assert "seed must be a whole number in [0, 2**32), got -1" in problems
    assert "batching must be one of shared, independent, got 'fast'" in problems
    assert any(p.startswith("task_filter must be null or a list") for p in problems)
    assert "test_fraction must be a number strictly between 0 and 1, got 1.5" in problems


def test_key_given_twice():
    with pytest.raises(ConfigError, match="'epochs' is given both at the top level and in"):
        probe_config_from_mapping({"epochs": 3, "probe_params": {"epochs": 4}})


def test_fingerprint_ignores_reporting_and_seed_but_not_numbers():
    a = ProbeConfig()
    assert a.fingerprint() == a.replace(enable_plots=True, seed=9).fingerprint()
    assert a.fingerprint() != a.replace(epochs=11).fingerprint()
    assert a.fingerprint() != a.replace(batching="independent").fingerprint()


def test_yaml_syntax_error(tmp_path: Path):
    p = tmp_path / "c.yaml"
    p.write_text("k_folds: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_probe_config(p)


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)


def test_tasks_load_sorted_with_empty_labels_skipped(tmp_path: Path):
    write(tmp_path, "zeta__cls.csv", "id,label\na,0\nb,1\nc,\n")
    write(tmp_path, "heat-island_mean__regr.csv", "id,label\nb,2.5\na,1.0\n")
    write(tmp_path, "cloud_detection__classification.csv", "id,label\na,1\nb,0\n")
    tasks = load_tasks(tmp_path)
    assert [t.name for t in tasks] == ["cloud_detection", "heat-island_mean", "zeta"]
    assert tasks[1].ids == ("b", "a")  # label-file order kept
    assert tasks[2].skipped_empty == 1 and tasks[2].kind == "cls"
    assert [t.name for t in select_tasks(tasks, ("zeta",))] == ["zeta"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "crops.csv",
            "id,label\na,1\nb,2\n",
            r"label files must be named <task>__<regr\|cls\|mcls>.csv",
        ),
        ("crops__svm.csv", "id,label\na,1\nb,2\n", "task type 'svm' is not regr, cls or mcls"),
        ("crops__regr.csv", "", "the file is empty"),
        ("crops__regr.csv", "sample,value\na,1\n", "must contain columns 'id' and 'label'"),
        ("crops__regr.csv", "id,label\na,1\nb,high\n", "line 3: label 'high' is not a number"),
        ("crops__regr.csv", "id,label\na,1\na,2\n", "id 'a' appears twice (lines 2 and 3)"),
        ("crops__regr.csv", "id,label\na,1\nb,1\n", "every label is 1; a constant task"),
        ("crops__cls.csv", "id,label\na,1\nb,2\n", "classification labels must be 0 or 1"),
        ("crops__regr.csv", "id,label\na,1\n", "needs at least 2 labelled rows"),
    ],
)
def test_bad_label_files(tmp_path: Path, name: str, text: str, message: str):
    write(tmp_path, name, text)
    with pytest.raises(AnnotationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_tasks(tmp_path)


def test_bad_folders(tmp_path: Path):
    with pytest.raises(AnnotationError, match="annotation folder not found"):
        load_tasks(tmp_path / "nope")
    with pytest.raises(AnnotationError, match=r"no <task>__<regr\|cls\|mcls>.csv files"):
        load_tasks(tmp_path)
    write(tmp_path, "a__regr.csv", "id,label\nx,1\ny,2\n")
    with pytest.raises(AnnotationError, match="task_filter names unknown task"):
        select_tasks(load_tasks(tmp_path), ("b",))


# ---- label files an organiser can get wrong: each problem says file, line and what -------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,label\na,1\nb,2\nc\n", "crops__regr.csv: line 4 has 1 field(s), fewer than the "
         "header's columns need (2)"),
        ("id,label\na,1\nb,2\x00\n", "crops__regr.csv: line 3: the file contains a NUL byte "
         "(is it a binary file?)"),
        ("id,label\na,1\nb," + "9" * 140_000 + "\n", "crops__regr.csv: line 3: a field is "
         "longer than 131,072 characters"),
    ],
)
def test_malformed_rows_name_their_line_and_never_echo_the_row(tmp_path: Path, text, message):
    write(tmp_path, "crops__regr.csv", text)
    with pytest.raises(AnnotationError) as caught:
        load_tasks(tmp_path)
    assert str(caught.value) == message


def test_a_label_file_that_is_not_utf8_names_line_and_column(tmp_path: Path):
    tmp_path.joinpath("crops__regr.csv").write_bytes(b"id,label\na,1\nb\xe9,2\n")
    with pytest.raises(AnnotationError) as caught:
        load_tasks(tmp_path)
    assert str(caught.value) == ("crops__regr.csv: line 3, column 2: byte 0xe9 is not UTF-8 "
                                 "text; save the file as UTF-8")


def test_an_unreadable_label_file_is_an_annotation_error(tmp_path: Path):
    # /proc/self/mem is a regular file that no read at offset 0 succeeds on, even as root.
    (tmp_path / "crops__regr.csv").symlink_to("/proc/self/mem")
    with pytest.raises(AnnotationError) as caught:
        load_tasks(tmp_path)
    assert str(caught.value) == "crops__regr.csv: cannot be read (Input/output error)"


def test_every_bad_file_is_listed_once(tmp_path: Path):
    write(tmp_path, "a__regr.csv", "id,label\nx,1\ny,oops\n")
    write(tmp_path, "b__regr.csv", "id,label\nx,1\ny,2\n")
    write(tmp_path, "c__cls.csv", "id,label\nx,1\ny,3\n")
    with pytest.raises(AnnotationError) as caught:
        load_tasks(tmp_path)
    assert caught.value.problems == [
        "a__regr.csv: line 3: label 'oops' is not a number",
        "c__cls.csv: classification labels must be 0 or 1, found 3",
    ]
    assert str(caught.value) == ("a__regr.csv: line 3: label 'oops' is not a number "
                                 "(and 1 more file(s) with problems)")
