"""``rostersync console``: serve the district staff's web console, and manage its accounts.

- ``console [--config-dir DIR] [--warehouse DIR] [--host H] [--port P] [--secure-cookies]
  [--behind-proxy]``: serve it (127.0.0.1:8000 by default); needs ``ROSTERSYNC_CONSOLE_SECRET``;
- ``console add-user EMAIL --district ID [--district ID ...] [--password-stdin] [--update]``;
- ``console remove-user EMAIL``.

Accounts live in ``<warehouse>/console/console.sqlite``. See docs/console.md.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rostersync_pipeline.cli.districts import CliError, configured

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def cmd_console(args: argparse.Namespace) -> int:
    import uvicorn

    from rostersync_pipeline.console.app import ConsoleSettings, create_app
    from rostersync_pipeline.console.auth import session_secret

    try:
        secret = session_secret(dict(os.environ))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    config_dir = Path(args.config_dir)
    if not config_dir.is_dir():
        raise CliError(f"no config directory {config_dir}; pass --config-dir or set "
                       "ROSTERSYNC_CONFIG_DIR")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(ConsoleSettings(config_dir=config_dir, warehouse_dir=Path(args.warehouse),
                                     secret=secret, secure_cookies=args.secure_cookies))
    print(f"rostersync console on http://{args.host}:{args.port}  (districts: "
          f"{', '.join(configured(config_dir)) or 'none'}; warehouse {args.warehouse})",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", server_header=False,
                proxy_headers=args.behind_proxy, forwarded_allow_ips="127.0.0.1")
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CliError("the two passwords differ; nothing changed")
    return first


def cmd_add_user(args: argparse.Namespace) -> int:
    from rostersync_pipeline.console.auth import AccountError, save_user
    from rostersync_pipeline.console.store import console_db_path

    known = configured(Path(args.config_dir))
    unknown = [d for d in args.district if d not in known]
    if unknown:
        raise CliError(f"unknown district(s) {', '.join(unknown)} in {args.config_dir} "
                       f"(configured: {', '.join(known) or 'none'}); pass --config-dir")
    try:
        user = save_user(console_db_path(args.warehouse), args.email, _password(args),
                         args.district, update=args.update)
    except AccountError as exc:
        raise CliError(str(exc)) from exc
    print(f"{'updated' if args.update else 'added'} {user.email}: districts "
          f"{', '.join(user.districts)}")
    return 0


def cmd_remove_user(args: argparse.Namespace) -> int:
    from rostersync_pipeline.console.auth import remove_user
    from rostersync_pipeline.console.store import console_db_path

    if not remove_user(console_db_path(args.warehouse), args.email):
        raise CliError(f"no account {args.email}")
    print(f"removed {args.email}; its sessions end at their next request")
    return 0


def _account_options(parser: argparse.ArgumentParser) -> None:
    """--config-dir / --warehouse on a sub-command without defaults of its own, so that the
    ones given before it (``console --warehouse W add-user ...``) are kept."""
    parser.add_argument("--config-dir", default=argparse.SUPPRESS,
                        help="directory of district YAML files")
    parser.add_argument("--warehouse", default=argparse.SUPPRESS, help="warehouse directory")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)


def add_console_commands(sub: argparse._SubParsersAction,
                         add_common: Callable[..., None]) -> None:
    """Register ``console`` (serve), ``console add-user`` and ``console remove-user``."""
    console = sub.add_parser("console", help="serve the web console for district staff")
    console.add_argument("--host", default=DEFAULT_HOST, help="address (default %(default)s)")
    console.add_argument("--port", type=int, default=DEFAULT_PORT,
                         help="port (default %(default)s)")
    console.add_argument("--secure-cookies", action="store_true",
                         help="send the session cookie over HTTPS only (behind a TLS proxy)")
    console.add_argument("--behind-proxy", action="store_true",
                         help="trust X-Forwarded-For from a proxy on 127.0.0.1 (client "
                              "addresses for login rate limiting)")
    add_common(console)
    console.set_defaults(func=cmd_console)
    accounts = console.add_subparsers(dest="console_command")

    add = accounts.add_parser("add-user", help="create a console account for some districts")
    add.add_argument("email")
    add.add_argument("--district", action="append", required=True,
                     help="a district the account sees and acts on (repeat for several)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.add_argument("--update", action="store_true",
                     help="replace an existing account's password and districts")
    _account_options(add)
    add.set_defaults(func=cmd_add_user)

    remove = accounts.add_parser("remove-user", help="delete a console account")
    remove.add_argument("email")
    _account_options(remove)
    remove.set_defaults(func=cmd_remove_user)
