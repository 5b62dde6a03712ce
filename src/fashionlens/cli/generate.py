"""`fashionlens generate` (sample the DCGAN) and `fashionlens train gan` (train one)."""

from __future__ import annotations

from pathlib import Path

import typer

from fashionlens.cli import common

DEV_PRODUCTS = Path("../shared/data/products")


def generate(
    ctx: typer.Context,
    n: int = typer.Option(64, "--n", help="How many images."),
    label: str | None = typer.Option(None, help="Article type, e.g. Tshirts (conditional model)."),
    colour: str | None = typer.Option(None, help="Colour group, e.g. blue (conditional model)."),
    seed: int = typer.Option(0, help="Noise seed: the same seed gives the same images."),
    out: Path = typer.Option(..., "--out", help="Where to write the PNG grid (or strip)."),
    interpolate: bool = typer.Option(False, help="Write a latent interpolation strip of --n frames instead."),
    weights: str = typer.Option(
        "shipped", help="'shipped' (the packaged generator), an exported generator.pt or a checkpoint."
    ),
    scale: int = typer.Option(2, help="Upscale the PNG by this factor (nearest neighbour)."),
) -> None:
    """Generate catalogue-style 64x64 product images with the DCGAN (offline, CPU)."""
    from fashionlens.core.errors import InvalidInputError
    from fashionlens.models.generators.dcgan import DCGANGenerator
    from fashionlens.render.gan import image_grid, interpolation_strip, save_png

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        if scale < 1 or scale > 8:
            raise InvalidInputError(f"--scale must be 1..8; got {scale}")
        gen = DCGANGenerator(weights, device=settings.device, num_threads=settings.num_threads or None)
        if interpolate:
            frames = gen.interpolate(max(2, n), label=label, colour=colour, seed=seed)
            save_png(interpolation_strip(frames), out, scale=scale)
            common.console.print(f"wrote a {len(frames)}-frame interpolation strip to {out}", highlight=False)
            return
        images, names = gen.generate(n, label=label, colour=colour, seed=seed)
        save_png(image_grid(images), out, scale=scale)
        what = ""
        if names and names[0]:
            kinds = sorted({" / ".join(x) for x in names})
            what = f" ({', '.join(kinds[:6])}{', ...' if len(kinds) > 6 else ''})"
        common.console.print(f"wrote {len(images)} images to {out}{what}", highlight=False)


def train_gan(
    ctx: typer.Context,
    data: str = typer.Option(
        "products", help="products (the catalogue), fashion-mnist (idx files) or a FOLDER of images."
    ),
    root: Path | None = typer.Option(
        None,
        help="The catalogue folder (styles.csv + images/) for --data products "
        "[default ../shared/data/products], or the idx folder for fashion-mnist.",
    ),
    epochs: int = typer.Option(25, help="Total epochs (with --resume: train up to this many)."),
    resume: bool = typer.Option(False, help="Continue from OUT/checkpoints/last.pt."),
    conditional: str = typer.Option(
        "none", help="none (the seed's DCGAN), label (articleType), colour (colour group) or label+colour."
    ),
    out: Path | None = typer.Option(None, help="Run folder [default HOME/models/gan/<data>-<conditional>]."),
    batch_size: int = typer.Option(128),
    lr: float = typer.Option(2e-4),
    beta1: float = typer.Option(0.5),
    top_labels: int = typer.Option(15, help="Article types learned by name; the rest are 'other'."),
    max_images: int | None = typer.Option(None, help="Only the first N images (quick runs)."),
    kid_n: int = typer.Option(256, help="Held-out images for the per-epoch KID (0: off)."),
    seed: int = typer.Option(0),
    threads: int = typer.Option(1, help="torch threads (0: torch's default)."),
) -> None:
    """Train the DCGAN (the PyTorch tutorial's, as seed 002) with a checkpoint and a sample grid per epoch."""
    from fashionlens.core.errors import InvalidInputError
    from fashionlens.ingest.images import ImageLimits
    from fashionlens.training.gan import GANConfig
    from fashionlens.training.gan import train_gan as run_training

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        data_root: str | None = str(root) if root else None
        if data == "products" and root is None:
            if not DEV_PRODUCTS.is_dir():
                raise InvalidInputError(
                    "--data products: give the catalogue folder with --root (styles.csv + images/)"
                )
            data_root = str(DEV_PRODUCTS)
        name = "folder" if data not in ("products", "fashion-mnist") else data
        run_dir = out or settings.models_dir / "gan" / f"{name}-{conditional.replace('+', '-')}"
        config = GANConfig(
            data=data,
            data_root=data_root,
            out_dir=run_dir,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            beta1=beta1,
            conditional=conditional,
            top_labels=top_labels,
            max_images=max_images,
            seed=seed,
            threads=threads,
            device=settings.device,
            kid_n=kid_n,
            backbone=settings.backbone,
            resume=resume,
            limits=ImageLimits.from_settings(settings),
        )
        with common.progress_bars("load images", "train gan (batches)") as bars:
            report = run_training(config, _TwoBars(bars))
        common.console.print(
            f"trained {report.epochs_run} epochs on {report.n_train} images ({report.n_heldout} held out) "
            f"in {report.seconds:.0f}s; last G/D loss "
            f"{report.final_losses[0]:.3f}/{report.final_losses[1]:.3f}",
            highlight=False,
        )
        if report.kid_curve:
            curve = ", ".join(f"{e}: {k:.4f}" for e, k in report.kid_curve[-5:])
            common.console.print(f"KID by epoch (last 5): {curve}", highlight=False)
        common.console.print(
            f"generator {report.generator_path}; checkpoint {report.checkpoint}; "
            f"grids in {report.samples_dir}",
            highlight=False,
        )


class _TwoBars:
    """`Progress` onto two Rich bars: the first `start` (loading) and every later one (batches)."""

    def __init__(self, bars: list[common.Callbacks]) -> None:
        self.bars = bars
        self.current = -1

    def start(self, total: int | None, what: str = "") -> None:
        self.current = min(self.current + 1, len(self.bars) - 1)
        self.bars[self.current][0](total or 0)

    def advance(self, n: int = 1) -> None:
        self.bars[max(self.current, 0)][1](n)
