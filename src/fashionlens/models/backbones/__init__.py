"""Image (and text) -> embedding backbones, registered in `fashionlens.models.registry`."""
