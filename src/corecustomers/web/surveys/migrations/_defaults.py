"""The default surveys (shared by the data migration and the tests)."""

from __future__ import annotations

from typing import Any

DEFAULTS: list[dict[str, Any]] = [
    {
        "code": "nps",
        "kind": "nps",
        "question_en": "How likely are you to recommend us to a friend or colleague?",
        "question_zh": "您有多大可能向朋友或同事推荐我们？",
    },
    {
        "code": "satisfaction",
        "kind": "satisfaction",
        "question_en": "How satisfied are you with our service?",
        "question_zh": "您对我们的服务满意吗？",
    },
]
