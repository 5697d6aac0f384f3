"""Per-test isolation: the outer transaction and the savepoint-joined session (`transactions`)."""
