"""Images and depth maps of the built-in scenes; data only."""
