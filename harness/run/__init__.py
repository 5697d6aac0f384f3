"""One harness run: its state (`state`), how each backend's database is obtained (`provision`),
and the run's private temp directory (`workdir`)."""
