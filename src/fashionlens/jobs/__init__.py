"""Batch jobs over many images, each a stage object (setup -> decode -> infer -> write) that an engine runs."""
