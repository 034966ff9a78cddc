"""Protocol and specification versions.

``PROTOCOL_VERSION`` is the major version carried in every message's ``"v"`` field.  A peer
that receives a request with another major version answers ``unsupported_version``.
``SPEC_VERSION`` is the version of docs/protocol.md; a test pins the document to it.
"""

from typing import Final

PROTOCOL_VERSION: Final = 1
SPEC_VERSION: Final = "1.9"
