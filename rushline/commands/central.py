"""`rushline central serve|token|tokens|revoke|import`: the central server and its
administration."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path
from typing import Any

from rushline.errors import UserError


def register(subparsers: Any) -> None:
    """Add ``central`` and its sub-commands."""
    from central.auth import CACHE_SECONDS

    parser: argparse.ArgumentParser = subparsers.add_parser("central", help="the central server")
    sub = parser.add_subparsers(dest="central_command", metavar="COMMAND")

    def _help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=_help)

    serve = sub.add_parser("serve", help="run the central server")
    serve.add_argument("--db", help="database URL (default: sqlite:///<data dir>/central.db)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8700)
    serve.add_argument("--config", help="site file with priority rules and cartons")
    serve.add_argument(
        "--notifications",
        metavar="FILE",
        help="notifications file (e-mail, webhook, templates; default: "
        "$RUSHLINE_NOTIFICATIONS, else notifications.toml in the data dir, else the shipped one)",
    )
    serve.add_argument(
        "--reprioritise-seconds",
        type=float,
        default=None,
        help="re-evaluation interval (default 60)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (each opens the database; writes stay serialised by it)",
    )
    serve.set_defaults(func=_serve)

    token = sub.add_parser("token", help="create an API token (printed once, on the last line)")
    token.add_argument("--db", help="database URL")
    token.add_argument("--role", required=True, choices=("admin", "device"))
    token.add_argument("--device", help="device id (device tokens)")
    token.add_argument("--site", help="site = warehouse id (device tokens)")
    token.set_defaults(func=_token)

    tokens = sub.add_parser("tokens", help="list the API tokens (id, role, device, site, created)")
    tokens.add_argument("--db", help="database URL")
    tokens.set_defaults(func=_tokens)

    revoke = sub.add_parser(
        "revoke",
        help="revoke a token by its id (from `tokens`) or every token of a device; running "
        f"servers refuse it within {CACHE_SECONDS:g} s",
    )
    revoke.add_argument("--db", help="database URL")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="the token's id, or its first 6+ characters")
    which.add_argument("--device", help="revoke every token of this device")
    revoke.set_defaults(func=_revoke)

    load = sub.add_parser("import", help="load master data (JSON or TOML, §4.2 shape)")
    load.add_argument("--db", help="database URL")
    load.add_argument("file")
    load.set_defaults(func=_import)


def _open(url: str | None) -> Any:
    from central.store import StoreError, open_store

    try:
        return open_store(url)
    except StoreError as exc:
        raise UserError(str(exc)) from exc


_ENV_DB = "RUSHLINE_CENTRAL_DB"
_ENV_CONFIG = "RUSHLINE_CENTRAL_CONFIG"
_ENV_TICK = "RUSHLINE_CENTRAL_REPRIORITISE_SECONDS"


def app_from_env() -> Any:
    """The app of one worker process of ``serve --workers N`` (uvicorn factory): settings
    come through the environment; the worker closes its store when it stops."""
    import contextlib
    import os

    from central.app import create_app
    from central.gc_tuning import tune_for_server
    from central.settings import load_settings
    from sync.simclock import clock_from_env

    tick = os.environ.get(_ENV_TICK)
    settings = load_settings(
        os.environ.get(_ENV_CONFIG) or None, reprioritise_seconds=float(tick) if tick else None
    )
    store = _open(os.environ.get(_ENV_DB) or None)
    app = create_app(store, clock=clock_from_env(), settings=settings)
    tune_for_server()
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(running: Any) -> Any:
        try:
            async with inner(running) as state:
                yield state
        finally:
            store.close()

    app.router.lifespan_context = lifespan
    return app


def _serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from central.app import create_app
    from central.feedback import FeedbackError
    from central.feedback.settings import ENV_PATH
    from central.feedback.settings import load_settings as load_notifications
    from central.gc_tuning import tune_for_server
    from central.settings import SettingsError, load_settings
    from sync.simclock import clock_from_env

    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    # Both files are read before anything starts: a mistake is one line and exit 2.
    try:
        settings = load_settings(args.config, reprioritise_seconds=args.reprioritise_seconds)
    except SettingsError as exc:
        raise UserError(_one_line(f"site config: {exc}")) from exc
    try:
        notifications = load_notifications(args.notifications)
    except FeedbackError as exc:
        raise UserError(_one_line(f"notifications: {exc}")) from exc
    try:
        clock = clock_from_env()  # the demo's simulated floor clock, else the wall clock
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    store = _open(args.db)  # creates and migrates the database once, before any worker
    print(f"rushline central: {store.url} on http://{args.host}:{args.port}", flush=True)
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": "warning",
        "access_log": False,
    }
    if args.workers > 1:
        store.close()
        os.environ[_ENV_DB] = args.db or store.url  # store.url hides a password
        os.environ[_ENV_CONFIG] = args.config or ""
        if args.notifications:
            os.environ[ENV_PATH] = args.notifications  # each worker reads it from there
        if args.reprioritise_seconds is not None:
            os.environ[_ENV_TICK] = str(args.reprioritise_seconds)
        uvicorn.run(
            "rushline.commands.central:app_from_env",
            factory=True,
            workers=args.workers,
            **options,
        )
        return 0
    try:
        app = create_app(store, clock=clock, settings=settings, notifications=notifications)
        tune_for_server()
        uvicorn.run(app, **options)
    finally:
        store.close()
    return 0


def _one_line(message: str) -> str:
    """A configuration error as the single line the CLI prints."""
    return " ".join(message.split())


def _token(args: argparse.Namespace) -> int:
    from central.auth import create_token

    if args.role == "device" and not (args.device and args.site):
        raise UserError("a device token needs --device ID and --site WAREHOUSE")
    store = _open(args.db)
    try:
        token = create_token(store, args.role, args.device, args.site)
    finally:
        store.close()
    print(f"token for {_who(args.role, args.device, args.site)} (shown once; store it now):")
    print(token)
    return 0


def _tokens(args: argparse.Namespace) -> int:
    from central.auth import list_tokens

    store = _open(args.db)
    try:
        rows = list_tokens(store)
    finally:
        store.close()
    print(f"{'id':<12}  {'role':<6}  {'device':<16}  {'site':<8}  created")
    for ident, record, created in rows:
        print(
            f"{ident:<12}  {record.role:<6}  {record.device or '-':<16}  "
            f"{record.site or '-':<8}  {created}"
        )
    print(f"{len(rows)} token{'' if len(rows) == 1 else 's'}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from central.auth import revoke_tokens, token_id

    store = _open(args.db)
    try:
        gone = revoke_tokens(store, args.id, args.device)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    finally:
        store.close()
    for record in gone:
        print(f"revoked {token_id(record)} ({_who(record.role, record.device, record.site)})")
    return 0


def _who(role: str, device: str | None, site: str | None) -> str:
    """Whom a token is for, as the token commands print it."""
    return f"device {device} at {site}" if role == "device" else "admin"


def read_masterdata(path: Path) -> dict[str, Any]:
    """A §4.2 master-data document from a JSON or TOML file (checked by the config loader
    when it is installed)."""
    try:
        from config.loader import load_masterdata, masterdata_to_dict
    except ImportError:
        load_masterdata = None  # type: ignore[assignment]
    if load_masterdata is not None:
        try:
            return masterdata_to_dict(load_masterdata(path))
        except Exception as exc:  # ConfigError names file and field
            raise UserError(str(exc)) from exc
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(
            f"{path}: not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: the document must be an object at the top level")
    return data


def _import(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from central.api.schemas import MasterDataIn
    from central.clock import SystemClock
    from central.service.context import InputError
    from central.service.masterdata import import_masterdata
    from central.settings import ServerSettings

    path = Path(args.file)
    data = read_masterdata(path)
    try:
        body = MasterDataIn.model_validate(data).model_dump(mode="json")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(f"{path}: {where}: {first['msg']}") from exc
    store = _open(args.db)
    try:
        counts = import_masterdata(store, body, SystemClock(), ServerSettings())
    except InputError as exc:
        raise UserError(f"{path}: {'.'.join(str(p) for p in exc.loc[1:])}: {exc.message}") from exc
    finally:
        store.close()
    print(", ".join(f"{name}: {n}" for name, n in counts.items()))
    return 0
