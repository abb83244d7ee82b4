"""The documentation keeps up with the code: config tables from the schema, links that resolve."""

import importlib.util
import re
from pathlib import Path

from exportcast.configs.schema import RunConfig
from exportcast.configs.schema_scenario import ScenarioConfig

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _gen_config():
    spec = importlib.util.spec_from_file_location("gen_config", DOCS / "gen_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_page_lists_every_schema_key_as_generated():
    gen = _gen_config()
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert gen.updated(page) == page, "docs/configuration.md is stale: python docs/gen_config.py"
    for model in (RunConfig, ScenarioConfig):
        keys = [key for key, *_ in gen.schema_keys(model)]
        assert len(keys) > 10
        for key in keys:
            assert f"| `{key}` |" in page, key


def test_a_new_schema_key_makes_the_page_stale(monkeypatch):
    gen = _gen_config()
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    real = gen.schema_keys

    def with_extra(model, prefix="", values=None):
        yield from real(model, prefix, values)
        if model is RunConfig:
            yield "brand_new.key", "int", "`1`", "A key the page does not know."

    monkeypatch.setattr(gen, "schema_keys", with_extra)
    assert "brand_new.key" in gen.updated(page)
    assert gen.updated(page) != page


def test_relative_links_in_readme_and_docs_resolve():
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    assert len(pages) >= 8
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


def test_no_docstring_cites_a_design_file_outside_the_repository():
    cited = [
        path.relative_to(ROOT)
        for folder in ("configs", "features", "models", "flows", "reports")
        for path in (ROOT / folder).rglob("*.py")
        if "DESIGN.md" in path.read_text(encoding="utf-8")
    ]
    assert cited == []
    assert (DOCS / "architecture.md").is_file()
