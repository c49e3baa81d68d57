"""Comprehend: the training data checks (two columns, two labels, ten documents per label)."""

from __future__ import annotations

import pytest

from mlblueprints.constructs.comprehend.custom_classifier import TRAINING, training_problems


def _messages(problems) -> str:
    return " | ".join(p.message for p in problems)


def test_the_catalogs_training_data_is_valid():
    assert training_problems(TRAINING) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("".join(f"A,doc {i}\nB,doc {i}\n" for i in range(10)), None),
        ("".join(f"A,doc {i}\n" for i in range(20)), "1 label(s); a classifier needs two or more"),
        (
            "".join(f"A,doc {i}\n" for i in range(10)) + "B,only one\n",
            "label 'B' has 1 documents; give at least 10",
        ),
        ("A,doc,extra\n", "a label and a document (2 columns)"),
        ("A,\n", "a label and a document (2 columns)"),
    ],
)
def test_training_rejections(tmp_path, content, expected):
    (tmp_path / "train.csv").write_text(content, encoding="utf-8")
    messages = _messages(training_problems(tmp_path))
    assert (expected in messages) if expected else messages == "", messages


def test_a_missing_or_empty_folder_is_refused(tmp_path):
    assert "is not a folder" in _messages(training_problems(tmp_path / "none"))
    assert "has no .csv file" in _messages(training_problems(tmp_path))
