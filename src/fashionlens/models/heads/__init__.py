"""Heads on top of embeddings: the linear category probe and the multi-head attribute classifier."""
