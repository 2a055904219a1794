"""Executes examples/quickstart.ipynb with nbclient, as Jupyter would, with parameters injected.

The parameters go into a cell placed right after the one tagged ``parameters`` (papermill's
convention), so the notebook's own defaults stay what a person sees.

Example:
    >>> text_of_outputs({"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": "hi"}]}]})
    'hi'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart.ipynb"


def run_quickstart(params: dict[str, Any], timeout_s: int = 900) -> Any:
    """The executed notebook (nbformat node); raises nbclient's CellExecutionError on a failing cell."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(QUICKSTART, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    injected = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(at + 1, injected)
    # The kernel starts in the notebook's folder, as Jupyter starts it; the notebook moves to the root itself.
    where = {"metadata": {"path": str(QUICKSTART.parent)}}
    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3", resources=where)
    client.execute()
    return nb


def text_of_outputs(nb: Any) -> str:
    """Every stream, plain-text and HTML output of the code cells, in order."""
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if o["output_type"] == "stream":
                out.append(o["text"])
            for mime in ("text/plain", "text/html"):
                if mime in o.get("data", {}):
                    out.append(o["data"][mime])
    return "\n".join(out)
