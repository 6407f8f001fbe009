"""The fragmented "before": several factories, shared state, a lazily built bridge.

This package reproduces the *mechanisms* of the original defects, so they
appear only under concurrency and never for one user at a time. Each counts
itself where it fires, and the defects it causes are counted under it
(``races.py``: ``/metrics`` and ``/api/factory/metrics``):

* **context swap**: ``supervisor.execution_engine_factory.ExecutionEngineFactory``
  keeps the "current" user context on the one shared factory and reads it back
  after an ``await`` (an audit write): another user's request can overwrite it
  in that window, and the engine then runs one user's message under another
  user's identity -> events misdelivered to that user; and two engines under
  one user id, so a cleanup misses -> 1011.
* **lost registration**: ``bridge.AgentWebSocketBridge`` publishes its
  connection map copy-on-write across an ``await`` (the ``ws_connect`` /
  ``ws_disconnect`` audit write): a socket registered meanwhile is overwritten,
  and a run for that user finds no socket (or a closed one) -> 1011.
* **orphaned bridge**: ``bridge.BridgeHolder`` builds the bridge lazily with
  check-then-await-then-set: sockets that race the first build are registered
  with a bridge that is then replaced, and runs cannot reach them -> 1011.
  Only a cold start (sockets arriving before the first build has finished)
  opens this window.
* **unconfigured factory**: the factories are published before they are
  configured. On the WebSocket path the bridge already exists when the factory
  is built, so the window never opens; runs started over HTTP before any socket
  has built the bridge (a cold start) take the factory unconfigured and fail.

Nothing here injects failures or sleeps to fake one: every await is real I/O
(SQLite audit writes in a thread) that the canonical code also performs, off the
request path (its audit trail records the same rows, buffered).
"""
