"""Which database: one module per dialect, each registering a `Backend`."""
