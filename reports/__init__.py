"""The policy report: HTML, PDF and XLSX built from a run's report bundle folder."""

from exportcast.reports.build import ReportFiles, build_report
from exportcast.reports.bundle import BundleError, ReportBundle, load_bundle

__all__ = ["BundleError", "ReportBundle", "ReportFiles", "build_report", "load_bundle"]
