"""Print the README's set-up commands, one per line: the ```bash block under '## Set up'."""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def setup_commands(text: str) -> list[str]:
    section = text.split("## Set up", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    if block is None:
        raise SystemExit("README: no ```bash block under '## Set up'")
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


if __name__ == "__main__":
    sys.stdout.write("\n".join(setup_commands(README.read_text(encoding="utf-8"))) + "\n")
