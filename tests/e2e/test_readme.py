"""The README's set-up commands: exactly two; the first runs for real in a fresh clone, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from readme_commands import setup_commands  # noqa: E402


def test_readme_has_exactly_two_setup_commands_and_ci_runs_them() -> None:
    commands = setup_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(commands) == 2
    assert "fashionlens run" in commands[0]
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "readme_commands.py" in ci and '"${cmds[0]}"' in ci and '"${cmds[1]}"' in ci


def test_first_readme_command_in_a_fresh_clone(tmp_path: Path) -> None:
    """Install from scratch and run the main job on the embedded default, with no ../shared beside it."""
    command = setup_commands((ROOT / "README.md").read_text(encoding="utf-8"))[0]
    clone = tmp_path / "fashionlens"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FASHIONLENS_", "VIRTUAL_ENV", "PYTHON"))}
    env["FASHIONLENS_HOME"] = str(tmp_path / "home")
    try:
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=1500,
        )
    finally:
        # the clone's venv holds torch's CUDA wheels (about 7 GB); kept, it can fill a small CI disk
        shutil.rmtree(clone / ".venv", ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    frame = pd.read_csv(clone / "fashionlens_enriched.csv")
    # 2,000 Fashion-MNIST products + the shipped sample: 60 street photos, 60 garment photos
    assert len(frame) == 2120
    assert frame["source"].value_counts().to_dict() == {"product": 2060, "street": 60}
    assert frame["pred_category"].notna().all()
    assert "held-out accuracy" in proc.stdout
    # the street-vs-catalogue trends report of the default run, self-contained
    report = clone / "trends" / "report.html"
    assert report.is_file() and "street" in report.read_text(encoding="utf-8")
    assert (clone / "trends" / "shares.csv").is_file()
    assert "Cramér's V" in proc.stdout
