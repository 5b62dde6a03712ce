"""Request-sized calls shared by the CLI and the server: describe an image, search, zero-shot, colour."""
