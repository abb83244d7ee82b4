"""Dependency ranges match what is tested, and the lock file pins what the tests ran on.

``requirements.lock`` (``make lock``) is what ``make install`` installs, with hashes; its pins
come from ``constraints.txt``. pyproject's ranges must admit the locked versions, and packages
whose private APIs the code imports must be capped at the next minor release
(docs/operations.md#dependencies).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CODE = ("flows", "features", "models", "reports", "configs", "benchmarks", "tests")
# an import of a private module (a name starting with "_") or of Prefect's server or test
# internals
PRIVATE = re.compile(
    r"^\s*(?:from|import)\s+((prefect|mlflow)(?:\.\w+)*\.(?:_\w+|server|testing))\b", re.M
)


def _lock() -> dict[str, tuple[str, list[str]]]:
    """Package -> (version, hashes) of requirements.lock."""
    text = (ROOT / "requirements.lock").read_text()
    out = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if m:
            out[canonicalize_name(m.group(1))] = (m.group(2), re.findall(r"sha256:\w+", block))
    return out


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [
        Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    ]


def test_the_lock_pins_the_tested_versions_with_hashes():
    lock, pins = _lock(), _constraints()
    assert len(lock) > 100
    for name, (version, hashes) in lock.items():
        assert pins.get(name) == version, (name, version, pins.get(name))
        assert hashes, name


def test_every_declared_dependency_is_locked_inside_its_range():
    lock = _lock()
    for req in _declared():
        name = canonicalize_name(req.name)
        assert name in lock, req
        assert req.specifier.contains(lock[name][0]), (str(req), lock[name][0])
        # the lower bound is the tested minor release, not an older, untested one
        lower = [Version(s.version) for s in req.specifier if s.operator in (">=", "==")]
        assert lower, str(req)
        floor, tested = max(lower), Version(lock[name][0])
        if tested.major >= 24:  # calendar versions (pycountry 26.2.16): the year
            assert floor.major == tested.major, (str(req), str(tested))
        else:
            assert (floor.major, floor.minor) == (tested.major, tested.minor), (
                str(req),
                str(tested),
            )


def test_packages_used_through_private_apis_are_capped_at_the_next_minor():
    used: dict[str, set[str]] = {}
    for folder in CODE:
        for path in (ROOT / folder).rglob("*.py"):
            for module, package in PRIVATE.findall(path.read_text()):
                used.setdefault(package, set()).add(module)
    assert {"prefect", "mlflow"} <= set(used), used  # the scan finds the known ones
    declared = {canonicalize_name(r.name): r for r in _declared()}
    lock = _lock()
    for package in used:
        tested = Version(lock[package][0])
        caps = [Version(s.version) for s in declared[package].specifier if s.operator == "<"]
        assert caps == [Version(f"{tested.major}.{tested.minor + 1}")], (package, used[package])
