"""The one compiled part: native loops for the simulated camera's frames (camera_node/sim/_native.c).

Everything else is in pyproject.toml.  The extension is optional: without a C compiler the
install still succeeds and the simulator runs the numpy code that gives the same frames, bit
for bit, only slower (camera_node/sim/native.py says which one runs).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "camera_node.sim._native",
            ["camera_node/sim/_native.c"],
            optional=True,
            # No fused multiply-add: the loops must round as numpy does.
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno"],
        )
    ]
)
