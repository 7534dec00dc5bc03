"""Use cases shared by the CLI and (later) the web service."""

from __future__ import annotations

from corecustomers.service.analysis import AnalysisResult, analyze, prepare, summarize
from corecustomers.service.progress import NullProgress, Progress

__all__ = ["AnalysisResult", "NullProgress", "Progress", "analyze", "prepare", "summarize"]
