"""Every PNG the library draws: overlays, video sheets, heatmaps, confusion matrices, plots, grids."""
