"""Batch jobs over many images: stage objects (setup, decode, infer, write) that an engine runs."""
