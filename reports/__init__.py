"""The policy report: HTML, PDF and XLSX built from a run's report bundle folder.

The names below are loaded on first use (PEP 562): writing a run's bundle
(:mod:`reports.bundle`) needs neither matplotlib, Jinja nor openpyxl, which
:mod:`reports.build` imports (about 0.5 s; a run without a report never loads them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exportcast.reports.build import ReportFiles, build_report
    from exportcast.reports.bundle import BundleError, ReportBundle, load_bundle

__all__ = ["BundleError", "ReportBundle", "ReportFiles", "build_report", "load_bundle"]

_HOME = {
    "ReportFiles": "build",
    "build_report": "build",
    "BundleError": "bundle",
    "ReportBundle": "bundle",
    "load_bundle": "bundle",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"exportcast.reports.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
