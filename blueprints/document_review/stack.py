"""Blueprint: documents land in S3, Textract analyses their forms, low-confidence fields go to people."""

from __future__ import annotations

from mlblueprints.blueprints.human_review import HumanReviewStack
from mlblueprints.constructs.a2i.review_flow import TEXTRACT_FORMS

__all__ = ["DocumentReviewStack"]


class DocumentReviewStack(HumanReviewStack):
    """Textract AnalyzeDocument (forms) under A2I review; results and answers in S3."""

    call = TEXTRACT_FORMS
