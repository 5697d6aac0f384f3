"""Wiring the app under test to the test's database: the app and its dependencies (`app`),
and the clients that call it (`clients`)."""
