"""How many hostile-input cases the readers pass, now and with the readers of a reference commit.

    python benchmarks/bench_hostile_readers.py [--before d3dd1d5]

Runs ``tests/integration/hostile`` twice in one go: once against this working tree, once with
``src/fashionlens/ingest/*.py`` taken from ``--before`` (the rest of the package as it is now; the
modules the fix added are absent there). It prints passed / failed / total for each run. The test
that passes a non-UTF-8 file name to OpenCV is left out of the "before" run: it crashes the
interpreter there (SIGSEGV), which takes the whole run down.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = "tests/integration/hostile"
CRASHES_BEFORE = f"{SUITE}/test_video_files.py::test_video_name_not_utf8_is_a_clear_error"


def _run(pythonpath: str | None, extra: list[str]) -> tuple[int, int, int]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", SUITE, *extra]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False).stdout
    tail = out.strip().splitlines()[-1] if out.strip() else ""
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|deselected|error)", tail)}
    passed, failed = counts.get("passed", 0), counts.get("failed", 0) + counts.get("error", 0)
    return passed, failed, passed + failed + counts.get("skipped", 0)


def _old_tree(commit: str, dest: Path) -> Path:
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    ingest = dest / "src" / "fashionlens" / "ingest"
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", commit, "src/fashionlens/ingest/"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for path in ingest.glob("*.py"):
        path.unlink()
    for name in names:
        text = subprocess.run(["git", "show", f"{commit}:{name}"], cwd=ROOT, capture_output=True, check=True)
        (dest / name).write_bytes(text.stdout)
    return dest / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="d3dd1d5", help="commit whose ingest/ readers to compare")
    args = parser.parse_args()
    now = _run(None, [])
    with tempfile.TemporaryDirectory() as tmp:
        before = _run(str(_old_tree(args.before, Path(tmp))), ["--deselect", CRASHES_BEFORE])
    print(f"{'readers':<28} {'passed':>7} {'failed':>7} {'total':>7}")
    print(f"{'this tree':<28} {now[0]:>7} {now[1]:>7} {now[2]:>7}")
    print(f"{args.before + ' (1 crash left out)':<28} {before[0]:>7} {before[1]:>7} {before[2]:>7}")


if __name__ == "__main__":
    main()
