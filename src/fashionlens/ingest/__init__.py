"""Readers that turn dataset formats into `IngestResult`s (one module per format)."""
