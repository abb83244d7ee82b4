"""The one base class of the errors a user can fix: bad input, bad config, missing data.

Every expected error of exportcast derives from :class:`ExportcastError` (and, for backward
compatibility, from the built-in class it always was: ``ValueError``, ``RuntimeError`` or
``FileNotFoundError``). The command line turns an ``ExportcastError`` into one ``error:`` line
and exit code 2; anything else is a bug and prints its traceback (exit code 1).

It lives in ``features`` because that is the lowest layer: ``configs``, ``models``, ``flows``
and ``reports`` all import from it.
"""

from __future__ import annotations

__all__ = ["ExportcastError"]


class ExportcastError(Exception):
    """An expected failure whose message names the file, key or row and what was expected."""
