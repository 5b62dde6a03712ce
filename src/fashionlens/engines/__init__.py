"""Who runs a job's stages: `local` (this machine) or `ray` (a Ray cluster), the same stage objects.

`runner(settings)` is the engine the settings ask for (``engine``: local | ray, ``ray_address``),
as a function ``(stage, catalog, *, progress, skip_failures) -> JobReport``; `run` calls it. Ray is
imported only when the ray engine is picked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from fashionlens.core.settings import Settings
    from fashionlens.jobs.base import JobReport, Stage

RunStage = Callable[..., "JobReport"]


def runner(settings: Settings) -> RunStage:
    """The stage runner of ``settings.engine``."""
    if settings.engine == "local":
        from fashionlens.engines.local import run_stage

        return run_stage
    if settings.engine == "ray":
        from fashionlens.core.errors import require

        require("ray", extra="ray")  # fail now, naming the install, not in the middle of a job
        from fashionlens.engines.ray import run_stage_ray

        return functools.partial(run_stage_ray, address=settings.ray_address)
    raise InvalidInputError(f"engine must be local or ray; got {settings.engine!r}")


def run(stage: Stage, catalog: Any, settings: Settings, *, progress: Progress = NO_PROGRESS) -> JobReport:
    """Run ``stage`` on the settings' engine, with the settings' ``skip_failures``."""
    return runner(settings)(stage, catalog, progress=progress, skip_failures=settings.skip_failures)
