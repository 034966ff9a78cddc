"""tetherfocus: the command line that ties the node, the controller and the viewer together."""

__version__ = "0.1.0"
