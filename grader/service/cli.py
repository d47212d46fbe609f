"""`grader serve` and `grader token`: registered on the `grader` command's subparsers.

Importing this module is cheap (argparse only), so `grader check` starts as fast as before;
the service's own dependencies load when one of its commands runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from grader.service.settings import (
    DEFAULT_BURST,
    DEFAULT_DATA,
    DEFAULT_MAX_UPLOAD,
    DEFAULT_RATE,
    Settings,
)

if TYPE_CHECKING:
    from grader.service.store import Store

MISSING_EXTRA = (
    "the service's dependencies are not installed: pip install 'grader[service]' "
    "(FastAPI, uvicorn, python-multipart, httpx)"
)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `serve` and `token` on the subparsers of the `grader` command."""
    serve = subparsers.add_parser(
        "serve",
        help="run the grading service an LMS uploads to (HTTP)",
        description="Grade uploaded notebooks over HTTP. Every accepted upload is kept in "
        "--data until it is graded, across restarts. Callbacks are signed with the "
        "GRADER_CALLBACK_SECRET environment variable.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s; 0: any)")
    _data_option(serve)
    serve.add_argument(
        "--assignment",
        action="append",
        dest="assignments",
        metavar="DIR",
        help="an assignment folder to serve, addressed by its name; repeat for more "
        "(default: Gradient Checking)",
    )
    serve.add_argument(
        "--jobs", type=int, help="sandbox workers per assignment (default: all cores)"
    )
    serve.add_argument(
        "--callback-allow",
        action="append",
        default=[],
        metavar="HOST",
        help="a host (or host:port) callback_url may name; repeat for more (default: none, "
        "so no callbacks)",
    )
    serve.add_argument(
        "--max-upload",
        type=int,
        default=DEFAULT_MAX_UPLOAD,
        metavar="BYTES",
        help="largest file accepted (default: %(default)s, 20 MiB)",
    )
    serve.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help="requests per second per token, sustained (default: %(default)s; 0: no limit)",
    )
    serve.add_argument(
        "--burst",
        type=int,
        default=DEFAULT_BURST,
        help="requests a token may make at once before --rate applies (default: %(default)s)",
    )
    serve.set_defaults(handler=_serve)

    token = subparsers.add_parser(
        "token",
        help="create, list or revoke the service's API tokens",
        description="Tokens for `grader serve`: a submitter (an LMS) sees only what it "
        "uploaded; an instructor sees everything, gradebooks included.",
    )
    actions = token.add_subparsers(dest="token_action", required=True)
    create = actions.add_parser("create", help="create a token and print it, alone, on stdout")
    _data_option(create)
    create.add_argument("--role", required=True, choices=("instructor", "submitter"))
    create.add_argument("--name", default="", help="who holds it, for `grader token list`")
    create.set_defaults(handler=_token_create)
    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    _data_option(listing)
    listing.set_defaults(handler=_token_list)
    revoke = actions.add_parser("revoke", help="revoke a token by the id `list` shows")
    _data_option(revoke)
    revoke.add_argument("id", help="the token's id, from `grader token list`")
    revoke.set_defaults(handler=_token_revoke)


def _data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default=str(DEFAULT_DATA),
        metavar="DIR",
        help="the service's database and reports (default: ./%(default)s)",
    )


def _serve(args: argparse.Namespace) -> int:
    import gc
    import logging

    try:
        from grader.sandbox.pool import SandboxUnavailable
        from grader.service.server import bind, serve
        from grader.service.service import ConfigurationError, Service
        from grader.service.store import SchemaTooNew
        from grader.spec import AssignmentError
    except ImportError as problem:
        print(f"grader serve: {MISSING_EXTRA} ({problem})", file=sys.stderr)
        return 2
    if args.max_upload < 1 or args.burst < 1 or args.rate < 0 or (args.jobs or 1) < 1:
        print("grader serve: --max-upload, --burst and --jobs must be positive", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings(
        data=Path(args.data),
        assignment_dirs=tuple(Path(folder) for folder in args.assignments or ()),
        jobs=args.jobs,
        callback_allow=tuple(args.callback_allow),
        callback_secret=os.environ.get("GRADER_CALLBACK_SECRET", "").encode(),
        max_upload=args.max_upload,
        rate=args.rate,
        burst=args.burst,
    )
    try:
        service = Service(settings)
        listener = bind(args.host, args.port)
    except (FileNotFoundError, AssignmentError, ConfigurationError, SchemaTooNew) as problem:
        print(f"grader serve: {problem}", file=sys.stderr)
        return 2
    except OSError as problem:
        print(f"grader serve: cannot listen on {args.host}:{args.port}: {problem}", file=sys.stderr)
        return 2
    try:
        service.start()
    except SandboxUnavailable as problem:
        print(f"grader serve: the sandbox could not start: {problem}", file=sys.stderr)
        return 2
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"grader serve: listening on http://{shown}:{port}", file=sys.stderr, flush=True)
    # What is loaded now lives as long as the process: the cyclic collector can skip it.
    gc.freeze()
    serve(service, listener)
    return 0


def _store(args: argparse.Namespace, create: bool) -> Store:
    from grader.service.layout import DataLayout
    from grader.service.store import Store

    layout = DataLayout(Path(args.data))
    if not create and not layout.database.is_file():
        raise FileNotFoundError(f"{args.data} holds no service database: is --data right?")
    layout.root.mkdir(parents=True, exist_ok=True)
    return Store(layout.database)


def _token_create(args: argparse.Namespace) -> int:
    from grader.service.records import Role
    from grader.service.tokens import create_token

    store = _store(args, create=True)
    try:
        _, secret = create_token(store, Role(args.role), args.name)
    finally:
        store.close()
    print(secret)
    return 0


def _token_list(args: argparse.Namespace) -> int:
    try:
        store = _store(args, create=False)
    except FileNotFoundError as problem:
        print(f"grader token list: {problem}", file=sys.stderr)
        return 2
    try:
        found = store.tokens()
    finally:
        store.close()
    table = [("id", "role", "name", "created", "state")]
    for token in found:
        state = f"revoked {token.revoked_at}" if token.revoked_at else "active"
        table.append((token.id, token.role.value, token.name, token.created_at, state))
    widths = [max(len(row[column]) for row in table) for column in range(len(table[0]))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    from grader.service.records import timestamp

    try:
        store = _store(args, create=False)
    except FileNotFoundError as problem:
        print(f"grader token revoke: {problem}", file=sys.stderr)
        return 2
    try:
        revoked = store.revoke_token(args.id, timestamp())
    finally:
        store.close()
    if not revoked:
        print(f"grader token revoke: no active token with id {args.id!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.id}")
    return 0
