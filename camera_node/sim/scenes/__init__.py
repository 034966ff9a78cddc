"""Built-in scenes (TOML) and their images; data only."""
