"""Personalize: the data checks against the schemas and the training minimums."""

from __future__ import annotations

import pytest

from mlblueprints.constructs.personalize.recommender import MIN_INTERACTIONS, SAMPLE, data_problems


def _messages(problems) -> str:
    return " | ".join(p.message for p in problems)


def _interactions(users: int, per_user: int) -> str:
    rows = [f"user-{u},item-{i},{1_700_000_000 + u * 100 + i}" for u in range(users) for i in range(per_user)]
    return "USER_ID,ITEM_ID,TIMESTAMP\n" + "\n".join(rows) + "\n"


def test_the_catalogs_sample_trains():
    assert data_problems(SAMPLE / "interactions", SAMPLE / "items") == []


@pytest.mark.parametrize(
    ("interactions", "items", "expected"),
    [
        (_interactions(25, 40), "ITEM_ID,CATEGORY\nitem-1,books\n", None),
        (_interactions(25, 39), None, f"975 interactions, 25 users with two or more; Personalize trains on at least {MIN_INTERACTIONS}"),
        (_interactions(1000, 1) + _interactions(24, 2), None, "24 users with two or more"),
        ("USER,ITEM,TIME\nu,i,1\n", None, "the first row is the header USER_ID,ITEM_ID,TIMESTAMP"),
        (_interactions(25, 40) + "u,i\n", None, "row 1002: 3 values"),
        (_interactions(25, 40) + "u,i,yesterday\n", None, "TIMESTAMP 'yesterday' is not a Unix time"),
        (_interactions(25, 40) + "u,i,1700000000000\n", None, "TIMESTAMP '1700000000000' is not a Unix time in seconds"),
        (_interactions(25, 40) + f"{'u' * 257},i,1\n", None, "an ID longer than 256 characters"),
        (_interactions(25, 40), f"ITEM_ID,CATEGORY\ni,{'c' * 1001}\n", "CATEGORY over 1000 characters"),
        (_interactions(25, 40), "ITEM_ID,GENRE\ni,x\n", "items_data items.csv: the first row is the header ITEM_ID,CATEGORY"),
    ],
)  # fmt: skip
def test_data_rejections(tmp_path, interactions, items, expected):
    (tmp_path / "interactions").mkdir()
    (tmp_path / "interactions" / "interactions.csv").write_text(interactions)
    items_folder = None
    if items is not None:
        items_folder = tmp_path / "items"
        items_folder.mkdir()
        (items_folder / "items.csv").write_text(items)
    messages = _messages(data_problems(tmp_path / "interactions", items_folder))
    assert (expected in messages) if expected else messages == "", messages


def test_other_files_and_missing_folders_are_refused(tmp_path):
    (tmp_path / "interactions.csv").write_text(_interactions(25, 40))
    (tmp_path / "notes.txt").write_text("x")
    assert "holds ['notes.txt']" in _messages(data_problems(tmp_path, None))
    assert "is not a folder" in _messages(data_problems(tmp_path / "none", None))
