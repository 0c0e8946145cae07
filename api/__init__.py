"""The REST API under /api/v1: the third door, beside Slack and the command line, onto the same service
functions. API keys are made and revoked through core/api_keys.py (from Slack and `app.py api-keys`); this package
checks them on every request.

`app.py` mounts `add_routes(web_app, database, settings)` and registers `keys_cli`'s commands. The operations and
their OpenAPI document come from one set of declarations (registry.py, schemas.py).
"""

from .routes import add_routes, build_registry, openapi_document

__all__ = ["add_routes", "build_registry", "openapi_document"]
