"""ONNX Runtime inference for the torchvision CNN backbones: a cached fp32 export and static int8.

``TorchvisionCNN(runtime="onnx" | "onnx-int8")`` (or ``create_backbone(name, runtime=...)``, or the
``runtime`` setting / ``FASHIONLENS_RUNTIME``) runs the network through ONNX Runtime on the CPU
(``pip install 'fashionlens[onnx]'``). Decoding, resizing and cropping stay the library's own
(`TorchvisionCNN.preprocess`), so the three runtimes see the same pixels.

The exported graph takes the ``uint8 (N, H, W, 3)`` center crops (dynamic batch axis) and does the
normalisation itself; it returns ``features (N, D)`` and the ImageNet ``logits (N, 1000)``.

Cache: ``Settings.cache_dir / "onnx" / <backbone>/`` holds

- ``<weights sha256[:16]>-opset<N>-x<EXPORT_VERSION>.fp32.onnx``: ``torch.onnx.export`` (legacy
  TorchScript exporter, ``dynamo=False``: no onnxscript needed) of the conv+BN-folded network;
- ``...int8-<calibration key>.onnx``: static QDQ int8 built from it (see below);

each with a ``.json`` sidecar (sha256, size, versions). Setup reuses a file whose sidecar matches;
a missing, truncated or altered file is rebuilt (logged as a warning); files are written to a
temporary name and renamed, so an interrupted export never leaves a half file behind.

Model ids. fp32 ONNX reproduces torch's vectors (max abs difference ~3e-7, cosine 1.0000000 on
product photos), so it keeps the backbone's id: embeddings made by either runtime are the same
space and are reused. int8 vectors differ (cosine ~0.98), so they get their own id and table:
``mobilenet_v2.imagenet+onnx-int8`` (shipped calibration) or ``...+onnx-int8-<key>`` (calibrated on
images you pass as ``calibration=``).

int8 recipe (measured on these 2 cores: ``benchmarks/bench_onnx.py``): ``quant_pre_process``
(shape inference, graph clean-up), then ``quantize_static`` in QDQ format, uint8 activations and
per-channel int8 weights, MinMax ranges from real images; the input normalisation and the pooling
+ head stay float, and so do the first two convolutions (stem and first depthwise: mean cosine to
the fp32 vectors 0.977 -> 0.987, no slower); quantising the normalisation made int8 barely faster
than fp32. Dynamic int8 (``quantize_dynamic``, ConvInteger) was several times *slower* than fp32
and is not offered.
Calibration needs real images, which the package cannot ship, so it ships the ranges instead:
``models/shipped/<backbone>.int8-calibration.json``, computed from 256 real product photos by
``python benchmarks/bench_onnx.py --write-calibration`` and applied only to the exact weights
(sha256) and graph (structural fingerprint) they were measured on. For any other backbone or
weights, pass ``calibration=`` (a folder or a list of images, ~100-300 representative photos).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fashionlens.core.errors import FashionlensError, InvalidInputError, ModelBuildError, require

if TYPE_CHECKING:
    from fashionlens.models.registry import BackboneSpec

logger = logging.getLogger(__name__)

ONNX_OPSET = 17
EXPORT_VERSION = 1  # bump when the exported graph changes (wrapper module, inputs, outputs)
INPUT_NAME = "images"
FEATURES, LOGITS = "features", "logits"
INT8_SUFFIX = "+onnx-int8"  # bump (e.g. "+onnx-int8v2") if the shipped calibration ever changes
INT8_RECIPE = {
    "format": "QDQ",
    "activations": "QUInt8",
    "weights": "QInt8",
    "per_channel": True,
    "calibrate_method": "MinMax",
    "float_nodes": "input normalisation, first 2 convs, pooling and head",
}
FLOAT_CONVS = 2
CALIBRATION_FORMAT = "fashionlens-int8-calibration/1"
MAX_CALIBRATION_IMAGES = 512
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
_SHA_CACHE: dict[tuple[str, int, int], str] = {}


OnnxModelError = ModelBuildError  # an ONNX model cannot be exported, quantised or loaded


# -- keys, ids, files -------------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file, memoised per (path, size, mtime) for this process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        sha = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha.update(chunk)
        _SHA_CACHE[key] = sha.hexdigest()
    return _SHA_CACHE[key]


def weights_key(weights_path: Path | None) -> str:
    """What identifies the weights in cache names: their sha256 (or ``random-init``, seed 0)."""
    return "random-init" if weights_path is None else file_sha256(weights_path)


def int8_model_id(base_id: str, calibration_key: str | None = None) -> str:
    """``base+onnx-int8`` for the shipped calibration, ``base+onnx-int8-<key[:8]>`` for your own."""
    return base_id + INT8_SUFFIX + (f"-{calibration_key[:8]}" if calibration_key else "")


def onnx_cache_dir(cache_dir: Path, spec: BackboneSpec) -> Path:
    return cache_dir / "onnx" / spec.name


def fp32_path(cache_dir: Path, spec: BackboneSpec, wkey: str, opset: int = ONNX_OPSET) -> Path:
    return onnx_cache_dir(cache_dir, spec) / f"{wkey[:16]}-opset{opset}-x{EXPORT_VERSION}.fp32.onnx"


def int8_path(fp32: Path, calibration_key: str) -> Path:
    return fp32.with_name(fp32.name.replace(".fp32.onnx", f".int8-{calibration_key[:16]}.onnx"))


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for dist in ("torch", "onnx", "onnxruntime"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[dist] = md.version(dist)
    return out


def cached_model_problem(path: Path) -> str | None:
    """Why the cached ``path`` cannot be reused (``None`` if it can): missing, no sidecar, size or
    sha256 different from what was written."""
    if not path.is_file():
        return "missing"
    side = _sidecar(path)
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
        size, sha = int(meta["size"]), str(meta["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"its record {side.name} is missing or unreadable"
    if path.stat().st_size != size:
        return f"size {path.stat().st_size} bytes, expected {size} (truncated or altered)"
    if file_sha256(path) != sha:
        return "sha256 differs from the one recorded when it was written (altered or corrupt)"
    return None


def _commit(tmp: Path, dst: Path, meta: dict[str, Any]) -> None:
    """Move a finished ``tmp`` model to ``dst`` and record its sha256 beside it (atomic renames)."""
    meta = {**meta, "file": dst.name, "size": tmp.stat().st_size, "sha256": file_sha256(tmp)}
    meta["versions"] = _versions()
    side_tmp = tmp.with_name(tmp.name + ".json")
    side_tmp.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, dst)
    os.replace(side_tmp, _sidecar(dst))


def _remove(path: Path) -> None:
    for p in (path, _sidecar(path)):
        with contextlib.suppress(OSError):
            p.unlink(missing_ok=True)


@contextlib.contextmanager
def _tmp_file(dst: Path, suffix: str = ".onnx") -> Iterator[Path]:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.stem}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache is as readable as any other file
    try:
        yield tmp
    finally:
        for p in (tmp, tmp.with_name(tmp.name + ".json")):
            with contextlib.suppress(OSError):
                p.unlink(missing_ok=True)


# -- export -----------------------------------------------------------------------------------------
def export_fp32(features: Any, head: Any, spec: BackboneSpec, dst: Path, opset: int = ONNX_OPSET) -> None:
    """Export ``uint8 NHWC crops -> (features, logits)`` to ``dst`` (dynamic batch axis), atomically."""
    torch = require("torch")
    require("onnx", extra="onnx")
    from torch import nn

    class _Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.f, self.h = features, head
            std = torch.tensor(spec.std, dtype=torch.float32)
            mean = torch.tensor(spec.mean, dtype=torch.float32)
            # the same arithmetic as TorchvisionCNN._forward_uint8: x * 1/(255 std) + (-mean/std)
            self.register_buffer("scale", (1.0 / (255.0 * std)).view(1, 3, 1, 1))
            self.register_buffer("shift", (-mean / std).view(1, 3, 1, 1))

        def forward(self, images: Any) -> tuple[Any, Any]:
            x = images.permute(0, 3, 1, 2).float() * self.scale + self.shift
            feats = self.f(x)
            return feats, self.h(feats)

    net = _Net().to("cpu").eval()
    dummy = torch.zeros(2, spec.input_size, spec.input_size, 3, dtype=torch.uint8)
    with _tmp_file(dst) as tmp:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                net, (dummy,), str(tmp), input_names=[INPUT_NAME], output_names=[FEATURES, LOGITS],
                dynamic_axes={INPUT_NAME: {0: "batch"}, FEATURES: {0: "batch"}, LOGITS: {0: "batch"}},
                opset_version=opset, dynamo=False, do_constant_folding=True,
            )  # fmt: skip
        _commit(tmp, dst, {"backbone": spec.name, "kind": "fp32", "opset": opset, "export": EXPORT_VERSION})


# -- int8 -------------------------------------------------------------------------------------------
def _canonicalise(model: Any) -> Any:
    """Rename every tensor, initializer and node by graph position (``v12``, ``w3``, ``n7_Conv``), so
    calibration ranges do not depend on the names a torch version picks."""
    graph = model.graph
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    mapping: dict[str, str] = {}
    for i, init in enumerate(graph.initializer):
        if init.name not in keep:
            mapping[init.name] = f"w{i}"
    n = 0
    for node in graph.node:
        for out in node.output:
            if out and out not in keep and out not in mapping:
                mapping[out] = f"v{n}"
                n += 1
    for init in graph.initializer:
        init.name = mapping.get(init.name, init.name)
    for i, node in enumerate(graph.node):
        node.name = f"n{i}_{node.op_type}"
        node.input[:] = [mapping.get(x, x) for x in node.input]
        node.output[:] = [mapping.get(x, x) for x in node.output]
    for vi in graph.value_info:
        vi.name = mapping.get(vi.name, vi.name)
    return model


def graph_fingerprint(model: Any) -> str:
    """sha256 of a canonicalised graph's structure (ops, wiring, initializer shapes)."""
    sha = hashlib.sha256()
    for init in model.graph.initializer:
        sha.update(f"{init.name}:{list(init.dims)};".encode())
    for node in model.graph.node:
        sha.update(f"{node.op_type}({','.join(node.input)})->{','.join(node.output)};".encode())
    return sha.hexdigest()


def _float_nodes(model: Any) -> list[str]:
    """Nodes left in float: the input normalisation (before the first Conv), the first
    `FLOAT_CONVS` convolutions, and the global pooling to the end (pooling, flatten, head).

    On MobileNetV2 (256 product photos, `benchmarks/bench_onnx.py`) keeping the stem conv and the
    first depthwise conv float raised the mean cosine to the fp32 vectors from 0.977 to 0.987 and
    was no slower; quantising the normalisation made int8 barely faster than fp32."""
    nodes = list(model.graph.node)
    convs = [i for i, n in enumerate(nodes) if n.op_type == "Conv"]
    first_conv = convs[0] if convs else 0
    pool = next(
        (i for i, n in enumerate(nodes) if n.op_type in ("GlobalAveragePool", "GlobalMaxPool")), len(nodes)
    )
    keep = list(range(first_conv)) + convs[:FLOAT_CONVS] + list(range(pool, len(nodes)))
    return [nodes[i].name for i in keep]


def _prepare_for_int8(fp32: Path, tmpdir: Path) -> tuple[Path, str, list[str]]:
    """``quant_pre_process`` + canonical names -> (path, fingerprint, float node names)."""
    onnx = require("onnx", extra="onnx")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = tmpdir / "pre.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quant_pre_process(str(fp32), str(pre))
    model = _canonicalise(onnx.load(str(pre)))
    onnx.save(model, str(pre))
    return pre, graph_fingerprint(model), _float_nodes(model)


class _Reader:
    """onnxruntime CalibrationDataReader over ``uint8`` crops, 16 at a time."""

    def __init__(self, crops: np.ndarray) -> None:
        self._it = iter([{INPUT_NAME: crops[i : i + 16]} for i in range(0, len(crops), 16)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def _quantize(pre: Path, out: Path, float_nodes: list[str], cache: Path, crops: np.ndarray | None) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_static(
            str(pre), str(out), _Reader(crops) if crops is not None else None,
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=float_nodes,
            calibration_cache_path=str(cache),
        )  # fmt: skip


def _check_ort_supports_ranges() -> None:
    import inspect

    ort = require("onnxruntime", extra="onnx")
    from onnxruntime.quantization import quantize_static

    if "calibration_cache_path" not in inspect.signature(quantize_static).parameters:
        raise OnnxModelError(
            f"onnxruntime {ort.__version__} cannot quantise from stored calibration ranges "
            "(quantize_static has no calibration_cache_path); run: pip install -U 'onnxruntime>=1.32'"
        )


def calibrate(fp32: Path, crops: np.ndarray) -> dict[str, Any]:
    """MinMax activation ranges of the int8 recipe, measured on ``uint8`` crops -> a calibration record
    (what `build_int8` and the shipped ``*.int8-calibration.json`` files hold)."""
    _check_ort_supports_ranges()
    from onnxruntime.quantization import load_tensors_data

    if len(crops) == 0:
        raise InvalidInputError("calibration needs at least one image")
    with tempfile.TemporaryDirectory(prefix="fashionlens-calib-") as tmp:
        pre, fingerprint, float_nodes = _prepare_for_int8(fp32, Path(tmp))
        cache = Path(tmp) / "ranges.json"
        _quantize(pre, Path(tmp) / "int8.onnx", float_nodes, cache, crops)
        data = load_tensors_data(cache)
    ranges = {
        k: [float(np.asarray(v.lowest).reshape(-1)[0]), float(np.asarray(v.highest).reshape(-1)[0])]
        for k, v in data.items()
    }
    return {
        "format": CALIBRATION_FORMAT,
        "graph_fingerprint": fingerprint,
        "recipe": INT8_RECIPE,
        "n_images": len(crops),
        "ranges": dict(sorted(ranges.items())),
    }


def calibration_key(record: dict[str, Any]) -> str:
    """sha256 of what decides the int8 weights: ranges + recipe + graph."""
    body = {k: record[k] for k in ("graph_fingerprint", "recipe", "ranges")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def build_int8(fp32: Path, dst: Path, record: dict[str, Any]) -> None:
    """Quantise ``fp32`` with a calibration ``record`` into ``dst`` (atomically)."""
    _check_ort_supports_ranges()
    from onnxruntime.quantization import CalibrationMethod, TensorsData, save_tensors_data

    with tempfile.TemporaryDirectory(prefix="fashionlens-int8-") as tmp:
        pre, fingerprint, float_nodes = _prepare_for_int8(fp32, Path(tmp))
        if fingerprint != record.get("graph_fingerprint"):
            raise OnnxModelError(
                f"the calibration ranges were measured on a different graph than {fp32.name} "
                "(another torch/onnxruntime export); pass calibration=<folder of ~100-300 images>"
            )
        cache = Path(tmp) / "ranges.json"
        rng = {k: (np.float32(lo), np.float32(hi)) for k, (lo, hi) in record["ranges"].items()}
        save_tensors_data(TensorsData(CalibrationMethod.MinMax, rng), cache)
        with _tmp_file(dst) as out:
            _quantize(pre, out, float_nodes, cache, None)
            meta: dict[str, Any] = {"kind": "int8", "fp32": fp32.name, "recipe": INT8_RECIPE}
            meta["calibration_key"] = calibration_key(record)
            _commit(out, dst, meta)


def shipped_calibration_path(spec: BackboneSpec) -> Path:
    res = importlib.resources.files("fashionlens.models").joinpath(
        "shipped", f"{spec.name}.int8-calibration.json"
    )
    return Path(str(res))


def shipped_calibration(spec: BackboneSpec, wkey: str) -> dict[str, Any] | None:
    """The shipped calibration record for ``spec`` if it was measured on these weights."""
    path = shipped_calibration_path(spec)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OnnxModelError(f"{path}: unreadable calibration file ({exc})") from exc
    if record.get("format") != CALIBRATION_FORMAT or record.get("weights_sha256") != wkey:
        return None
    return record


def calibration_images(source: str | Path | Sequence[Any]) -> list[Any]:
    """A folder (its images, sorted, evenly thinned to at most 512) or a sequence of images/paths."""
    if isinstance(source, (str, Path)):
        root = Path(source).expanduser()
        if not root.is_dir():
            raise InvalidInputError(f"calibration: {root} is not a folder of images")
        paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())
        if not paths:
            raise InvalidInputError(f"calibration: no images under {root}")
        step = max(1, -(-len(paths) // MAX_CALIBRATION_IMAGES))
        return list(paths[::step])
    images = list(source)
    if not images:
        raise InvalidInputError("calibration: got an empty list of images")
    return images


# -- runtime ----------------------------------------------------------------------------------------
def make_session(path: Path, num_threads: int | None = None) -> Any:
    """A CPU `onnxruntime.InferenceSession` (``num_threads``: intra-op threads; None: ORT decides)."""
    ort = require("onnxruntime", extra="onnx")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if num_threads:
        options.intra_op_num_threads = num_threads
    # Spinning worker threads would steal the cores from the thread that decodes the next batch.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ensure_model(
    path: Path, build: Callable[[Path], None], what: str, num_threads: int | None = None
) -> tuple[Path, Any]:
    """Reuse the cached model at ``path`` if intact, else (re)build it; return it with a session.

    A corrupt cache entry (truncated, altered, unloadable) is logged, removed and rebuilt once; if
    the fresh file cannot be loaded either, `OnnxModelError` names it.
    """
    problem = cached_model_problem(path)
    if problem is None:
        try:
            return path, make_session(path, num_threads)
        except Exception as exc:  # parses but onnxruntime rejects it
            problem = f"onnxruntime cannot load it ({str(exc).strip().splitlines()[0]})"
    if problem != "missing":
        logger.warning("cached ONNX model %s is unusable: %s; rebuilding it", path, problem)
    else:
        logger.info("building %s -> %s", what, path)
    _remove(path)
    try:
        build(path)
    except FashionlensError:
        raise
    except Exception as exc:
        raise OnnxModelError(f"cannot build {what} at {path}: {exc}") from exc
    try:
        return path, make_session(path, num_threads)
    except Exception as exc:
        raise OnnxModelError(f"{path}: onnxruntime cannot load the freshly built {what} ({exc})") from exc


def run_session(session: Any, crops: np.ndarray, output: str, batch: int) -> np.ndarray:
    """``uint8 (N, H, W, 3)`` -> ``float32`` ``output`` rows, ``batch`` images per call."""
    outs = [
        session.run([output], {INPUT_NAME: np.ascontiguousarray(crops[i : i + batch])})[0]
        for i in range(0, len(crops), batch)
    ]
    return np.concatenate(outs, axis=0).astype(np.float32, copy=False)


def calibration_source_key(images: Sequence[Any]) -> str:
    """sha256 over the calibration images' content (file bytes, or pixels of in-memory images)."""
    from PIL import Image

    sha = hashlib.sha256()
    for image in images:
        if isinstance(image, (str, Path)):
            sha.update(Path(image).read_bytes())
        elif isinstance(image, Image.Image):
            sha.update(f"{image.mode}{image.size}".encode())
            sha.update(image.tobytes())
        else:
            arr = np.ascontiguousarray(image)
            sha.update(f"{arr.dtype}{arr.shape}".encode())
            sha.update(arr.tobytes())
    return sha.hexdigest()
