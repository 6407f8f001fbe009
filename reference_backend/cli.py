"""``goldenpath serve`` and ``goldenpath users``: the backend's verbs.

Both read the same settings (``GOLDENPATH_*`` environment, then flags), so the
users created are the users the server logs in.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from pydantic import ValidationError

from reference_backend.config import Settings
from resultsformat.cli import OneLineParser, dispatch, usage_error

# flag -> settings field, for flags that map one to one
_SETTING_FLAGS = {
    "host": "host",
    "port": "port",
    "workers": "workers",
    "factory": "factory_mode",
    "database_url": "database_url",
    "environment": "environment",
    "agent_seed": "agent_seed",
    "agent_think_ms": "agent_think_ms",
    "agent_tool_ms": "agent_tool_ms",
    "agent_token_ms": "agent_token_ms",
    "kdf_log2_n": "kdf_log2_n",
    "log_level": "log_level",
}


_Parser = OneLineParser


def _settings_from(args: argparse.Namespace) -> Settings:
    overrides = {
        field: getattr(args, flag)
        for flag, field in _SETTING_FLAGS.items()
        if getattr(args, flag, None) is not None
    }
    return Settings(**overrides)


_fail = usage_error


def _load_settings(prog: str, args: argparse.Namespace) -> Settings | int:
    try:
        return _settings_from(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        return _fail(prog, f"invalid setting {where}: {first['msg']}")
    except ValueError as exc:
        return _fail(prog, str(exc))


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="sqlite:///PATH (default sqlite:///goldenpath.db)")
    parser.add_argument("--environment", choices=["dev", "test", "prod"])
    parser.add_argument("--kdf-log2-n", type=int, help="scrypt cost as log2(N) (default 14)")


def serve_main(argv: Sequence[str]) -> int:
    """``goldenpath serve``: run the reference backend under uvicorn."""
    prog = "goldenpath serve"
    parser = _Parser(prog=prog, description="Run the reference backend.")
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--factory", choices=["canonical", "legacy"], help="factory mode")
    parser.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    parser.add_argument("--agent-seed", type=int)
    parser.add_argument("--agent-think-ms", type=float, help="simulated model think latency")
    parser.add_argument("--agent-tool-ms", type=float, help="simulated tool latency")
    parser.add_argument("--agent-token-ms", type=float, help="simulated latency per reply token")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    _add_common(parser)
    args = parser.parse_args(argv)
    settings = _load_settings(prog, args)
    if isinstance(settings, int):
        return settings
    if settings.redis_url:
        from reference_backend.broker import check_redis_url

        problem = check_redis_url(settings.redis_url)
        if problem is not None:  # before uvicorn starts: one line, exit 2, not a traceback
            return _fail(prog, problem)
    from reference_backend.server import serve

    return serve(settings)


def users_main(argv: Sequence[str]) -> int:
    """``goldenpath users create``: provision users (load0..loadN-1) in the database."""
    prog = "goldenpath users"
    parser = _Parser(prog=prog, description="Manage backend users.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    create = sub.add_parser("create", help="create users")
    who = create.add_mutually_exclusive_group(required=True)
    who.add_argument("--count", type=int, help="create PREFIX0 .. PREFIX{COUNT-1}")
    who.add_argument("--username", help="create one user")
    create.add_argument("--prefix", default="load", help="username prefix with --count")
    create.add_argument("--password", required=True)
    create.add_argument(
        "--if-exists",
        choices=["fail", "replace"],
        default="fail",
        help="what to do when a username is taken (default fail)",
    )
    _add_common(create)
    args = parser.parse_args(argv)
    settings = _load_settings(prog, args)
    if isinstance(settings, int):
        return settings
    if args.count is not None and not 1 <= args.count <= 1_000_000:
        return _fail(prog, "--count must be between 1 and 1000000")
    names = [args.username] if args.username else [f"{args.prefix}{i}" for i in range(args.count)]
    from reference_backend.db import UserExistsError, open_database
    from reference_backend.security import hash_password

    def hash_one(_: str) -> str:
        return hash_password(args.password, log2_n=settings.kdf_log2_n)

    # scrypt releases the GIL: hash on every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        hashes = list(pool.map(hash_one, names))
    db = open_database(settings.database_url)
    try:
        db.add_users(zip(names, hashes, strict=True), replace=args.if_exists == "replace")
    except UserExistsError as exc:
        return _fail(prog, f"a username is taken ({exc}); use --if-exists replace")
    finally:
        db.close()
    shown = names[0] if len(names) == 1 else f"{names[0]}..{names[-1]}"
    print(f"created {len(names)} users ({shown}) in {settings.database_url}")
    return 0


_VERBS: dict[str, Callable[[Sequence[str]], int]] = {"serve": serve_main, "users": users_main}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reference_backend serve|users ...`` (the backend logs at INFO)."""
    verbs = {name: (lambda verb=verb: verb) for name, verb in _VERBS.items()}
    return dispatch("python -m reference_backend", verbs, argv, log_level="INFO")
