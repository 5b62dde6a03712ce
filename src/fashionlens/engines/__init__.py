"""Who runs a job's stages: `local` (this machine); a Ray engine runs the same stage objects."""
