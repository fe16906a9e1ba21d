"""setup.cfg and environment.yml name the same dependencies."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(req: str) -> str:
    return re.sub(r"\s+", "", req.split(";")[0])


def test_setup_cfg_and_environment_yml_agree():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    pip_reqs = [r for r in cfg["options"]["install_requires"].splitlines() if r.strip()]
    conda = []
    in_deps = False
    for line in (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([A-Za-z0-9_.-]+.*)$", line)
        if in_deps and m and not m.group(1).startswith(("pip", "python")):
            conda.append(m.group(1))
    assert {_name(r): _spec(r) for r in pip_reqs} == {_name(r): _spec(r) for r in conda}


def test_python_version_agrees():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    assert cfg["options"]["python_requires"] == ">=3.11"
    assert "python=3.11" in (ROOT / "environment.yml").read_text(encoding="utf-8")
