"""The Dockerfile linter: what can be checked statically of SageMaker's container contract."""

from __future__ import annotations

import pytest

from mlblueprints.apps.dockerfile_lint import lint_dockerfile, main

GOOD_SERVING = """\
# a serving container
FROM public.ecr.aws/docker/library/python:3.12-slim
RUN pip install --no-cache-dir \\
    flask==3.1.0
COPY serve.py /opt/program/serve.py
EXPOSE 8080
ENTRYPOINT ["python", "/opt/program/serve.py"]
"""

GOOD_TRAINING = """\
FROM public.ecr.aws/docker/library/python:3.12-slim
COPY train /usr/local/bin/train
RUN chmod +x /usr/local/bin/train
"""


def test_contract_abiding_dockerfiles_have_no_findings():
    assert lint_dockerfile(GOOD_SERVING, kind="serving") == []
    assert lint_dockerfile(GOOD_TRAINING, kind="training") == []


@pytest.mark.parametrize(
    ("dockerfile", "rule", "line"),
    [
        (
            GOOD_SERVING.replace(
                'ENTRYPOINT ["python", "/opt/program/serve.py"]', "ENTRYPOINT python /opt/program/serve.py"
            ),
            "exec-form-entrypoint",
            7,
        ),
        (GOOD_SERVING.replace("EXPOSE 8080", "EXPOSE 8000"), "port-8080", None),
        (GOOD_SERVING + "USER nobody\n", "runs-as-root", 8),
        (GOOD_SERVING.replace('ENTRYPOINT ["python", "/opt/program/serve.py"]\n', ""), "serve-handled", None),
    ],
)
def test_each_rule_names_the_line_and_the_fix(dockerfile, rule, line):
    (finding,) = lint_dockerfile(dockerfile, kind="serving")
    assert (finding.rule, finding.line) == (rule, line)


def test_root_user_at_the_end_is_fine_and_training_needs_no_port():
    assert lint_dockerfile(GOOD_SERVING + "USER app\nUSER root\n") == []
    assert [f.rule for f in lint_dockerfile("FROM x\n", kind="training")] == ["train-handled"]


def test_command_exit_codes(tmp_path, capsys):
    good, bad = tmp_path / "Good", tmp_path / "Bad"
    good.write_text(GOOD_SERVING)
    bad.write_text(GOOD_SERVING + "USER 1000\n")
    assert main([str(good)]) == 0
    assert main([str(bad)]) == 1 and "runs-as-root" in capsys.readouterr().out
    assert main([str(tmp_path / "Missing")]) == 2


def test_only_the_last_build_stage_counts():
    text = (
        "FROM python:3.12 AS build\nUSER builder\nEXPOSE 9000\n"
        'FROM python:3.12-slim\nEXPOSE 8080\nENTRYPOINT ["python", "/opt/program/serve.py"]\n'
    )
    assert lint_dockerfile(text, kind="serving") == []
    text = 'FROM a AS build\nEXPOSE 8080\nENTRYPOINT ["serve"]\nFROM b\nCOPY --from=build /x /x\n'
    rules = {finding.rule for finding in lint_dockerfile(text, kind="serving")}
    assert rules == {"serve-handled", "port-8080"}


def test_a_shell_wrapped_in_exec_form_is_flagged():
    text = 'FROM a\nEXPOSE 8080\nENTRYPOINT ["/bin/sh", "-c", "python serve.py"]\n'
    (finding,) = lint_dockerfile(text, kind="serving")
    assert finding.rule == "exec-form-entrypoint" and "runs a shell in exec form" in finding.message
