"""Jobs that combine readers, models and the store: embed, train, predict, export, run."""
