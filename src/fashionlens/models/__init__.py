"""Backbones (image -> embedding) behind one registry, and heads on top of them."""
