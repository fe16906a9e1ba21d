"""The landplan command: help everywhere, meaningful exit codes, problems on stderr."""

from __future__ import annotations

import subprocess
import sys

import pytest

from landplan.cli import main
from landplan.project import Project

SUBCOMMANDS = ["demo", "plan", "generate", "validate"]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "landplan.cli", *args], capture_output=True,
                          text=True, encoding="utf-8")


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_has_help(sub):
    r = _run(sub, "--help")
    assert r.returncode == 0
    assert "--quiet" in r.stdout and "usage: landplan " + sub in r.stdout


def test_no_subcommand_is_a_usage_error():
    r = _run()
    assert r.returncode == 2 and "COMMAND" in r.stdout


def test_unknown_option_is_a_usage_error():
    assert _run("validate", "--frobnicate").returncode == 2


def test_validate_a_good_project(tiny, tmp_path, capsys):
    path = Project(tiny).to_gpkg(tmp_path / "p.gpkg")
    assert main(["validate", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "homesteads" in out


def test_validate_a_bad_project_lists_problems_and_exits_1(tiny, tmp_path, capsys):
    hh = tiny["households"].copy()
    hh.loc[0, "village_id"] = "NOWHERE"
    tiny["households"] = hh
    folder = tmp_path / "county"
    folder.mkdir()
    for name, df in tiny.items():
        if name == "households":
            df.to_csv(folder / "households.csv", index=False)
        else:
            df.to_file(folder / f"{name}.gpkg", engine="pyogrio")
    assert main(["validate", str(folder), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "[households] dangling_reference" in err and "NOWHERE" in err


def test_validate_missing_path_exits_3(capsys):
    assert main(["validate", "/no/such/place.gpkg", "--quiet"]) == 3
    assert "no project at" in capsys.readouterr().err


def test_validate_with_mapping_file(tiny, tmp_path, capsys):
    folder = tmp_path / "county"
    folder.mkdir()
    for name, df in tiny.items():
        if name == "homesteads":
            df.rename(columns={"homestead_id": "ZJDBH"}).to_file(folder / "宅基地.gpkg",
                                                                  engine="pyogrio")
        elif name == "households":
            df.to_csv(folder / "households.csv", index=False)
        else:
            df.to_file(folder / f"{name}.gpkg", engine="pyogrio")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[files]\nhomesteads = "宅基地.gpkg"\n\n[mapping.homesteads]\n'
                       'ZJDBH = "homestead_id"\n', encoding="utf-8")
    assert main(["validate", str(folder), "--mapping", str(mapping), "--quiet"]) == 0


def test_generate_a_town_then_validate_it(tmp_path, capsys):
    assert main(["generate", "--scale", "town", "--seed", "11", "--out", str(tmp_path / "g"),
                 "--quiet"]) == 0
    assert main(["validate", str(tmp_path / "g" / "project.gpkg"), "--quiet"]) == 0
    assert "valid" in capsys.readouterr().out


def test_generate_bad_scale_is_a_usage_error(tmp_path):
    assert main(["generate", "--scale", "huge", "--out", str(tmp_path), "--quiet"]) == 2
