"""Kendra: the index, schedule, prefix and FAQ checks (limits from botocore, file rules from the Kendra guide)."""

from __future__ import annotations

import json

import pytest

from mlblueprints.constructs.kendra.search_index import (
    FAQS,
    faq_problems,
    index_problems,
    prefix_problems,
    schedule_problems,
)


def _messages(problems) -> str:
    return " | ".join(p.message for p in problems)


def test_the_catalogs_faq_is_valid():
    assert faq_problems(FAQS / "it-helpdesk.csv", "CSV_WITH_HEADER") == []


@pytest.mark.parametrize(
    ("edition", "kwargs", "expected"),
    [
        ("DEVELOPER_EDITION", {}, None),
        ("ENTERPRISE_EDITION", {"query_capacity_units": 2, "storage_capacity_units": 100}, None),
        ("BASIC_EDITION", {}, "use DEVELOPER_EDITION, ENTERPRISE_EDITION, GEN_AI_ENTERPRISE_EDITION"),
        (
            "DEVELOPER_EDITION",
            {"query_capacity_units": 1},
            "a Developer Edition index takes no extra capacity",
        ),
        ("ENTERPRISE_EDITION", {"storage_capacity_units": 101}, "storage_capacity_units 101: 0 to 100"),
        ("ENTERPRISE_EDITION", {"query_capacity_units": -1}, "query_capacity_units -1"),
        ("GEN_AI_ENTERPRISE_EDITION", {"region": "ap-northeast-1"}, "not offered in ap-northeast-1"),
        ("GEN_AI_ENTERPRISE_EDITION", {"region": "us-west-2"}, None),
    ],
)
def test_index_rejections(edition, kwargs, expected):
    messages = _messages(index_problems(edition, **kwargs))
    assert (expected in messages) if expected else messages == "", messages


@pytest.mark.parametrize(
    ("schedule", "ok"),
    [("cron(0 3 * * ? *)", True), ("", True), ("cron(0/30 * ? * MON-FRI *)", True),
     ("rate(1 day)", False), ("cron(0 3 * * ?)", False), ("0 3 * * *", False)],
)  # fmt: skip
def test_schedules(schedule, ok):
    assert (schedule_problems(schedule) == []) is ok


def test_prefix_limits_come_from_botocore():
    assert prefix_problems(["handbooks/"]) == []
    assert "at most 250" in _messages(prefix_problems(["p/"] * 251))
    assert "1 to 300 characters" in _messages(prefix_problems(["x" * 301]))


@pytest.mark.parametrize(
    ("name", "content", "file_format", "expected"),
    [
        ("faq.csv", "How?,Like this.\nWhy?,Because.,https://example.com\n", "CSV", None),
        ("faq.csv", "_question,_answer\nHow?,Like this.\n", "CSV_WITH_HEADER", None),
        ("faq.csv", "question,answer\nHow?,Like this.\n", "CSV_WITH_HEADER", "needs _question and _answer"),
        ("faq.csv", "_question,_answer\nHow?\n", "CSV_WITH_HEADER", "1 fields; the header has 2"),
        ("faq.csv", "_question,_answer\n,Like this.\n", "CSV_WITH_HEADER", "a question and its answer are both needed"),
        ("faq.csv", "_question,_answer\n", "CSV_WITH_HEADER", "no question-answer pairs"),
        ("faq.csv", "How?\n", "CSV", "a CSV FAQ row is question, answer and an optional URL"),
        ("faq.json", json.dumps({"SchemaVersion": 1, "FaqDocuments": [{"Question": "How?", "Answer": "So."}]}), "JSON", None),
        ("faq.json", json.dumps({"FaqDocuments": []}), "JSON", '"SchemaVersion": 1'),
        ("faq.json", json.dumps({"SchemaVersion": 1, "FaqDocuments": [{"Question": "How?"}]}), "JSON", "FaqDocuments[0] needs"),
        ("faq.json", "{not json", "JSON", "not JSON"),
        ("faq.csv", "How?,So.\n", "XLSX", "use CSV, CSV_WITH_HEADER, JSON"),
    ],
)  # fmt: skip
def test_faq_rejections(tmp_path, name, content, file_format, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    messages = _messages(faq_problems(path, file_format))
    assert (expected in messages) if expected else messages == "", messages


def test_a_missing_or_oversized_faq_is_refused(tmp_path):
    assert "no such file" in _messages(faq_problems(tmp_path / "none.csv", "CSV"))
    big = tmp_path / "big.csv"
    big.write_text("How?,So.\n" * 600_000)
    assert "5 MB at most" in _messages(faq_problems(big, "CSV"))
