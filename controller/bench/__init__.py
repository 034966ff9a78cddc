"""The autofocus benchmark: every strategy against the simulated camera, in virtual time.

- :mod:`.cases`: the case file (``[[case]]`` tables) and its checks;
- :mod:`.harness`: one run: simulated camera + gphoto2 backend + the node's move tracker
  (so headers are exactly what a node would publish) + decode + measure + strategy;
- :mod:`.report`: summaries, the printed table and the JSON document;
- :mod:`.af`: ``tetherfocus bench af``;
- :mod:`.calib`: ``tetherfocus bench calibrate``, the asymmetry calibration measured against
  the simulated lens (the harness runs ``default`` then ``calibrate`` on one camera).
"""
