"""Image generators (DCGAN)."""
