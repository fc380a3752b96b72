"""Assets ship with the package: a wheel built from this tree, installed on its own, serves
every page and every /static/ file its pages reference (Leaflet and the area map included),
and `vecinos run` says nothing is missing.

The wheel is built offline (pip wheel --no-build-isolation, with the test extra's setuptools)
from a copy of the tree, installed with --target into a temporary folder, and run from there
with the dependencies of this venv: the project's own files all come from the wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.proof.nodeproc import free_port
from web import assets

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("/", "/map", "/map?view=z1", "/about", "/trends", "/login")
SHIPPED = (
    "node/data/gazetteer.toml",
    "node/data/outline.geojson",
    "node/locale/en/LC_MESSAGES/vecinos.po",
    "node/locale/es/LC_MESSAGES/vecinos.po",
    "web/templates/area_map.html",
)
START_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in ("node", "scoring", "federation", "web"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--wheel-dir", str(work / "dist"), str(src)),
        ],
        check=True,
        capture_output=True,
    )
    [built] = (work / "dist").glob("vecinos-*.whl")
    return built


def test_the_wheel_holds_every_asset_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in assets.EXPECTED:
        assert "web/static/" + path.removeprefix("/static/") in names, path
    for path in SHIPPED:
        assert path in names, path
    leaflet = [n for n in names if n.startswith("web/static/vendor/leaflet/")]
    assert "web/static/vendor/leaflet/LICENSE" in leaflet and len(leaflet) == 8


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # loopback only
        return resp.status, resp.read().decode("utf-8", "replace")


def test_an_install_from_the_wheel_serves_every_referenced_asset(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"),
            *("--target", str(site), str(wheel)),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import web, node; print(web.__file__); print(node.__file__)"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert all(path.startswith(str(site)) for path in where), where  # not this tree
    data = tmp_path / "chapter"
    subprocess.run(
        [sys.executable, "-m", "node.cli", "init", "--data", str(data), "--chapter", "Wheel"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "node.cli", "run", "--data", str(data)),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = []
        assert proc.stdout is not None
        for line in proc.stdout:  # until the node says it serves (or exits)
            output.append(line)
            if "serving on" in line:
                break
        log = "".join(output)
        assert "serving on" in log, log
        assert "static files missing" not in log, log
        base = f"http://127.0.0.1:{port}"
        referenced: set[str] = set()
        for path in PAGES:
            status, html = _get(base + path)
            assert status == 200, path
            referenced |= set(re.findall(r'(?:src|href)="(/static/[^"?#]+)', html))
        assert {"/static/areamap.css", "/static/style.css"} <= referenced
        assert referenced <= set(assets.EXPECTED), referenced - set(assets.EXPECTED)
        for path in sorted(set(assets.EXPECTED)):
            status, _ = _get(base + path)
            assert status == 200, path
    finally:
        proc.terminate()
        proc.wait(timeout=30)
