"""fashionlens: turn fashion images into structured, searchable fashion data.

Importing this package is cheap: torch, lancedb and the CLI load lazily where used.
"""

__version__ = "0.1.0"
