"""The `fashionlens` command line: a thin edge over the library (progress, logging, error lines)."""
