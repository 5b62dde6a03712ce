"""One module per HTTP resource; each ``build(state)`` returns its router."""
