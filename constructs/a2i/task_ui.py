"""A worker task UI (``AWS::SageMaker::HumanTaskUi``) from a Liquid/HTML template file, checked at synth.

What a template must be for A2I to render it ("Create a worker task template", Amazon SageMaker
Developer Guide): it loads AWS's Crowd HTML Elements and wraps the form in ``<crowd-form>``, which
submits the worker's answer. SageMaker takes at most 128,000 characters (``TemplateContent`` in the
SageMaker API model, read from botocore). The template is part of the resource's create-only
properties, so a changed template replaces the UI, and the flow definitions that use it follow.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import Names
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from mlblueprints.constructs._private.service_models import member_rule
from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = ["CROWD_HTML_ELEMENTS", "TEMPLATES_DIR", "HumanTaskUi", "TaskUiError", "task_template_problems"]

CROWD_HTML_ELEMENTS = "https://assets.crowd.aws/crowd-html-elements.js"
# The catalog's own templates (custom task type), next to this module.
TEMPLATES_DIR = Path(__file__).parent / "templates"


class TaskUiError(MlBlueprintsError):
    """A task template A2I would refuse or could not render."""


def task_template_problems(path: str | Path, *, setting: str = "task_template") -> list[Problem]:
    """Why ``path`` is not a template A2I can render: every problem at once."""
    path = Path(path)
    if not path.is_file():
        return [
            Problem(
                f"task template {path} does not exist (or is not a file).", setting=setting, value=str(path)
            )
        ]
    text = path.read_text(encoding="utf-8")
    problems = []
    limit = member_rule("UiTemplate", "Content").max_length
    if len(text) > limit:
        problems.append(
            Problem(
                f"task template {path} has {len(text):,} characters; SageMaker takes at most {limit:,}. Move styles "
                "and scripts to files the template links to.",
                setting=setting,
                value=str(path),
            )
        )
    if CROWD_HTML_ELEMENTS not in text:
        problems.append(
            Problem(
                f'task template {path} does not load <script src="{CROWD_HTML_ELEMENTS}"></script>, which renders '
                "the crowd elements and submits the answer.",
                setting=setting,
                value=str(path),
            )
        )
    opened, closed = text.count("<crowd-form"), text.count("</crowd-form>")
    if opened != 1 or closed != 1:
        problems.append(
            Problem(
                f"task template {path} has {opened} <crowd-form> and {closed} </crowd-form>: wrap the form in one "
                "<crowd-form> ... </crowd-form>, which submits the worker's answer to A2I.",
                setting=setting,
                value=str(path),
            )
        )
    return problems


class HumanTaskUi(Construct):
    """The task UI workers see, from ``template`` (a Liquid/HTML file).

    Its name carries a digest of the template: a changed template is a new UI (the property is
    create-only), and names never collide with a UI CloudFormation is still deleting.
    """

    def __init__(self, scope: Construct, id: str, *, template: str | Path) -> None:
        super().__init__(scope, id)
        problems = task_template_problems(template)
        if problems:
            raise TaskUiError(problems)
        content = Path(template).read_text(encoding="utf-8")
        digest = hashlib.sha256(content.encode()).hexdigest()[:8]
        prefix = Names.unique_resource_name(self, max_length=50, separator="-").lower()
        self.resource = sagemaker.CfnHumanTaskUi(
            self,
            "Resource",
            human_task_ui_name=f"{_lowercase_name(prefix)}-{digest}",
            ui_template={"content": content},
        )
        self.human_task_ui_arn = self.resource.attr_human_task_ui_arn


def _lowercase_name(text: str) -> str:
    """SageMaker's name rule: lowercase letters, digits and single hyphens, starting alphanumeric."""
    cleaned = "".join(c if c.isalnum() else "-" for c in text.lower())
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return cleaned.strip("-") or "ui"
