"""convsym as a real package: the wheel, installed (not editable) into a fresh venv, works
outside the repository: the proofs and templates ship inside it.

The wheel is built offline from a copy of the sources (``pip wheel --no-deps
--no-build-isolation --no-index``; building in the working tree would leave ``build/`` and
``*.egg-info`` there) and installed into a venv made with ``--system-site-packages``, so SymPy,
NumPy, Jinja2 and z3 come from this interpreter without a network.  Every command runs from a
folder outside the repository with ``PATH`` holding only the venv, so it cannot see the
repository's editable copy nor latexmk (the LaTeX path has its own tests).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "convsym", "proofs")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache")


def _venv_site_packages(venv: Path) -> Path:
    [site_dir] = [*(venv / "lib").glob("python*/site-packages"), *(venv / "Lib").glob("site-packages")]
    return site_dir


class Installed:
    """A venv holding the wheel, and ``run(*command)`` of its ``convsym`` in ``workdir``."""

    def __init__(self, venv: Path, workdir: Path):
        self.venv = venv
        self.workdir = workdir
        scripts = "Scripts" if os.name == "nt" else "bin"
        self.bin = venv / scripts
        self.python = self.bin / ("python.exe" if os.name == "nt" else "python")
        self.convsym = self.bin / ("convsym.exe" if os.name == "nt" else "convsym")
        drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "CONVSYM_REQUIRE_LATEX", "VIRTUAL_ENV"}
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env["PATH"] = str(self.bin)

    def run(self, *command: str | Path, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(c) for c in command], cwd=self.workdir, env=self.env, capture_output=True,
            text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=IGNORE)
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = base / "dist"
    wheel = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "--wheel-dir", str(dist), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert wheel.returncode == 0, wheel.stdout + wheel.stderr
    [whl] = dist.glob("convsym-*.whl")

    venv = base / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                          capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stdout + made.stderr
    if sys.prefix != sys.base_prefix:
        # run from a venv: its packages are not the base interpreter's "system" site-packages;
        # list them after the new venv's own (plain folders: no .pth, no editable finder, runs)
        outer = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]]
                 if Path(p).is_dir()]
        (_venv_site_packages(venv) / "_outer_site.pth").write_text(
            "\n".join(dict.fromkeys(outer)) + "\n", encoding="utf-8")
    workdir = base / "elsewhere"
    workdir.mkdir()
    env = Installed(venv, workdir)
    pip = env.run(env.python, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", whl)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return env


def test_pyproject_ships_every_package():
    """``[tool.setuptools] packages`` is an explicit list (``convsym.proofs`` lives in another
    folder, which automatic discovery cannot map): every folder of Python files under convsym/
    must be in it, or the wheel lacks it."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "convsym").rglob("*.py") if "__pycache__" not in path.parts
    }
    missing = sorted(folders - set(config["packages"]))
    assert missing == [], f"add {missing} to [tool.setuptools] packages in pyproject.toml"
    assert config["package-dir"] == {"convsym.proofs": "proofs"}
    assert "convsym.proofs" in config["packages"]


def test_the_venv_imports_the_wheel_not_the_repository(installed):
    probe = installed.run(installed.python, "-c", """if True:
        import json, convsym
        from convsym.run import registry
        print(json.dumps({"module": convsym.__file__, "checkout": str(registry.source_checkout()),
                          "proofs": str(registry.default_proof_dir()),
                          "out": str(registry.default_out_dir())}))
    """)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    package = _venv_site_packages(installed.venv).resolve() / "convsym"
    assert Path(found["module"]).resolve() == package / "__init__.py"
    assert ROOT not in Path(found["module"]).resolve().parents
    assert found["checkout"] == "None"
    assert Path(found["proofs"]) == package / "proofs"
    assert sorted(p.name for p in Path(found["proofs"]).glob("*.py")) == sorted(
        p.name for p in (ROOT / "proofs").glob("*.py"))
    # the emitted checks ship with the scripts that load them (convsym.proofs.checks)
    assert sorted(p.name for p in (Path(found["proofs"]) / "checks").glob("*.py")) == sorted(
        p.name for p in (ROOT / "proofs" / "checks").glob("*.py"))
    assert Path(found["out"]) == installed.workdir / "generated"


def test_installed_list_prove_and_show(installed):
    listed = installed.run(installed.convsym, "list")
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[1] for line in listed.stdout.splitlines()]
    assert "merge.sequential-1d" in names and len(names) >= 90

    proved = installed.run(installed.convsym, "prove", "merge.sequential-1d")
    assert proved.returncode == 0, proved.stdout + proved.stderr
    assert "proving merge.sequential-1d ... proved (general" in proved.stderr
    assert "1 theorems: 1 as expected" in proved.stderr

    shown = installed.run(installed.convsym, "show", "merge.sequential-1d")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("merge.sequential-1d")


def test_installed_build_and_check_a_family(installed, tmp_path):
    """The templates ship too: a family builds into --out and checks fresh."""
    proofs = _venv_site_packages(installed.venv) / "convsym" / "proofs" / "tutorial.py"
    out = tmp_path / "book"
    built = installed.run(installed.convsym, "build", "--out", out, "--path", proofs)
    assert built.returncode == 0, built.stderr
    assert {"MANIFEST.json", "latex/main.tex", "latex/tutorial.tex", "checks/test_tutorial.py"} <= {
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    checked = installed.run(installed.convsym, "check", "--out", out, "--path", proofs)
    assert checked.returncode == 0, checked.stderr
    assert f"{out} is up to date" in checked.stderr


@pytest.mark.slow
def test_installed_build_and_check_everything_into_the_current_folder(installed):
    """Installed, ``convsym build`` and ``check`` without ``--out`` mean ``./generated``."""
    target = installed.workdir / "generated"
    built = installed.run(installed.convsym, "build", "--jobs", "2", timeout=1800)
    assert built.returncode == 0, built.stderr
    assert f" files to {target}" in built.stderr
    assert (target / "latex" / "main.tex").is_file() and (target / "MANIFEST.json").is_file()
    checked = installed.run(installed.convsym, "check", "--jobs", "2", timeout=1800)
    assert checked.returncode == 0, checked.stderr
    assert f"{target} is up to date" in checked.stderr
