"""Database access: one module per store. Nothing else opens connections."""
