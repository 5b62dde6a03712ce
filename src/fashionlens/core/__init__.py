"""Pure types, settings, label schemes and errors. No torch, no database."""
