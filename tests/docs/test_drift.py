"""The docs' generated tables match what the current code produces (the fast ones; ``make docs`` regenerates all)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from conftest import REPO

_spec = importlib.util.spec_from_file_location("docs_generate", REPO / "docs" / "generate.py")
generate = sys.modules["docs_generate"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)

FAST = [name for name, block in generate.BLOCKS.items() if block.fast]


@pytest.mark.parametrize("name", FAST)
def test_generated_block_is_current(name):
    assert generate.render(name) == generate.committed(name), (
        f"docs/{generate.BLOCKS[name].doc}: block '{name}' is stale; run `make docs`")


def test_every_block_has_its_markers():
    for name in generate.BLOCKS:
        assert generate.committed(name).strip(), name


def test_a_changed_table_is_caught(tmp_path, monkeypatch):
    # the check fails on a doc whose block differs, and update() puts the current text back
    doc = tmp_path / "configuration.md"
    doc.write_text((REPO / "docs" / "configuration.md").read_text().replace("`spatten-eighth`", "`spatten-ninth`"))
    monkeypatch.setattr(generate, "DOCS", tmp_path)
    body = generate.render("presets")
    assert body != generate.committed("presets")
    assert generate.update("presets", body) and generate.committed("presets") == body


def test_docs_cite_nothing_outside_the_repository():
    bad = []
    for path in sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md", REPO / "notebooks" / "README.md"]:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if "references/" in line or "mpc_and_sparse.md" in line or "references §" in line:
                bad.append(f"{path.relative_to(REPO)}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)
