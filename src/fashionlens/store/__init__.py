"""The embedded catalogue database (LanceDB under FASHIONLENS_HOME/db)."""
