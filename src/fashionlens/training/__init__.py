"""Training: one loop kit (`kit`) and one module per trainable model."""
