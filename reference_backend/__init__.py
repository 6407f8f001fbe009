"""Reference backend: login -> WebSocket -> AI response on one canonical factory.

``create_app()`` in :mod:`reference_backend.main` builds the FastAPI app; the
``legacy`` factory mode reproduces the fragmented "before" state.
"""

__version__ = "0.1.0"
