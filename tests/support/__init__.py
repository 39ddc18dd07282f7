"""Shared test helpers: ``support.local_server.LocalServer`` (a hostile-capable HTTP server on 127.0.0.1)."""
