"""`fashionlens train ...`: fit heads on stored embeddings."""

from __future__ import annotations

from pathlib import Path

import typer

from fashionlens.cli import common

train_app = typer.Typer(help="Train classifiers on stored embeddings.", no_args_is_help=True)


@train_app.command("category")
def category(
    ctx: typer.Context,
    source: str | None = typer.Option(
        None, help="Train only on labelled images of this source (e.g. street)."
    ),
    test_size: float = typer.Option(0.2, help="Held-out fraction when the data has no train/test split."),
    seed: int = typer.Option(0),
    c: float = typer.Option(1.0, "--C", help="Inverse regularisation strength."),
) -> None:
    """Coarse garment category (dress, outerwear, top+bottom, ...) by logistic regression."""
    from fashionlens.store.catalog import Catalog
    from fashionlens.training.category import train_category

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        model_id = common.model_id(settings, Catalog(settings.db_path))
        report = train_category(
            Catalog(settings.db_path), settings, model_id, source=source, test_size=test_size, seed=seed, C=c
        )
        common.console.print(
            f"{report.classifier_id}: {report.split_method}; train {report.n_train}, test {report.n_test}"
        )
        common.console.print(report.report_text, highlight=False)
        common.console.print(
            f"held-out accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}; "
            f"saved {report.classifier_path}"
        )


@train_app.command("attributes")
def attributes(
    ctx: typer.Context,
    epochs: int = typer.Option(80, help="Maximum epochs (early stopping may end sooner)."),
    lr: float = typer.Option(1e-3, help="Peak AdamW learning rate (warm-up, then cosine decay)."),
    weight_decay: float = typer.Option(0.05, help="AdamW weight decay."),
    batch_size: int = typer.Option(128, help="Embeddings per training step."),
    patience: int = typer.Option(12, help="Stop after this many epochs without a better validation score."),
    min_class_count: int = typer.Option(
        10, help="Classes with fewer training images are left out of their head."
    ),
    test_size: float = typer.Option(0.2, help="Held-out test fraction (stratified by articleType)."),
    val_size: float = typer.Option(0.15, help="Validation fraction of the rest (early stopping)."),
    seed: int = typer.Option(0),
    hidden: str = typer.Option("1024", help="Shared layer widths, comma-separated (e.g. 1024,512)."),
    dropout: float = typer.Option(0.5),
    label_smoothing: float = typer.Option(0.1),
    class_weight_power: float = typer.Option(
        0.5, help="1: balanced class weights, 0.5: their square root, 0: unweighted."
    ),
    colour_features: bool = typer.Option(
        True, help="Give the colour head a Lab colour histogram of the image as well."
    ),
    attribute: list[str] | None = typer.Option(
        None,
        "--attribute",
        help="Train these heads (repeatable); default: the catalogue's five. `label`: the folder labels "
        "of `ingest folder --labels-from-subfolders` (all classes, not the coarse ones).",
    ),
    split: str = typer.Option(
        "auto",
        help="auto: the recorded train/valid/test splits when the images have them (e.g. train/ and "
        "validation/ folders), else stratified; recorded; stratified.",
    ),
    resume: bool = typer.Option(False, help="Continue an interrupted run from checkpoints/last.pt."),
) -> None:
    """Product attributes (articleType, colour group, season, gender, usage): one MLP, five heads."""
    from fashionlens.core.errors import InvalidInputError
    from fashionlens.store.catalog import Catalog
    from fashionlens.training.attributes import ATTRIBUTES, train_attributes

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        model_id = common.model_id(settings, Catalog(settings.db_path))
        try:
            widths = tuple(int(w) for w in hidden.split(",") if w.strip())
        except ValueError as exc:
            raise InvalidInputError(f"--hidden: expected comma-separated integers; got {hidden!r}") from exc
        with common.bar(f"train attributes on {model_id} (epochs)") as progress:
            report = train_attributes(
                Catalog(settings.db_path),
                settings,
                model_id,
                attributes=tuple(attribute) if attribute else ATTRIBUTES,
                epochs=epochs,
                lr=lr,
                weight_decay=weight_decay,
                batch_size=batch_size,
                patience=patience,
                min_class_count=min_class_count,
                test_size=test_size,
                val_size=val_size,
                seed=seed,
                hidden=widths,
                dropout=dropout,
                label_smoothing=label_smoothing,
                class_weight_power=class_weight_power,
                colour_features=colour_features,
                split=split,
                resume=resume,
                progress=progress,
            )
        common.console.print(
            f"{report.classifier_id}: {report.split_method}\n"
            f"train {report.n_train}, validation {report.n_val}, test {report.n_test}; "
            f"best epoch {report.best_epoch} of {report.epochs_run} ({report.seconds:.0f}s)",
            highlight=False,
        )
        common.console.print(report.table(), highlight=False)
        common.console.print(
            f"saved {report.classifier_path}; report and confusion matrices in {report.report_path.parent}",
            highlight=False,
        )


@train_app.command("text-tower")
def text_tower(
    ctx: typer.Context,
    epochs: int = typer.Option(40, help="Passes over the training products."),
    seed: int = typer.Option(0, help="Seed of the held-out split and of training."),
    out: Path | None = typer.Option(None, help="Where to write the projection (.npz)."),
) -> None:
    """Align image features with MiniLM text (the offline text tower) on catalogued products."""
    from fashionlens.store.catalog import Catalog
    from fashionlens.training.text_tower import train_text_tower

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        with common.bar("text tower epochs") as progress:
            progress.start(epochs)
            report = train_text_tower(
                Catalog(settings.db_path),
                settings,
                out=out,
                seed=seed,
                epochs=epochs,
                progress=progress,
            )
        common.console.print(
            f"trained on {report.n_train} products ({report.n_captions} captions) in {report.seconds:.0f}s, "
            f"loss {report.final_loss:.3f}; saved {report.path}"
        )
        for attribute, accuracy in report.zero_shot.items():
            common.console.print(f"zero-shot {attribute}: {accuracy:.3f} on held-out products")
        common.console.print(
            f"use it with --weights-dir {report.path.parent} --backbone mobilenet_v2_minilm.products"
        )


@train_app.command("backbone")
def backbone(
    ctx: typer.Context,
    epochs: int = typer.Option(5, help="Passes over the training products."),
    image_size: int = typer.Option(224, help="Training crop size in pixels (evaluation: 224 centre crop)."),
    batch_size: int = typer.Option(32, help="Images per training step."),
    lr: float = typer.Option(1e-3, help="Peak AdamW learning rate of the attribute heads."),
    backbone_lr: float = typer.Option(3e-4, help="Peak AdamW learning rate of the backbone."),
    seed: int = typer.Option(0, help="Seed of the split (as `train attributes`) and of training."),
    threads: int = typer.Option(0, help="torch threads (0: torch's default)."),
    target: str = typer.Option(
        "mobilenet_v2.products",
        help="The backbone the weights are for: mobilenet_v2.products (catalogue attributes) or "
        "mobilenet_v2.clothing (folder labels, with --attribute label).",
    ),
    attribute: list[str] | None = typer.Option(
        None, "--attribute", help="Heads to learn (repeatable); default: the catalogue's five."
    ),
    resume: bool = typer.Option(False, help="Continue an interrupted run from its last epoch."),
) -> None:
    """Fine-tune MobileNetV2 end to end on the catalogue's attributes, embed with it, fit the heads.

    Needs the catalogue ingested (`ingest products`) and embedded with mobilenet_v2.imagenet
    (`embed`), whose rows define the split (as `train attributes`: recorded train/valid splits
    when the images have them). Writes HOME/models/<target>.pt, which the backbone <target> then
    uses instead of the weights the package ships."""
    from fashionlens.store.catalog import Catalog
    from fashionlens.training.attributes import ATTRIBUTES
    from fashionlens.training.finetune import FinetuneOptions, finetune_and_fit

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        options = FinetuneOptions(
            epochs=epochs,
            image_size=image_size,
            batch_size=batch_size,
            lr=lr,
            backbone_lr=backbone_lr,
            seed=seed,
            num_threads=threads,
            device=settings.device,
            target=target,
            attributes=tuple(attribute) if attribute else ATTRIBUTES,
        )
        with common.bar(f"fine-tune {target}") as progress:
            tuned, heads = finetune_and_fit(
                Catalog(settings.db_path), settings, options, resume=resume, progress=progress
            )
        common.console.print(
            f"fine-tuned {tuned.target}: train {tuned.n_train}, validation {tuned.n_val}, "
            f"test {tuned.n_test}; best epoch {tuned.best_epoch} of {tuned.epochs_run} "
            f"({tuned.seconds:.0f}s); weights {tuned.weights_path}",
            highlight=False,
        )
        common.console.print(
            "its own linear heads on the test split: "
            + ", ".join(f"{k} {v:.3f}" for k, v in tuned.test_accuracy.items()),
            highlight=False,
        )
        common.console.print(heads.table(), highlight=False)
        common.console.print(f"attribute classifier saved to {heads.classifier_path}", highlight=False)
