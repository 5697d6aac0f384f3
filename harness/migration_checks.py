"""Migration checks as test items (placeholder: being written)."""
