"""How a database server is obtained: one module per way, each registering `Launcher`s."""
