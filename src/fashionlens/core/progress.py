"""The one progress protocol: every job and training loop reports through a `Progress`.

A job calls ``progress.start(total, what)`` once it knows how much work there is (``None``:
unknown), then ``progress.advance(n)`` as work is done. The CLI passes Rich bars, the server a
job record that clients poll, Ray workers nothing (`NO_PROGRESS`). Library code never prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@runtime_checkable
class Progress(Protocol):
    def start(self, total: int | None, what: str = "") -> None: ...

    def advance(self, n: int = 1) -> None: ...


class NullProgress:
    """Reports nowhere."""

    def start(self, total: int | None, what: str = "") -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None


NO_PROGRESS: Progress = NullProgress()


@dataclass
class CountingProgress:
    """Keeps the numbers (for tests, and for the server's job records)."""

    total: int | None = None
    done: int = 0
    what: str = ""
    starts: list[int | None] = field(default_factory=list)

    def start(self, total: int | None, what: str = "") -> None:
        self.total, self.what, self.done = total, what, 0
        self.starts.append(total)

    def advance(self, n: int = 1) -> None:
        self.done += n

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)
