"""Camera backends: one interface (:mod:`.base`), real (gphoto2) and simulated cameras behind it."""
