"""camera_node: one process per camera; live view on PUB, commands on REP."""
