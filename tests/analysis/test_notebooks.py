"""Both notebooks execute headlessly against results directories (papermill-style parameters)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "analysis" / "notebooks"


def inject(nb: nbformat.NotebookNode, params: dict[str, Any]) -> None:
    """Add a cell after the one tagged ``parameters``, as papermill does."""
    idx = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    cell = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(idx + 1, cell)


def execute(name: str, params: dict[str, Any]) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    inject(nb, params)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    return nb


def _images(nb: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            parts.append(str(out.get("data", {}).get("text/markdown", "")))
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:jupyter_client.*")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:zmq.*")
def test_notebooks_execute(baselines: dict[str, Path]) -> None:
    nb = execute(
        "compare_baselines.ipynb",
        {
            "legacy_dirs": [str(baselines["legacy"])],
            "canonical_dirs": [str(baselines["canonical"])],
        },
    )
    assert _images(nb) >= 4
    text = _text(nb)
    assert "Better: isolation violations" in text
    assert "**legacy**: 8 isolation violations" in text
    assert "**canonical**: 0 isolation violations, 0 1011 closes" in text

    nb = execute("run_overview.ipynb", {"run_dir": str(baselines["legacy"] / "run-0")})
    assert _images(nb) >= 4
    assert "4 isolation violations" in _text(nb)


def test_parameters_cells_are_tagged() -> None:
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path
        assert "results/baselines" in tagged[0].source
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path
