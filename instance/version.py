"""The version of Entraide: the one in ``pyproject.toml`` (a test keeps them equal).

Reported by ``GET /api/v1/instance``, NodeInfo, the OpenAPI document, the
``User-Agent`` of outgoing requests, backups' manifests and ``entraide
--version``. CHANGELOG.md says what each version brought.
"""

VERSION = "0.2.0"
