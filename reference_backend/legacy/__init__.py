"""The fragmented "before": several factories, shared state, a lazily built bridge.

This package reproduces the *mechanisms* of the original defects, so they
appear only under concurrency and never for one user at a time:

* ``supervisor.execution_engine_factory.ExecutionEngineFactory`` keeps the
  "current" user context on the one shared factory and reads it back after an
  ``await`` (an audit write): another user's request can overwrite it in that
  window, and the engine then runs one user's message under another user's
  identity -> cross-user events.
* ``bridge.get_websocket_bridge`` builds the bridge lazily with
  check-then-await-then-set: sockets that race the first initialisation are
  registered with a bridge that is then replaced (orphaned).
* ``bridge.AgentWebSocketBridge`` publishes its connection map copy-on-write
  across an ``await``: two users connecting at once lose one registration.
  A run for an orphaned or lost socket raises, and the handler closes the
  socket with 1011, as the original did.
* Sockets are accepted before the factory is configured ("transport accepted
  is not application ready").

Nothing here injects failures or sleeps to fake one: every await is real I/O
(SQLite writes in a thread) that the canonical code also performs, off the
request path.
"""
