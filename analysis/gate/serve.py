"""``goldenpath gate serve``: the gate behind HTTP, for deploy controllers.

* ``POST /gate`` (a Flagger webhook; any JSON body): runs the configured gate
  and puts the verdict in the status code: 200 pass (and warning unless
  ``--strict``), 412 fail, 503 inconclusive, 500 unusable input; the body is
  the verdict JSON either way.
* ``GET /gate`` (an Argo Rollouts ``web`` metric): the same verdict JSON with
  status 200, because Argo counts a non-2xx answer as a measurement *error*,
  not a failure; use ``successCondition: result.passed == 1``. ``?status=verdict``
  gives the POST status codes instead.
* ``GET /healthz``: liveness.

Target URLs may hold ``{name}`` and ``{namespace}``, filled from the Flagger
payload (``name``, ``namespace``) or the query string, so one gate serves many
applications: ``--green 'http://{name}-canary.{namespace}:8000'``. One gate runs
at a time; a request that arrives meanwhile waits for it.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .common import PROG, UNUSABLE, Parser, UsageError, guarded
from .files import judge_dirs, write_outputs
from .outcomes import FAIL, INCONC, Verdict
from .trials import add_run_options, gate_run_from_args

SERVE_PROG = f"{PROG} serve"
STATUS: dict[str, int] = {FAIL: 412, INCONC: 503}
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")  # a Kubernetes name
_MAX_BODY = 1 << 20

GateFn = Callable[[dict[str, str]], Verdict]


def status_for(verdict: Verdict) -> int:
    """HTTP status of a verdict: 200 when the gate lets the deploy through."""
    return 200 if verdict.passed else STATUS.get(verdict.verdict, 412)


class GateService:
    """Runs the gate per request, one at a time; reuses a verdict younger than ``cache_s``."""

    def __init__(self, gate: GateFn, *, cache_s: float = 0.0) -> None:
        self.gate, self.cache_s = gate, cache_s
        self._lock = threading.Lock()
        self._cache: dict[tuple[tuple[str, str], ...], tuple[float, int, dict[str, Any]]] = {}

    def answer(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        key = tuple(sorted(params.items()))
        with self._lock:
            hit = self._cache.get(key)
            if hit and time.monotonic() - hit[0] < self.cache_s:
                return hit[1], hit[2]
            try:
                verdict = guarded(self.gate, params)
            except UsageError as exc:
                body = {"verdict": "error", "passed": 0, "score": 0, "error": str(exc)}
                return 500, body
            result = (time.monotonic(), status_for(verdict), verdict.to_dict())
            self._cache[key] = result
            return result[1], result[2]


def _params(query: dict[str, list[str]], body: dict[str, Any]) -> dict[str, str]:
    """``name``/``namespace`` from the Flagger payload or the query, checked as k8s names."""
    out: dict[str, str] = {}
    for key in ("name", "namespace"):
        values = query.get(key) or []
        value = body.get(key, values[0] if values else None)
        if value is None:
            continue
        if not isinstance(value, str) or not _LABEL.match(value):
            raise ValueError(f"{key} {value!r} is not a Kubernetes name")
        out[key] = value
    return out


def make_handler(service: GateService) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``service``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "goldenpath-gate"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
            sys.stderr.write(f"{SERVE_PROG}: {self.address_string()} {format % args}\n")

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = (json.dumps(body, indent=2) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _gate(self, body: dict[str, Any], *, status_coded: bool) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            try:
                params = _params(query, body)
            except ValueError as exc:
                self._send(400, {"error": str(exc)})
                return
            status, verdict = service.answer(params)
            if not status_coded and status != 500:
                status = 200
            self._send(status, verdict)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            if url.path == "/healthz":
                self._send(200, {"ok": True})
            elif url.path == "/gate":
                coded = parse_qs(url.query).get("status", [""])[0] == "verdict"
                self._gate({}, status_coded=coded)
            else:
                self._send(404, {"error": f"no route {url.path}; try POST /gate or GET /gate"})

        def do_POST(self) -> None:  # noqa: N802
            if urlsplit(self.path).path != "/gate":
                self._send(404, {"error": "POST /gate"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self._send(413, {"error": "body too large"})
                return
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw.strip() else {}
            except (json.JSONDecodeError, UnicodeDecodeError):
                self._send(400, {"error": "body is not JSON"})
                return
            self._gate(body if isinstance(body, dict) else {}, status_coded=True)

    return Handler


def make_server(
    service: GateService, host: str = "127.0.0.1", port: int = 0
) -> ThreadingHTTPServer:
    """A bound (not yet serving) HTTP server for ``service``; port 0 picks a free one."""
    server = ThreadingHTTPServer((host, port), make_handler(service))
    server.daemon_threads = True
    return server


def _fill(template: str, params: dict[str, str]) -> str:
    if "{" not in template:
        return template
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"URL template {template!r} needs {exc} (name/namespace)") from None


def build_serve_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=SERVE_PROG,
        description=(
            "Serve the gate over HTTP: POST /gate (Flagger webhook, verdict in the status "
            "code) and GET /gate (Argo Rollouts web metric, verdict JSON with 'passed' and "
            "'score'). Judges results directories (--candidate) or runs blue/green trials "
            "(--blue/--green) on each request."
        ),
    )
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8089, help="port (default 8089; 0 = any free)")
    p.add_argument("--candidate", action="append", default=[], type=Path, metavar="DIR")
    p.add_argument("--baseline", action="append", default=[], type=Path, metavar="DIR")
    p.add_argument("--blue", metavar="URL", help="live deployment; may hold {name}/{namespace}")
    p.add_argument("--green", metavar="URL", help="candidate deployment; same templates")
    p.add_argument(
        "--out", type=Path, default=Path("goldenpath-gate-serve"), metavar="DIR",
        help="one subdirectory per gate with its verdict.json and junit.xml",
    )  # fmt: skip
    p.add_argument(
        "--cache-s", type=float, default=0.0, metavar="SECONDS",
        help="answer repeated requests with a verdict at most this old (default 0)",
    )  # fmt: skip
    add_run_options(p)
    return p


def gate_from_args(args: argparse.Namespace) -> GateFn:
    """The per-request gate the options describe; raises ``UsageError`` on bad ones."""
    counter = iter(range(1, 1 << 62))

    def out_dir() -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return Path(args.out) / f"{stamp}-{next(counter)}"

    if args.candidate and not (args.blue or args.green):
        # Fail at start-up, not on the first request, when the SLO or the results are bad.
        guarded(judge_dirs, args.candidate, args.baseline, args.slo, calibration=args.calibration)

        def judge_gate(params: dict[str, str]) -> Verdict:
            verdict: Verdict = judge_dirs(
                args.candidate,
                args.baseline,
                args.slo,
                strict=args.strict,
                calibration=args.calibration,
            )
            write_outputs(verdict, out_dir())
            return verdict

        return judge_gate
    if args.blue and args.green and not args.candidate:
        args_blue, args_green = args.blue, args.green
        probe = argparse.Namespace(**vars(args))
        probe.blue = _fill(args_blue, {"name": "probe", "namespace": "probe"})
        probe.green = _fill(args_green, {"name": "probe", "namespace": "probe"})
        gate_run_from_args(probe, args.out / "probe")  # checks the options and the SLO now

        def run_gate(params: dict[str, str]) -> Verdict:
            ns = argparse.Namespace(**vars(args))
            ns.blue, ns.green = _fill(args_blue, params), _fill(args_green, params)
            verdict: Verdict = gate_run_from_args(ns, out_dir()).execute()
            return verdict

        return run_gate
    raise UsageError("give either --candidate DIR [--baseline DIR], or --blue URL --green URL")


def serve_main(argv: Sequence[str]) -> int:
    """``goldenpath gate serve ...``; serves until SIGINT/SIGTERM."""
    args = build_serve_parser().parse_args(list(argv))
    try:
        gate = gate_from_args(args)
        server = make_server(GateService(gate, cache_s=args.cache_s), args.bind, args.port)
    except UsageError as exc:
        print(f"{SERVE_PROG}: error: {exc}", file=sys.stderr)
        return UNUSABLE
    except OSError as exc:
        print(f"{SERVE_PROG}: error: cannot listen on {args.bind}:{args.port}: {exc.strerror}",
              file=sys.stderr)  # fmt: skip
        return UNUSABLE

    def stop(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    print(f"{SERVE_PROG}: listening on http://{host!s}:{port}/gate", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


__all__ = ["GateService", "make_server", "serve_main", "status_for"]
