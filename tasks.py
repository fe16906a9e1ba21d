#!/usr/bin/env python3
"""The two set-up commands of the README, for a fresh machine with Python 3.11 and pip.

    python3 tasks.py demo    # the whole job on the bundled sample -> outputs/
    python3 tasks.py test    # the whole test suite

Each creates (or reuses) the virtual environment ``.venv`` beside this file and
installs what it needs. The test command also needs a few Debian packages
(Chromium for the map tests, Noto CJK fonts for static maps, PostgreSQL with
PostGIS for the database tests): run as root on Debian it installs them with
apt; otherwise it says what to install. It uses only the standard library, so
that it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
STAMP = VENV / ".landplan-installed"

#: Debian packages the test suite needs, and what for.
DEBIAN_PACKAGES = {
    "chromium": "headless browser for the offline map tests",
    "fonts-noto-cjk": "Chinese font for static maps",
    "postgresql": "the county database tests",
    "postgis": "spatial extension for the database tests",
}


def say(msg: str) -> None:
    print(f"[tasks] {msg}", flush=True)


def run(cmd, **kw) -> None:
    say("$ " + " ".join(map(str, cmd)))
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def ensure_venv(extras: str) -> None:
    """Create .venv and install landplan (editable) with ``extras``, once per change."""
    if sys.version_info < (3, 11):
        sys.exit(f"landplan needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        say(f"creating virtual environment {VENV}")
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    key = hashlib.sha256()
    for f in ("setup.cfg", "pyproject.toml"):
        key.update((ROOT / f).read_bytes())
    key.update(extras.encode())
    digest = key.hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    run([PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    target = f".[{extras}]" if extras else "."
    run([PY, "-m", "pip", "install", "--quiet", "-e", target], cwd=ROOT)
    STAMP.write_text(digest)


def missing_debian_packages() -> list[str]:
    if not shutil.which("dpkg-query"):
        return list(DEBIAN_PACKAGES)
    missing = []
    for pkg in DEBIAN_PACKAGES:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if "install ok installed" not in r.stdout:
            missing.append(pkg)
    return missing


def ensure_debian_packages() -> bool:
    """Install the Debian packages the tests need when root with apt; else say what to do."""
    missing = missing_debian_packages()
    if not missing:
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
        return True
    say("the test suite needs these Debian packages, which are not installed:")
    for pkg in missing:
        say(f"  {pkg}: {DEBIAN_PACKAGES[pkg]}")
    say("install them with: sudo apt-get install " + " ".join(missing))
    return False


def start_postgis() -> str | None:
    """Start the loopback PostgreSQL with PostGIS; return the test URL (no password in it)."""
    script = ROOT / "tools" / "postgis.sh"
    if not script.exists():
        return None
    r = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    if r.returncode != 0:
        say("could not start PostgreSQL with PostGIS:\n" + r.stdout + r.stderr)
        return None
    url = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else None
    say(f"PostGIS test database: {url}")
    return url


def cmd_demo(args: list[str]) -> int:
    ensure_venv("")
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.call([str(VENV / "bin" / "landplan"), "demo", *args], cwd=ROOT, env=env)


def cmd_test(args: list[str]) -> int:
    ensure_venv("test")
    ensure_debian_packages()
    env = dict(os.environ, MPLBACKEND="Agg", TQDM_DISABLE="1", PYTHONHASHSEED="0")
    url = start_postgis()
    if url:
        env["LANDPLAN_TEST_DB"] = url
    # notebooks run top to bottom with nbmake under the plain "python3" kernel
    cmd = [str(PY), "-m", "pytest", "-p", "no:cacheprovider", "--nbmake",
           "--nbmake-kernel=python3", "--durations=15", *args]
    say("$ " + " ".join(cmd))
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    if code == 5:
        say("pytest collected no tests: that is a failure")
        return 1
    return code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__)
        return 2
    return {"demo": cmd_demo, "test": cmd_test}[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
