"""`fashionlens segment ...`: people cut-outs, garment records, and the segmentation models' training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from fashionlens.cli import common

segment_app = typer.Typer(
    no_args_is_help=True, help="Segment people and garments; train and evaluate the models."
)

DEFAULT_CCP = Path("../shared/data/ccp")


def _run(ctx: typer.Context, task: str, opts: dict[str, Any]) -> None:
    from fashionlens.jobs.segment import SegmentOptions, run_segment

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        options = SegmentOptions(
            task=task,  # type: ignore[arg-type]
            weights=opts["weights"],
            maskrcnn=opts.get("maskrcnn"),
            embed=opts.get("embed", True),
            out=opts["out"],
            where=common.catalogue_filter(source=opts["source"], split=opts["split"], where=opts["where"]),
            limit=opts["limit"],
            force=opts["force"],
            overlays=not opts["no_overlays"],
        )
        with common.bar(f"segment {task}") as progress:
            report = run_segment(settings, options, progress)
        common.print_skipped(report.skipped)
        what = f"{report.people} people" + (f", {report.garments} garments" if task == "garments" else "")
        common.console.print(
            f"segmented {report.done} photos with {report.segmenter_id}: {what}; "
            f"{report.no_person} with no person, {report.already_done} already done, "
            f"{len(report.skipped)} skipped ({report.images_per_second:.2f} photos/s)",
            highlight=False,
            soft_wrap=True,
        )
        if report.overlay_dir is not None and report.done:
            common.console.print(f"overlays: {report.overlay_dir}", highlight=False, soft_wrap=True)
        if report.total == 0:
            common.err_console.print(
                "[yellow]no photos in the catalogue match; run `fashionlens ingest` first[/]"
            )


_SOURCE = typer.Option(None, help="Only photos of this source (runway, street, product, wardrobe, video).")
_SPLIT = typer.Option(None, help="Only photos of this split.")
_WHERE = typer.Option(None, help="SQL filter on the images table, e.g. \"original_dataset = 'ccp'\".")
_LIMIT = typer.Option(None, min=0, help="At most this many photos (by image_id).")
_FORCE = typer.Option(False, "--force", help="Redo photos already segmented by this model.")
_NO_OVERLAYS = typer.Option(False, "--no-overlays", help="Do not write an overlay PNG per photo.")
_OUT = typer.Option(None, help="Folder for crops and overlays (default: $FASHIONLENS_HOME/segments).")
_WEIGHTS = typer.Option(None, help="U-Net weights file (default: the shipped CCP model).")


@segment_app.command("people")
def people(
    ctx: typer.Context,
    source: str | None = _SOURCE,
    split: str | None = _SPLIT,
    where: str | None = _WHERE,
    limit: int | None = _LIMIT,
    force: bool = _FORCE,
    no_overlays: bool = _NO_OVERLAYS,
    out: Path | None = _OUT,
    weights: Path | None = _WEIGHTS,
) -> None:
    """Cut every person out on white: one PNG per person, registered as an image linked to its photo."""
    _run(ctx, "people", locals())


@segment_app.command("garments")
def garments(
    ctx: typer.Context,
    source: str | None = _SOURCE,
    split: str | None = _SPLIT,
    where: str | None = _WHERE,
    limit: int | None = _LIMIT,
    force: bool = _FORCE,
    no_overlays: bool = _NO_OVERLAYS,
    out: Path | None = _OUT,
    weights: Path | None = _WEIGHTS,
    maskrcnn: Path | None = typer.Option(
        None,
        help="Find garments with Mask R-CNN instead of the U-Net: 'shipped' (CCP-trained) or a checkpoint.",
    ),
    embed: bool = typer.Option(True, "--embed/--no-embed", help="Embed each garment crop with the backbone."),
) -> None:
    """Per garment: mask, box, category, score, dominant colour, crop vector; linked to photo and person."""
    _run(ctx, "garments", locals())


@segment_app.command("convert-ccp")
def convert_ccp(
    ctx: typer.Context,
    ccp: Path = typer.Argument(DEFAULT_CCP, help="Clothing Co-Parsing folder (photos/, annotations/)."),
    out: Path = typer.Option(Path("runs/ccp_coco"), help="Writes OUT/{train,test}/_annotations.coco.json."),
) -> None:
    """CCP label maps -> COCO instances (one per connected garment region, 13 ModaNet classes)."""
    from fashionlens.ingest.ccp_coco import write_ccp_coco

    with common.errors(ctx):
        paths = write_ccp_coco(ccp, out)
        for split, path in paths.items():
            common.console.print(f"{split}: {path}", highlight=False, soft_wrap=True)


@segment_app.command("train-unet")
def train_unet_cmd(
    ctx: typer.Context,
    ccp: Path = typer.Option(DEFAULT_CCP, help="Clothing Co-Parsing folder."),
    out: Path = typer.Option(Path("runs/unet_mobilenet_v2.ccp.pt"), help="Weights file to write."),
    epochs: int = typer.Option(11, min=1),
    input_hw: tuple[int, int] = typer.Option((336, 224), help="Model input height width."),
    batch_size: int = typer.Option(8, min=1),
    lr: float = typer.Option(1e-3),
    encoder_lr_mult: float = typer.Option(0.2),
    fraction: float = typer.Option(1.0, help="Share of the training photos to use."),
    resume: Path | None = typer.Option(None, help="Checkpoint (.ckpt) to continue from."),
    threads: int | None = typer.Option(None, help="Torch threads."),
    seed: int = typer.Option(0),
    evaluate: bool = typer.Option(True, "--evaluate/--no-evaluate", help="Score the 200 held-out photos."),
    loss: str = typer.Option("dice_bce", help="dice_bce, or balanced (class-balanced BCE + Dice)."),
    balance_power: float = typer.Option(0.5, help="--loss balanced: 1 median-frequency weights, 0.5 sqrt."),
    init: str | None = typer.Option(None, help="Start from these U-Net weights ('shipped' or a file)."),
    sampling: str = typer.Option("uniform", help="uniform, or repeat_factor (rare classes drawn often)."),
    repeat_threshold: float = typer.Option(0.3, help="--sampling repeat_factor: LVIS threshold t."),
    zoom_crops: float = typer.Option(0.0, min=0.0, max=1.0, help="Share of 2x zoomed rare-class crops."),
    zoom_rarity: str = typer.Option("pixels", help="Rarest class of a crop by its pixels, or photos."),
) -> None:
    """Train the U-Net (Dice + BCE) on CCP's training photos; report IoU on the 200 held-out ones."""
    from fashionlens.training.unet import train_unet

    with common.errors(ctx):
        with common.bar("train U-Net (steps)") as progress:
            report = train_unet(
                ccp, out, epochs=epochs, input_hw=input_hw, batch_size=batch_size, lr=lr,
                encoder_lr_mult=encoder_lr_mult, fraction=fraction, resume=resume, num_threads=threads,
                seed=seed, evaluate=evaluate, loss=loss, balance_power=balance_power, init=init,
                sampling=sampling, repeat_threshold=repeat_threshold, zoom_crops=zoom_crops,
                zoom_rarity=zoom_rarity,
                progress=progress,
            )  # fmt: skip
        common.console.print(f"weights: {report.out_path} ({report.train_seconds:.0f} s)", highlight=False)
        if report.evaluation is not None:
            common.console.print(report.evaluation.table(), highlight=False)


@segment_app.command("evaluate-unet")
def evaluate_unet_cmd(
    ctx: typer.Context,
    ccp: Path = typer.Option(DEFAULT_CCP, help="Clothing Co-Parsing folder."),
    weights: Path | None = _WEIGHTS,
    limit: int | None = typer.Option(None, min=1, help="Only the first N held-out photos."),
    flip: bool = typer.Option(False, help="Test-time flip: average with the mirrored photo's logits."),
) -> None:
    """Per-class IoU, garment mIoU and person IoU on CCP's held-out photos."""
    from fashionlens.analysis.segmentation import evaluate_unet
    from fashionlens.ingest.ccp import ccp_pixel_split
    from fashionlens.models import factory

    with common.errors(ctx):
        _, test = ccp_pixel_split(ccp)
        segmenter = factory.unet(common.state(ctx).settings(), weights)
        segmenter.flip = flip
        with common.bar("evaluate U-Net") as progress:
            report = evaluate_unet(segmenter, ccp, test[:limit], progress=progress)
        common.console.print(report.table(), highlight=False)


@segment_app.command("train-maskrcnn")
def train_maskrcnn_cmd(
    ctx: typer.Context,
    train_json: Path = typer.Argument(
        ..., help="COCO json of garments (CCP converted, ModaNet, DeepFashion2)."
    ),
    out: Path = typer.Option(Path("runs/maskrcnn.pt"), help="Checkpoint to write after every epoch."),
    arch: str = typer.Option(
        "maskrcnn_mobilenet_v2_fpn", help="maskrcnn_mobilenet_v2_fpn or maskrcnn_resnet50_fpn_v2."
    ),
    weights: str = typer.Option("pretrained", help="pretrained (ImageNet/COCO), a file, or none."),
    encoder: str | None = typer.Option(
        None, help="mobilenet: start blocks 0..17 from a U-Net encoder ('unet': the shipped one; or a file)."
    ),
    epochs: int = typer.Option(3, min=1),
    fraction: float = typer.Option(1.0, help="Share of the training images to use."),
    batch_size: int = typer.Option(2, min=1),
    lr: float = typer.Option(0.01),
    min_size: int = typer.Option(320),
    max_size: int = typer.Option(512),
    resume: Path | None = typer.Option(None, help="Checkpoint to continue from."),
    eval_json: Path | None = typer.Option(None, help="COCO json to report box/mask AP on after training."),
    threads: int | None = typer.Option(None, help="Torch threads."),
    seed: int = typer.Option(0),
) -> None:
    """Fine-tune Mask R-CNN on COCO-format garments; checkpoint every epoch; COCO box + mask AP."""
    from fashionlens.training.maskrcnn import train_maskrcnn

    with common.errors(ctx):
        with common.bar("train Mask R-CNN (iterations)") as progress:
            report = train_maskrcnn(
                train_json, out, arch=arch, epochs=epochs, fraction=fraction, batch_size=batch_size, lr=lr,
                min_size=min_size, max_size=max_size, resume=resume, eval_json=eval_json,
                num_threads=threads, seed=seed, weights=None if weights == "none" else weights,
                encoder=encoder, progress=progress,
            )  # fmt: skip
        common.console.print(f"checkpoint: {out}", highlight=False)
        if report.get("eval"):
            common.console.print(json.dumps(report["eval"], indent=2), highlight=False)


@segment_app.command("evaluate-maskrcnn")
def evaluate_maskrcnn_cmd(
    ctx: typer.Context,
    checkpoint: Path = typer.Argument(..., help="A `train-maskrcnn` checkpoint, or 'shipped'."),
    coco_json: Path = typer.Argument(..., help="COCO json with the held-out truth."),
    limit: int | None = typer.Option(None, min=1),
) -> None:
    """COCO box and mask AP, AP50 and AP small/medium/large of a checkpoint (pycocotools)."""
    from fashionlens.analysis.coco_metrics import evaluate_maskrcnn

    with common.errors(ctx):
        result = evaluate_maskrcnn(checkpoint, coco_json, limit=limit)
        common.console.print(json.dumps(result, indent=2), highlight=False)
