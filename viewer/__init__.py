"""viewer: the web app that shows every camera live, with click-to-focus and the focus curve."""
