"""Comprehend: the training data checks (two columns, two labels, fifty documents per label, one line each)."""

from __future__ import annotations

import pytest

from mlblueprints.constructs.comprehend.custom_classifier import TRAINING, training_problems, training_version
from mlblueprints.constructs.comprehend.entity_recognizer import ENTITIES, entity_problems, entity_version

BALANCED = "".join(f"A,doc {i}\nB,doc {i}\n" for i in range(50))


def _messages(problems) -> str:
    return " | ".join(p.message for p in problems)


def test_the_catalogs_training_data_is_valid():
    assert training_problems(TRAINING) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (BALANCED, None),
        ("".join(f"A,doc {i}\n" for i in range(60)), "1 label(s); a classifier needs two or more"),
        (
            "".join(f"A,doc {i}\n" for i in range(50)) + "B,only one\n",
            "label 'B' has 1 documents; give at least 50",
        ),
        (BALANCED + '"B","two\nlines"\n', "row 101: a document spans lines"),
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


def test_a_byte_order_mark_and_other_files_are_refused(tmp_path):
    (tmp_path / "train.csv").write_bytes(b"\xef\xbb\xbf" + BALANCED.encode())
    (tmp_path / "README.md").write_text("notes")
    messages = _messages(training_problems(tmp_path))
    assert "starts with a byte-order mark" in messages and "holds ['README.md']" in messages, messages


def test_the_version_follows_the_data_and_the_language(tmp_path):
    (tmp_path / "train.csv").write_text(BALANCED)
    first = training_version(tmp_path, "en")
    assert first == training_version(tmp_path, "en") and first.startswith("v-") and len(first) == 14
    assert training_version(tmp_path, "de") != first
    (tmp_path / "train.csv").write_text(BALANCED + "A,one more\n")
    assert training_version(tmp_path, "en") != first


DOCS = "Acme X fails after the last update, support please help.\n" * 200


def _entity_folder(tmp_path, documents: str, entities: str):
    (tmp_path / "documents.txt").write_text(documents)
    (tmp_path / "entity_list.csv").write_text(entities)
    return tmp_path


@pytest.mark.parametrize(
    ("documents", "entities", "expected"),
    [
        (DOCS, "Text,Type\nAcme X,PRODUCT\n", None),
        ("Acme X fails at once.\n" * 24 + "Nothing else to see here at all today, really.\n" * 100, "Text,Type\nAcme X,PRODUCT\n",
         "PRODUCT is found 24 times in documents.txt; give at least 25"),
        (DOCS, "Text,Type\nAcme,PRODUCT\n", None),
        (DOCS.replace("Acme X", "Acme Xtra"), "Text,Type\nAcme X,PRODUCT\n", "PRODUCT is found 0 times"),
        (DOCS, "Name,Kind\nAcme X,PRODUCT\n", "starts with the header Text,Type"),
        (DOCS, "Text,Type\nAcme X,product\n", "row 2: a text of 1 to 5000 characters and an upper-case type"),
        (DOCS, "Text,Type\n" + "".join(f"Acme X,T{i}\n" for i in range(26)), "26 entity types; a recognizer trains at most 25"),
        ("Acme X.\nAcme X.\n", "Text,Type\nAcme X,PRODUCT\n", "documents.txt has 2 documents in 16 bytes"),
        (DOCS + "\n" + DOCS, "Text,Type\nAcme X,PRODUCT\n", "line 201: each document is 1 to 5000 bytes"),
    ],
)  # fmt: skip
def test_entity_rejections(tmp_path, documents, entities, expected):
    messages = _messages(entity_problems(_entity_folder(tmp_path, documents, entities)))
    assert (expected in messages) if expected else messages == "", messages


def test_the_entity_sample_trains_and_other_files_are_refused(tmp_path):
    assert entity_problems(ENTITIES) == []
    folder = _entity_folder(tmp_path, DOCS, "Text,Type\nAcme X,PRODUCT\n")
    (folder / "notes.md").write_text("x")
    assert "holds exactly documents.txt, entity_list.csv" in _messages(entity_problems(folder))
    assert entity_version(ENTITIES, "en") != entity_version(ENTITIES, "de")
