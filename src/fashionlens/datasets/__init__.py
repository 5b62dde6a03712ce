"""Datasets shipped inside the package: a small real sample for the default run.

`sample_dataset_paths()` locates ``datasets/sample/`` (60 Clothing Co-Parsing street photos,
Apache-2.0, and 60 CC0 garment photos; see its ``ATTRIBUTION.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fashionlens.core.errors import NotReadyError


@dataclass(frozen=True)
class SampleDataset:
    """The shipped sample. ``street`` and ``product`` are COCO files (images in ``images/`` beside
    them; label schemes ``ccp`` and ``clothing`` are recognised from the category names)."""

    root: Path
    street: Path
    product: Path
    attribution: Path

    def run_paths(self) -> list[str]:
        """``fashionlens run`` path specs with their sources: ``["street=...", "product=..."]``."""
        return [f"street={self.street}", f"product={self.product}"]


def sample_dataset_paths() -> SampleDataset:
    """Where the shipped sample is; `NotReadyError` if the package was installed without it."""
    root = Path(str(resources.files("fashionlens").joinpath("datasets", "sample")))
    sample = SampleDataset(
        root=root,
        street=root / "street" / "ccp_sample.json",
        product=root / "product" / "clothing_sample.json",
        attribution=root / "ATTRIBUTION.md",
    )
    missing = [p for p in (sample.street, sample.product) if not p.is_file()]
    if missing:
        raise NotReadyError(
            f"the shipped sample is missing {missing[0]}; reinstall fashionlens, or rebuild it with "
            "`python -m fashionlens.datasets.build_sample --data ../shared/data`"
        )
    return sample
