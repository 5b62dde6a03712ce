"""Run a job's stages on a Ray cluster: the same `Stage` objects as `engines.local`, no second code path.

The driver (this process) selects the rows to do with ``stage.select`` (idempotency: content hash
+ model id), hands them to Ray Data as Arrow blocks, and a pool of actors runs
``stage.infer(stage.decode(rows))`` on each batch (`ray.data.ActorPoolStrategy`; every actor
calls ``stage.setup()`` once, so models load once per actor). The results come back to the driver,
which commits every batch with ``stage.write`` as it arrives: the store sees exactly the writes
the local engine makes (vectors stay ``fixed_size_list<float32>``, keys stay unique) and the one
skip log is the same.

Where it runs: ``address`` (or ``RAY_ADDRESS``, Ray's own variable) names a running cluster;
without one a local Ray starts with a small object store and no dashboard. An already
initialised Ray (``ray.init`` by the caller) is used as it is.

CPUs: each actor asks for ``cpus_per_actor`` (0.75 by default), never a whole CPU, so Ray Data's
own tasks still get scheduled: on two CPUs, two actors at one CPU each leave nothing and the job
hangs. Each actor runs its models on ``threads_per_actor`` intra-op threads.

Failures: an actor that dies (killed, out of memory) is restarted up to ``max_restarts`` times
and its batches rerun; a batch that comes back twice is written once. Inputs (image paths, the
output folder of a segment job) must be readable and writable from every node: a shared file
system, or an object-storage URI where the stage's reader supports one (see docs/scale.md).
"""

from __future__ import annotations

import copy
import logging
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

from fashionlens.core.errors import FashionlensError, InvalidInputError, require
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.jobs.base import JobReport, Stage

logger = logging.getLogger(__name__)

_MB = 1024 * 1024
_RAY_RETRY_HINT = "\nFailed to apply UDF transform"


@dataclass(frozen=True)
class RayOptions:
    """How the Ray engine sizes its actor pool and the Ray it starts."""

    num_actors: int | None = None  # None: one per CPU of the cluster
    cpus_per_actor: float = 0.75  # < 1 so Ray Data's own tasks still run
    threads_per_actor: int = 1  # intra-op threads of each actor's models
    max_restarts: int | None = None  # per actor (None: Ray Data's default, no limit); batches rerun
    batches_per_block: int | None = None  # rows per Ray block / stage batch size; None: auto
    preflight: bool = True  # set up a copy of the stage on the driver first: bad weights fail early
    object_store_mb: int = 256  # only for a Ray this engine starts
    num_cpus: int | None = None  # only for a Ray this engine starts (None: all of this machine)

    def __post_init__(self) -> None:
        if self.num_actors is not None and self.num_actors < 1:
            raise InvalidInputError(f"num_actors must be >= 1; got {self.num_actors}")
        if self.cpus_per_actor <= 0:
            raise InvalidInputError(f"cpus_per_actor must be > 0; got {self.cpus_per_actor}")
        if self.threads_per_actor < 1:
            raise InvalidInputError(f"threads_per_actor must be >= 1; got {self.threads_per_actor}")
        if self.max_restarts is not None and self.max_restarts < 0:
            raise InvalidInputError(f"max_restarts must be >= 0; got {self.max_restarts}")
        if self.batches_per_block is not None and self.batches_per_block < 1:
            raise InvalidInputError(f"batches_per_block must be >= 1; got {self.batches_per_block}")


def _ray() -> Any:
    return require("ray", extra="ray")


def _limit_threads(stage: Stage, threads: int) -> None:
    """Give the stage's models ``threads`` intra-op threads where they left it to the runtime."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    for model in vars(stage).values():
        if hasattr(model, "num_threads") and not getattr(model, "num_threads", None):
            try:
                model.num_threads = threads
            except AttributeError:  # a read-only property: the model decides
                continue


class StageActor:
    """One Ray actor: the stage, set up once; each call decodes and infers one batch of rows."""

    def __init__(self, stage: Stage, threads: int) -> None:
        _limit_threads(stage, threads)
        stage.setup()
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
        self.stage = stage

    def __call__(self, table: Any) -> dict[str, Any]:
        import numpy as np

        rows = table.to_pylist()
        key = [r.pop("__fl_batch") for r in rows]
        batch = self.stage.decode(rows)
        results = self.stage.infer(batch) if len(batch) else None
        payload = np.empty(1, dtype=object)
        payload[0] = (results, batch.skipped)
        return {
            "batch": np.array([key[0]], dtype=np.int64),
            "rows": np.array([len(rows)], dtype=np.int64),
            "done": np.array([len(batch)], dtype=np.int64),
            "payload": payload,
        }


def _connect(ray: Any, address: str | None, options: RayOptions) -> bool:
    """Initialise Ray unless it is; True when this call started it (so the engine shuts it down)."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    common = {"log_to_driver": False, "logging_level": logging.WARNING, "configure_logging": False}
    with warnings.catch_warnings():  # Ray starts its processes by fork+exec, which lancedb warns about
        warnings.filterwarnings("ignore", message=".*fork support is experimental.*")
        if address:
            logger.info("ray: connecting to %s", address)
            ray.init(address=address, **common)
        else:
            ray.init(
                num_cpus=options.num_cpus,
                object_store_memory=options.object_store_mb * _MB,
                include_dashboard=False,
                **common,
            )
    return True


def _quiet_ray_data_console() -> None:
    """Ray Data prints every execution at INFO on the console; keep its file log, quiet the console
    (unless this module logs at DEBUG)."""
    if logger.isEnabledFor(logging.DEBUG):
        return
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(max(handler.level, logging.WARNING))


def _check_shippable(stage: Stage) -> None:
    ray = _ray()
    try:
        ray.cloudpickle.dumps(stage)
    except Exception as exc:
        raise InvalidInputError(
            f"stage {stage.name!r} cannot be sent to Ray workers ({type(exc).__name__}: {exc}); "
            "pass a stage whose models are not set up yet: every actor calls setup() itself"
        ) from exc


def _library_error(exc: BaseException) -> FashionlensError | None:
    """The fashionlens error a worker raised, out of Ray's wrappers (``RayTaskError(X)`` is an X
    whose message is a remote traceback; its ``cause`` is the error itself)."""
    seen: set[int] = set()
    found: FashionlensError | None = None
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, FashionlensError):
            found = current  # keep going: the innermost one carries the plain message
        seen.add(id(current))
        nxt = getattr(current, "cause", None)
        current = nxt if isinstance(nxt, BaseException) else current.__cause__
    return found


def _block_rows(n_rows: int, batch_size: int, num_actors: int, options: RayOptions) -> int:
    if options.batches_per_block is not None:
        return batch_size * options.batches_per_block
    n_batches = math.ceil(n_rows / batch_size)
    # at least ~4 blocks per actor so work spreads and a lost actor reruns little; at most 16 batches
    per_block = max(1, min(16, n_batches // (4 * num_actors)))
    return batch_size * per_block


def _dataset(ray: Any, rows: list[dict[str, Any]], block_rows: int) -> Any:
    import pyarrow as pa

    keyed = [{**r, "__fl_batch": i} for i, r in enumerate(rows)]
    try:
        table = pa.Table.from_pylist(keyed)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInputError(f"the selected rows are not Arrow-typable, cannot ship them: {exc}") from exc
    blocks = [table.slice(i, block_rows) for i in range(0, table.num_rows, block_rows)]
    return ray.data.from_arrow(blocks)


def run_stage_ray(
    stage: Stage,
    catalog: Any,
    *,
    address: str | None = None,
    num_actors: int | None = None,
    options: RayOptions | None = None,
    progress: Progress = NO_PROGRESS,
    skip_failures: bool = True,
) -> JobReport:
    """Run ``stage`` over what it selects on a Ray actor pool; writes happen here, on the driver.

    ``num_actors`` overrides ``options.num_actors``; with ``skip_failures=False`` the first skip
    raises (after the batches already written stay written, as with the local engine)."""
    ray = _ray()
    options = options or RayOptions()
    rows, already = stage.select(catalog)
    report = JobReport(
        stage.name, stage.model_id, total=len(rows) + already, already_done=already, engine="ray"
    )
    progress.start(len(rows), stage.name)
    if not rows:
        return report
    _check_shippable(stage)
    if options.preflight:
        copy.deepcopy(stage).setup()  # missing weights fail here; caches (ONNX exports) fill once
    started = _connect(ray, address, options)
    try:
        _run(ray, stage, catalog, rows, report, num_actors or options.num_actors, options, progress,
             skip_failures)  # fmt: skip
    except Exception as exc:
        cause = _library_error(exc)
        if cause is None or cause is exc:
            raise
        message = str(cause)
        if _RAY_RETRY_HINT in message:  # Ray Data appends its retry advice to the message
            cause.args = (message[: message.index(_RAY_RETRY_HINT)],)
        raise cause from exc  # a worker's own error, not Ray's wrapping of it
    finally:
        if started:
            ray.shutdown()
    return report


def _run(
    ray: Any,
    stage: Stage,
    catalog: Any,
    rows: list[dict[str, Any]],
    report: JobReport,
    num_actors: int | None,
    options: RayOptions,
    progress: Progress,
    skip_failures: bool,
) -> None:
    context = ray.data.DataContext.get_current()
    _quiet_ray_data_console()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = False
    context.raise_original_map_exception = True  # a worker's own error, not UserCodeException
    actors = num_actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
    block_rows = _block_rows(len(rows), stage.batch_size, actors, options)
    actors = min(actors, math.ceil(len(rows) / block_rows))  # no actor that would get no block
    # Ray Data restarts dead actors and reruns their batches by default; a bound goes through
    # the (deprecated since Ray 2.60) remote args
    restarts = {}
    if options.max_restarts is not None:
        restarts = {"max_restarts": options.max_restarts, "max_task_retries": options.max_restarts}
    start = time.perf_counter()
    results = _dataset(ray, rows, block_rows).map_batches(
        StageActor,
        fn_constructor_args=(stage, options.threads_per_actor),
        batch_size=stage.batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=options.cpus_per_actor,
        **restarts,
    )
    logger.info(
        "ray: %s over %d rows, %d actors x %.2f CPU, blocks of %d rows",
        stage.name, len(rows), actors, options.cpus_per_actor, block_rows,
    )  # fmt: skip
    written: set[int] = set()
    for out in results.iter_rows():
        key = int(out["batch"])
        if key in written:  # a batch rerun after its actor died: already committed
            logger.info("ray: batch at row %d came back twice; written once", key)
            continue
        result, skipped = out["payload"]
        if skipped and not skip_failures:
            raise InvalidInputError(f"{skipped[0].path}: {skipped[0].reason}")
        report.skipped.extend(skipped)
        if int(out["done"]):
            report.add(stage.write(catalog, result))
            report.done += int(out["done"])
        written.add(key)
        progress.advance(int(out["rows"]))
    stage.finish(catalog)
    report.seconds = time.perf_counter() - start
    logger.info(
        "%s (ray, %d actors): %d done in %.1fs (%.1f/s), %d already done, %d skipped",
        stage.name, actors, report.done, report.seconds, report.items_per_second, report.already_done,
        len(report.skipped),
    )  # fmt: skip
