"""Colour: dominant colour naming and the colour descriptor of the attribute classifier."""
