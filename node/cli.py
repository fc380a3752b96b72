"""The `vecinos` command, and the one place that wires the node together.

`run` is the composition root: it builds the node (store, keys, intake), the
scheduler, the web app and, when configured, the Matrix bot, and hands each
what it needs. It is the only file of node/ that imports web/ or federation/.

Conventions: every operator-facing error is one line on stderr; the exit
code is 1 for an error at run time (a bad config, a missing data dir, a port
in use) and 2 for a command line that cannot be understood (argparse's);
`--data` defaults to the VECINOS_DATA environment variable (not for `demo`,
which wipes its dir); `--version` prints the installed version.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import getpass
import logging
import os
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from node.config import ConfigError, load_config
from node.gazetteer import GazetteerError
from node.running import NodeRunning, RunLock, RunLockError, running_node
from node.setup import DataDirError, check_data_dir, init_chapter

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

log = logging.getLogger("vecinos")
DATA_ENV = "VECINOS_DATA"
RUNTIME_ERROR = 1  # the command was understood but could not be done (argparse's usage: 2)
RETENTION_SECOND = 2  # retention runs this second into its minute: just after a whole hour
# A clock-aligned run late by up to this (a busy event loop) still runs, once (APScheduler's
# default is 1 s: the run just after a whole hour, or a publication tick, would be skipped).
MISFIRE_GRACE_S = 60


class CliError(Exception):
    """An error for the operator, one line."""


def _data(args: argparse.Namespace) -> Path:
    return Path(args.data).expanduser().resolve()


def cmd_init(args: argparse.Namespace) -> int:
    data = _data(args)
    chapter_id = init_chapter(data, args.chapter)
    print(f"created chapter {args.chapter!r} (id {chapter_id}) in {data}")
    print(f"  config: {data / 'vecinos.toml'} (every default listed, commented)")
    print(f"  keys:   {data / 'keys'}: back up signing.key (never share it);")
    print("          never back up keys/desc/: retention destroys those keys on purpose")
    print(f"next: vecinos moderator add NAME --data {data}; vecinos run --data {data}")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    """Retention now. While `vecinos run` runs, the running node is asked to do it (SIGUSR2):
    a second process writing the store would leave the node's memory (the recent window, the
    open incidents) behind it."""
    from node.service import open_node

    data = _data(args)
    check_data_dir(data)
    lock = RunLock(data)
    try:
        lock.acquire()
    except NodeRunning:
        running = running_node(data)
        if running is None or not running.pid:
            raise CliError("the node is starting or stopping: try again in a moment") from None
        os.kill(running.pid, signal.SIGUSR2)
        print(
            f"asked the running node (pid {running.pid}) to purge now: it prints the counts; "
            "`vecinos status` shows the last purge"
        )
        return 0

    async def main() -> str:
        node = await open_node(data)
        try:
            return (await node.purge()).line()
        finally:
            await node.close()

    try:
        print(asyncio.run(main()))
    finally:
        lock.release()
    return 0


def _read_password(name: str) -> str:
    """A new password: asked twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise CliError("the two passwords differ; nothing was changed")
        return password
    return sys.stdin.readline().rstrip("\n")


def _with_moderators(args: argparse.Namespace, job):  # type: ignore[no-untyped-def]
    """Run job(session) on the chapter's database in one transaction; its result."""
    from sqlmodel import Session

    from node.moderators import ModeratorError
    from node.store import database_url, make_engine

    data = _data(args)
    config = load_config(check_data_dir(data))
    engine = make_engine(database_url(data, config.get("storage", "database_url")))
    try:
        with Session(engine) as session:
            result = job(session)
            session.commit()
            return result
    except ModeratorError as exc:
        raise CliError(str(exc)) from exc
    finally:
        engine.dispose()


def cmd_moderator_add(args: argparse.Namespace) -> int:
    from node.moderators import add_moderator

    check_data_dir(_data(args))
    password = _read_password(args.name)
    _with_moderators(args, lambda s: add_moderator(s, args.name, password))
    print(f"moderator {args.name!r} created")
    return 0


def cmd_moderator_list(args: argparse.Namespace) -> int:
    from node.moderators import list_moderators

    names = _with_moderators(args, list_moderators)
    print("\n".join(names) if names else "no moderators yet: `vecinos moderator add NAME`")
    return 0


def cmd_moderator_remove(args: argparse.Namespace) -> int:
    from node.moderators import remove_moderator

    _with_moderators(args, lambda s: remove_moderator(s, args.name))
    print(f"moderator {args.name!r} removed; their sessions have ended")
    return 0


def cmd_moderator_passwd(args: argparse.Namespace) -> int:
    from node.moderators import set_password

    check_data_dir(_data(args))
    password = _read_password(args.name)
    _with_moderators(args, lambda s: set_password(s, args.name, password))
    print(f"new password for {args.name!r}; their sessions have ended (log in again)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from aiohttp import web
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from node.channels import build_channels
    from node.service import open_node
    from web.app import make_app

    data = _data(args)
    config = load_config(check_data_dir(data))
    host = args.host or config.get("web", "host")
    port = args.port or config.get("web", "port")
    lock = RunLock(data)  # one node per chapter; `vecinos status` reads it
    lock.acquire()

    async def main() -> None:
        node = await open_node(data)
        try:
            senders = build_channels(node.config, data)  # a secret file it cannot read: say so now
        except ConfigError:
            await node.close()
            raise
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            _purge_job,
            retention_trigger(config.get("retention", "purge_every_minutes")),
            args=[node],
            id="retention",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_S,
        )
        scheduler.add_job(
            _responders_job,
            "interval",
            args=[node],
            minutes=1,
            id="responders",
            max_instances=1,
            coalesce=True,
        )
        # Publication ticks on the clock's whole minutes (:00, :15, ...), which also make
        # the day keys ahead and set file times back to the hour (Node.tick).
        scheduler.add_job(
            _tick_job,
            "cron",
            args=[node],
            minute=f"*/{config.get('web', 'publish_every_minutes')}",
            id="publication",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_S,
        )
        app = make_app(
            node,
            secure_cookies=config.get("web", "secure_cookies"),
            trust_forwarded_for=config.get("web", "trust_forwarded_for"),
            client_max_size=config.get("web", "max_body_bytes"),
            ipv6_prefix=config.get("web", "ipv6_prefix"),
            header_timeout_s=config.get("web", "header_timeout_seconds"),
            body_timeout_s=config.get("web", "body_timeout_seconds"),
        )
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            await node.close()
            if exc.errno == errno.EADDRINUSE:
                raise CliError(
                    f"port {port} on {host} is in use: choose another with --port"
                ) from exc
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        federation = None
        if config.matrix_enabled:
            try:
                federation = await _start_federation(node)
            except CliError:
                await runner.cleanup()
                await node.close()
                raise
        channels = _start_channels(node, senders)
        pushes = _start_push(node)
        scheduler.start()
        lock.announce(f"http://{host}:{port}/")
        print(f"{config.chapter_name}: serving on http://{host}:{port}/", flush=True)
        if federation is None:
            print(
                f"Matrix is off: run `vecinos matrix setup --data {data} ...` to turn it on",
                flush=True,
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # SIGUSR1: a publication tick now (an operator's choice; the demo after seeding).
        loop.add_signal_handler(
            signal.SIGUSR1, lambda: asyncio.ensure_future(_tick_job(node, announce=True))
        )
        # SIGUSR2: retention now (`vecinos purge` while this node runs).
        loop.add_signal_handler(
            signal.SIGUSR2, lambda: asyncio.ensure_future(_purge_job(node, announce=True))
        )
        if federation is not None:
            # `vecinos neighbors ...` and `vecinos region ...` send SIGHUP: set up rooms now.
            loop.add_signal_handler(signal.SIGHUP, federation.request_reconcile)
        await stop.wait()
        scheduler.shutdown(wait=False)
        for task in (channels, pushes):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if federation is not None:
            await federation.stop()
        await runner.cleanup()
        await node.close()
        print("stopped", flush=True)

    try:
        asyncio.run(main())
    finally:
        lock.release()
    return 0


def _start_channels(node, channels):  # type: ignore[no-untyped-def]
    """SMS / Signal / Telegram for responders, when configured: a task draining their notices."""
    from node.channels.dispatch import ChannelDispatch

    if not channels:
        return None
    print("responder texts: " + ", ".join(c.name for c in channels), flush=True)
    return asyncio.create_task(ChannelDispatch(node, channels).run(), name="channels")


def _start_push(node):  # type: ignore[no-untyped-def]
    """The Web Push fan-out (node.push.sender), when [push] enabled: a task draining its queue."""
    from node.push.sender import PushSender

    if not node.push_enabled:
        return None
    sender = PushSender(
        node, node.push_keys, node.push_hosts, max_per_hour=node.config.get("push", "max_per_hour")
    )
    return asyncio.create_task(sender.run(), name="push")


async def _start_federation(node):  # type: ignore[no-untyped-def]
    from federation.chapter import ChapterFederation, FederationError
    from federation.state import BotBusy

    federation = ChapterFederation(node)
    try:
        await federation.start()
    except (FederationError, BotBusy) as exc:
        raise CliError(str(exc)) from exc
    state = "connected" if federation.connected.is_set() else "homeserver unreachable, retrying"
    print(f"Matrix: bot {federation.user_id} ({state})", flush=True)
    return federation


def _federation_command(job) -> int:  # type: ignore[no-untyped-def]
    """Run a federation command (a coroutine returning lines) and print its lines."""
    from federation.chapter import FederationError
    from federation.neighbours import NeighbourError
    from federation.regions import RegionError
    from federation.setup import SetupError
    from federation.state import BotBusy

    try:
        lines = asyncio.run(job)
    except (FederationError, NeighbourError, RegionError, SetupError, BotBusy) as exc:
        raise CliError(str(exc)) from exc
    print("\n".join(lines))
    return 0


def cmd_matrix_setup(args: argparse.Namespace) -> int:
    from federation.setup import setup_matrix

    password = secret = None
    if args.registration_secret_file:
        try:
            secret = Path(args.registration_secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CliError(f"cannot read {args.registration_secret_file}: {exc.strerror}") from exc
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    data = _data(args)
    check_data_dir(data)
    return _federation_command(
        setup_matrix(
            data, args.homeserver, args.user, password=password, registration_secret=secret
        )
    )


def cmd_neighbors(args: argparse.Namespace) -> int:
    from federation import neighbours

    data = _data(args)
    check_data_dir(data)
    if args.neighbors_command == "invite":
        return _federation_command(neighbours.invite_command(data))
    if args.neighbors_command == "accept":
        return _federation_command(neighbours.accept_command(data, args.token, args.threshold))
    if args.neighbors_command == "list":
        return _federation_command(neighbours.list_command(data))
    return _federation_command(neighbours.remove_command(data, args.chapter_id))


def cmd_region(args: argparse.Namespace) -> int:
    from federation import regions

    data = _data(args)
    check_data_dir(data)
    command = args.region_command
    if command == "create":
        return _federation_command(regions.create_command(data, args.name))
    if command == "invite":
        return _federation_command(regions.invite_command(data, args.name, args.chapter_id))
    if command == "join":
        return _federation_command(regions.join_command(data, args.token))
    if command == "remove":
        return _federation_command(regions.remove_command(data, args.name, args.chapter_id))
    if command == "leave":
        return _federation_command(regions.leave_command(data, args.name))
    return _federation_command(regions.list_command(data))


def cmd_status(args: argparse.Namespace) -> int:
    data = _data(args)
    if not load_config(check_data_dir(data)).matrix_enabled:  # no Matrix library to load
        from node.status import status_lines

        print("\n".join(asyncio.run(status_lines(data))))
        return 0
    from federation.status import status_lines as with_matrix

    return _federation_command(with_matrix(data))


def retention_trigger(every_minutes: int) -> BaseTrigger:
    """When retention runs: every `every_minutes` on the clock's minutes, so one run falls
    just after each whole hour, when reports' active times end (scoring.decay counts from
    hour buckets): an expired incident's stage, its notice's all-clear and its alert's
    withdrawal follow within seconds, not up to a whole interval later."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(minute=f"*/{every_minutes}", second=RETENTION_SECOND, timezone="UTC")


async def _purge_job(node, announce: bool = False) -> None:  # type: ignore[no-untyped-def]
    try:
        counts = await node.purge()
        log.info("retention: %s", counts.line())
    except Exception as exc:  # a failed run is retried at the next interval
        log.error("retention run failed: %s", type(exc).__name__)
        return
    if announce:
        print(f"purged on request: {counts.line()}", flush=True)


async def _responders_job(node) -> None:  # type: ignore[no-untyped-def]
    try:
        await node.check_responders()  # held notices whose hold passed; verifications re-offered
    except Exception as exc:  # retried at the next minute
        log.error("responders check failed: %s", type(exc).__name__)


async def _tick_job(node, announce: bool = False) -> None:  # type: ignore[no-untyped-def]
    try:
        snapshot = await node.tick()
    except Exception as exc:  # the public keeps the last tick's view; retried at the next
        log.error("publication tick failed: %s", type(exc).__name__)
        return
    if announce:
        print(f"published on request: {len(snapshot.reports)} recent reports", flush=True)


def cmd_demo(args: argparse.Namespace) -> int:
    from federation.demo import DemoError
    from federation.demo import main as run_demo

    try:
        return run_demo(args)
    except DemoError as exc:
        raise CliError(str(exc)) from exc


def _version() -> str:
    try:
        return version("vecinos")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _data_from_environment(parser: argparse.ArgumentParser, seen: set[int] | None = None) -> None:
    """Every command's --data (but demo's, which wipes its dir) defaults to $VECINOS_DATA."""
    value = os.environ.get(DATA_ENV) or None
    seen = set() if seen is None else seen
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, sub in action.choices.items():
            if name == "demo" or id(sub) in seen:  # an alias names a parser twice
                continue
            seen.add(id(sub))
            for option in sub._actions:
                if option.dest == "data":
                    option.required = False
                    option.default = value
                    option.help = (option.help or "the chapter's data dir") + (
                        f" (default: ${DATA_ENV})"
                    )
            _data_from_environment(sub, seen)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vecinos", description="A Vecinos chapter node.")
    parser.add_argument("--version", action="version", version=f"vecinos {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create a chapter: config, keys, database")
    p.add_argument("--data", required=True, help="the chapter's data dir (created)")
    p.add_argument("--chapter", required=True, help="the chapter's name")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("run", help="serve the web app and run the scheduled jobs")
    p.add_argument("--data", required=True)
    p.add_argument("--host", default=None, help="default: [web] host of the config")
    p.add_argument("--port", type=int, default=None, help="default: [web] port of the config")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("purge", help="run retention now and print what went (counts only)")
    p.add_argument("--data", required=True)
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("moderator", help="moderator accounts")
    msub = p.add_subparsers(dest="moderator_command", required=True)
    m = msub.add_parser("add", help="create a moderator (password prompted, or read from stdin)")
    m.add_argument("name", help="a pseudonym: moderators are never shown publicly")
    m.add_argument("--data", required=True)
    m.set_defaults(func=cmd_moderator_add)
    m = msub.add_parser("list", help="the moderators' names")
    m.add_argument("--data", required=True)
    m.set_defaults(func=cmd_moderator_list)
    m = msub.add_parser("remove", help="delete a moderator; their sessions end at once")
    m.add_argument("name")
    m.add_argument("--data", required=True)
    m.set_defaults(func=cmd_moderator_remove)
    m = msub.add_parser(
        "passwd", help="a new password (prompted, or read from stdin); their sessions end at once"
    )
    m.add_argument("name")
    m.add_argument("--data", required=True)
    m.set_defaults(func=cmd_moderator_passwd)

    p = sub.add_parser("matrix", help="the chapter's Matrix bot")
    msub = p.add_subparsers(dest="matrix_command", required=True)
    m = msub.add_parser("setup", help="log the bot in once and create the chapter's rooms")
    m.add_argument("--data", required=True)
    m.add_argument("--homeserver", required=True, help="e.g. https://matrix.example.org")
    m.add_argument("--user", required=True, help="the bot's Matrix ID, e.g. @vecinos:example.org")
    how = m.add_mutually_exclusive_group(required=True)
    how.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    how.add_argument(
        "--registration-secret-file",
        help="register the bot with the homeserver's registration_shared_secret, read from FILE",
    )
    m.set_defaults(func=cmd_matrix_setup)

    p = sub.add_parser("neighbors", aliases=["neighbours"], help="neighbouring chapters")
    nsub = p.add_subparsers(dest="neighbors_command", required=True)
    n = nsub.add_parser("invite", help="print this chapter's token for a neighbour")
    n.add_argument("--data", required=True)
    n = nsub.add_parser("accept", help="pin a neighbour from its token")
    n.add_argument("token")
    n.add_argument("--data", required=True)
    n.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="lowest confidence this neighbour is sent (default: [federation] share_threshold)",
    )
    n = nsub.add_parser("list", help="the pinned neighbours and their rooms")
    n.add_argument("--data", required=True)
    n = nsub.add_parser("remove", help="forget a neighbour; the bot leaves its room")
    n.add_argument("chapter_id")
    n.add_argument("--data", required=True)
    p.set_defaults(func=cmd_neighbors)

    p = sub.add_parser("region", help="region rooms: one room shared by pinned chapters")
    rsub = p.add_subparsers(dest="region_command", required=True)
    r = rsub.add_parser("create", help="host a region (the node creates its room)")
    r.add_argument("name")
    r.add_argument("--data", required=True)
    r = rsub.add_parser("invite", help="invite a pinned neighbour; prints its region token")
    r.add_argument("name")
    r.add_argument("chapter_id")
    r.add_argument("--data", required=True)
    r = rsub.add_parser("join", help="join the region a host's token names")
    r.add_argument("token")
    r.add_argument("--data", required=True)
    r = rsub.add_parser("remove", help="the host: take a chapter out of the region")
    r.add_argument("name")
    r.add_argument("chapter_id")
    r.add_argument("--data", required=True)
    r = rsub.add_parser("leave", help="leave a region (its room)")
    r.add_argument("name")
    r.add_argument("--data", required=True)
    r = rsub.add_parser("list", help="the regions, their rooms and who is shared with there")
    r.add_argument("--data", required=True)
    p.set_defaults(func=cmd_region)

    p = sub.add_parser(
        "demo", help="a local network: a Synapse and three chapters that share alerts"
    )
    p.add_argument("--data", required=True, help="the demo's dir (made anew at every start)")
    p.add_argument(
        "--base-port",
        type=int,
        default=8081,
        help="chapters on this port and the next two, Synapse on the one after",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "status", help="running or not, web address, queues, last purge; homeserver, bot, alerts"
    )
    p.add_argument("--data", required=True)
    p.set_defaults(func=cmd_status)
    _data_from_environment(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    # No timestamps (a log line's time would date a report) and no third-party chatter.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("apscheduler", "nio", "peewee", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)  # a command line it cannot parse: exit 2
    if getattr(args, "data", "") is None:
        parser.error(f"{args.command}: --data DIR is needed (or set {DATA_ENV})")
    try:
        return args.func(args)
    except (CliError, ConfigError, DataDirError, GazetteerError, RunLockError) as exc:
        print(f"vecinos: {exc}", file=sys.stderr)
        return RUNTIME_ERROR
    except SQLAlchemyError as exc:  # never echo the URL: it may hold a password
        print(
            f"vecinos: cannot use the database ({type(exc).__name__}): "
            "check [storage] database_url and that the server is up",
            file=sys.stderr,
        )
        return RUNTIME_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
