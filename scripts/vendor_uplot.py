"""The dashboard ships uPlot's built files: copy them from the npm package pinned in
tools/package.json (installed in tools/node_modules by make lint), or, with --check, fail
when the shipped copy differs from that package or from the pinned version.

The shipped directory holds the files, uPlot's LICENSE, and MANIFEST.json (the version and
each file's SHA-256), which tests/unit/test_vendor_uplot.py checks without npm.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINS = ROOT / "tools" / "package.json"
PACKAGE = ROOT / "tools" / "node_modules" / "uplot"
SHIPPED = ROOT / "service" / "tracking" / "service" / "http" / "dashboard" / "vendor" / "uplot"
FILES = {"uPlot.iife.min.js": "dist/uPlot.iife.min.js", "uPlot.min.css": "dist/uPlot.min.css"}
LICENSE = "LICENSE"


def pinned_version() -> str:
    return str(json.loads(PINS.read_text())["devDependencies"]["uplot"])


def expected() -> dict[str, bytes]:
    """What the shipped directory must hold, read from the installed package."""
    installed = json.loads((PACKAGE / "package.json").read_text())["version"]
    pinned = pinned_version()
    if installed != pinned:
        sys.exit(f"tools/node_modules holds uplot {installed}, tools/package.json pins {pinned}")
    files = {name: (PACKAGE / source).read_bytes() for name, source in FILES.items()}
    files[LICENSE] = (PACKAGE / LICENSE).read_bytes()
    manifest = {
        "package": "uplot",
        "version": pinned,
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    files["MANIFEST.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the shipped copy differs")
    check = parser.parse_args().check
    wanted = expected()
    if check:
        stale = [
            name
            for name, data in wanted.items()
            if not (SHIPPED / name).is_file() or (SHIPPED / name).read_bytes() != data
        ]
        extra = sorted(p.name for p in SHIPPED.iterdir() if p.name not in wanted)
        if stale or extra:
            sys.exit(
                f"the dashboard's uPlot differs from uplot {pinned_version()}: "
                f"{', '.join(stale + extra)}; run scripts/vendor_uplot.py"
            )
        print(f"the dashboard ships uplot {pinned_version()} as published")
        return
    SHIPPED.mkdir(parents=True, exist_ok=True)
    for name, data in wanted.items():
        (SHIPPED / name).write_bytes(data)
    print(f"copied uplot {pinned_version()} into {SHIPPED.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
