"""The dashboard's copy of uPlot is the pinned version, unaltered: its files match the SHA-256
its manifest recorded from the npm package, and the manifest's version is the pin in
tools/package.json (make lint also compares the files with the installed package)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "service" / "tracking" / "service" / "http" / "dashboard" / "vendor" / "uplot"


def test_the_shipped_uplot_is_the_pinned_version_unaltered() -> None:
    manifest = json.loads((SHIPPED / "MANIFEST.json").read_text())
    pins = json.loads((ROOT / "tools" / "package.json").read_text())["devDependencies"]
    assert manifest["version"] == pins["uplot"]
    assert sorted(manifest["sha256"]) == sorted(
        p.name for p in SHIPPED.iterdir() if p.name != "MANIFEST.json"
    )
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((SHIPPED / name).read_bytes()).hexdigest() == digest, name


def test_the_dashboard_loads_the_shipped_copy() -> None:
    page = (SHIPPED.parent.parent / "index.html").read_text()
    assert 'src="vendor/uplot/uPlot.iife.min.js"' in page
    assert 'href="vendor/uplot/uPlot.min.css"' in page
