"""HTTP and WebSocket routes, one module per route group."""
