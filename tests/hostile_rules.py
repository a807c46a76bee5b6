"""A rules folder for the hostile-input tests: the shipped rules plus an expression that made
Python's backtracking ``re`` spin for seconds on a post of punctuation (``sales.question_fit``
as it was once shipped)."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION_FIT = r"""
department: sales
rules:
  - name: question_fit
    weight: 3
    regex:
      - '^\W*(?:@\w+[\s,:]+)*(?:hi|hey|hello)?[\s,!]*(?:do|does|will|would|can|could|is|are)\b.{0,60}\b(?:work with|compatible|support|fit|come with|come in|available|in stock|ship to|deliver to)\b'
"""  # noqa: E501 (the expression as it was shipped)
#: The id the expression's rule gets in ``rules_with_question_fit``.
QUESTION_FIT_ID = "hostile.question_fit"


def rules_with_question_fit(folder: Path) -> Path:
    """``folder`` filled with the shipped rules and ``hostile.yaml``; returns it."""
    shutil.copytree(ROOT / "rules", folder, dirs_exist_ok=True)
    (folder / "hostile.yaml").write_text(QUESTION_FIT, encoding="utf-8")
    return folder
