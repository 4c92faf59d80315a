"""The monitor: a supervisor served over HTTP to a console in another process.

``serve(supervisor, address, read_only, token_file)`` (behind
``TaskSupervisor.serve_monitor``) binds a Unix socket (``unix:PATH``, the
default kind) or a loopback TCP port (``tcp:127.0.0.1:PORT``; any other
interface is refused: remote access is an SSH tunnel) and serves it with
aiohttp on the supervisor's main loop. Off by default; ``stop()`` closes it.

**Security.** Every request needs ``Authorization: Bearer <token>``,
compared in constant time (``hmac.compare_digest``); the token is 32 random
bytes (``secrets``) written to a file only its owner may read or write
(``0600``; by default beside a Unix socket as ``PATH.token``, else in a
fresh ``0700`` directory). The Unix socket is
created ``0600`` (bound under a ``0177`` umask, no window where it is wider)
in a directory that group and others cannot enter (refused otherwise). A
read-only monitor refuses every command with 403 and says so. Bodies are
limited to ``MAX_BODY`` bytes (413); bad JSON, an unknown command or
argument, a wrong type or value is a 4xx with the engine's message, and
changes nothing. No endpoint runs code the caller sends: commands are a
fixed table of the supervisor's typed methods.

**Endpoints** (JSON; each answer carries ``wire``, ``instance`` (random, one per
monitor: a client that reconnects knows whether its event numbers still
hold) and ``monotonic``, the serving process's clock, see ``engine.wire``):

* ``GET /v1/snapshot[?events_after=N&limit=L]`` -- ``stats()``; with
  ``events_after``, also the events after ``N`` (at most ``L``), read just
  after the stats, as ``/v1/events`` gives them but without waiting: a
  client that refreshes at a fixed rate needs one request per refresh;
* ``GET /v1/events?after=N&limit=L&wait=S`` -- the events after ``N``, at
  most ``L`` (``MAX_EVENTS``); when there is none yet, a long poll: the
  answer comes with the first new event or after ``S`` seconds (at most
  ``MAX_WAIT``). Each answer is built from the bounded event ring when it
  is sent: nothing is buffered per client, so a slow client costs the
  service no memory, it only misses events (``oldest_seq`` says how many);
* ``POST /v1/live`` ``{"ids": [...] | null}``, ``POST /v1/finished``
  ``{"ids": [...]}`` -- the console's reconciling (at most ``MAX_IDS``);
* ``POST /v1/stack`` ``{"id": TASK_ID}`` -- ``task_stack``: the live stack
  of a running task (404 if it is not running, 400 if it cannot be read);
* ``POST /v1/command`` ``{"command": NAME, "args": {...}}`` -- one of
  ``COMMANDS``; ``{"result": ...}``, or ``{"error": {"type", "message"}}``
  with 400 (refused by the engine), 403 (read-only), 404 (unknown task);
* ``GET /metrics`` -- the Prometheus text format (``prometheus_client``).

Threads: ``serve`` and ``Monitor.close`` may be called from any thread
(on the loop's own thread they do not wait for the loop); requests are
handled on the supervisor's loop, and commands that wait run in the loop's
default executor.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import hmac
import ipaddress
import json
import logging
import os
import secrets
import socket
import stat
import tempfile
import threading
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .constants import PRIORITY_NAMES
from .loopthread import running_on
from .validate import check_flag, check_wait
from .wire import (
    WIRE_VERSION,
    encode_event_rows,
    encode_finished,
    encode_live,
    encode_stack,
    encode_stats,
    wire_id,
)

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes of a request body
MAX_EVENTS = 5_000  # events per answer
MAX_IDS = 10_000  # task ids per live/finished request
MAX_WAIT = 30.0  # seconds a long poll may wait
POLL_STEP = 0.05  # seconds between looks at the event ring during a long poll
SETUP_WAIT = 5.0  # seconds serve() waits for the loop to start serving
CLOSE_WAIT = 1.0  # seconds close() waits for open connections to end
TOKEN_SUFFIX = ".token"  # a Unix socket's token file by default: PATH + this

MonotonicClock = Callable[[], float]


class MonitorError(ValueError):
    """A monitor address or option that cannot be served."""


# -- addresses -----------------------------------------------------------------------
def parse_address(address: str | None) -> tuple[str, Any]:
    """``("unix", path)`` or ``("tcp", (host, port))``; ``None`` is a Unix
    socket in a fresh private directory. Raises ``MonitorError`` naming it."""
    if address is None:
        return "unix", None
    if not isinstance(address, str):
        raise TypeError(f"address must be a string such as 'unix:/run/app/monitor.sock' or "
                        f"'tcp:127.0.0.1:8765', got {address!r}")
    kind, _, rest = address.partition(":")
    if kind == "unix" and rest:
        return "unix", os.path.abspath(os.path.expanduser(rest))
    if kind == "tcp":
        host, _, port_text = rest.rpartition(":")
        host = host.strip("[]")
        try:
            port = int(port_text)
        except ValueError:
            port = -1
        if not 0 <= port <= 65535:
            raise MonitorError(f"address {address!r}: the port must be 0-65535")
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise MonitorError(f"address {address!r}: the monitor listens on the loopback "
                               f"interface only (127.0.0.1 or ::1); to reach it from another "
                               f"machine, forward it with an SSH tunnel")
        return "tcp", ("127.0.0.1" if host == "localhost" else host, port)
    raise MonitorError(f"address {address!r}: use 'unix:PATH' or 'tcp:127.0.0.1:PORT'")


def _private_dir(socket_path: str) -> None:
    """Refuse a socket directory that group or others can enter or write."""
    path = os.path.dirname(socket_path)
    where = f"address 'unix:{socket_path}': the socket's directory {path!r}"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise MonitorError(f"{where} does not exist") from None
    if info.st_mode & 0o077:
        raise MonitorError(f"{where} is open to group or others (mode "
                           f"{stat.S_IMODE(info.st_mode):o}): use a directory only its owner "
                           f"can use (mode 700)")
    if info.st_uid != os.geteuid():
        raise MonitorError(f"{where} belongs to another user")


def _bind_unix(path: str) -> socket.socket:
    _private_dir(path)
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise MonitorError(f"address 'unix:{path}': the path exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:  # a socket nobody listens on: left by a process that died
            os.unlink(path)
        else:
            raise MonitorError(f"address 'unix:{path}': another process is serving it")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise MonitorError(f"address 'unix:{path}': {exc.strerror}") from None
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return sock


def _bind_tcp(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise MonitorError(f"address 'tcp:{host}:{port}': {reason}") from None
    return sock


def _write_token(path: str, token: str) -> None:
    """Write ``token`` to ``path``, created owner-only (never wider, not even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)


# -- the commands ----------------------------------------------------------------------
class CommandError(Exception):
    """A command refused before it reached the supervisor (HTTP status, message)."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


#: Each command: its arguments and their JSON types (``None`` allowed where
#: the engine takes it); values are checked by the engine itself.
_NUMBER = (int, float)
_WAIT = (bool, int, float)
COMMANDS: dict[str, dict[str, tuple]] = {
    "set_thread_pool": {"pool_size": (int, type(None)), "reserve_normal": (int, type(None)),
                        "reserve_high": (int, type(None)),
                        "min_size": (int, str, type(None)),
                        "max_size": (int, type(None))},
    "set_mp_pool": {"pool_size": (int, type(None)), "reserve_normal": (int, type(None)),
                    "reserve_high": (int, type(None)), "min_size": (int, str, type(None)),
                    "max_size": (int, type(None))},
    "set_timeouts": {"poll_delay": _NUMBER, "timeout_warning": (*_NUMBER, type(None)),
                     "timeout_critical": (*_NUMBER, type(None)),
                     "run_warning": (*_NUMBER, type(None)),
                     "run_critical": (*_NUMBER, type(None))},
    "cancel": {"ids": (list,)},
    "resubmit": {"ids": (list,)},
    "create_aloop": {"name": (str,), "default": (bool,), "daemon": (bool,), "start": (bool,)},
    "start_aloop": {"name": (str,)},
    "set_default_aloop": {"name": (str, type(None))},
    "stop_aloop": {"name": (str,), "wait": _WAIT, "cancel_tasks": (bool,)},
    "start_worker": {"name": (str,)},
    "stop_worker": {"name": (str,), "wait": _WAIT},
    "stop": {"wait": _WAIT, "cancel_tasks": (bool,), "stop_schedulers": (bool,)},
}
#: Required arguments (the others keep the engine's defaults).
_REQUIRED = {"cancel": ("ids",), "resubmit": ("ids",), "create_aloop": ("name",),
             "start_aloop": ("name",), "set_default_aloop": ("name",),
             "stop_aloop": ("name",), "start_worker": ("name",), "stop_worker": ("name",)}
#: Seconds a command that waits (aloop or worker stop, worker start) may wait at most.
COMMAND_WAIT = 10.0


def check_command(body: Any) -> tuple[str, dict]:
    """The command and its arguments of a request body, or ``CommandError``."""
    if not isinstance(body, dict) or not isinstance(body.get("command"), str):
        raise CommandError(400, "BadRequest", 'the body must be {"command": NAME, '
                           '"args": {...}}')
    name = body["command"]
    spec = COMMANDS.get(name)
    if spec is None:
        raise CommandError(400, "UnknownCommand", f"unknown command {name!r}; the commands "
                           f"are: {', '.join(sorted(COMMANDS))}")
    args = body.get("args", {})
    if not isinstance(args, dict):
        raise CommandError(400, "BadRequest", f"args of {name!r} must be an object, got "
                           f"{type(args).__name__}")
    for key, value in args.items():
        types = spec.get(key)
        if types is None:
            raise CommandError(400, "TypeError", f"{name}() takes no argument {key!r}; it "
                               f"takes: {', '.join(spec) or 'none'}")
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise CommandError(400, "TypeError", f"{name}(): {key} must be "
                               f"{' or '.join(_type_name(t) for t in types)}, got {value!r}")
    missing = [key for key in _REQUIRED.get(name, ()) if key not in args]
    if missing:
        raise CommandError(400, "TypeError", f"{name}() needs {', '.join(missing)}")
    if "ids" in args and len(args["ids"]) > MAX_IDS:
        raise CommandError(400, "ValueError", f"{name}(): at most {MAX_IDS:,} ids, got "
                           f"{len(args['ids']):,}")
    return name, args


def _type_name(kind: type) -> str:
    return {type(None): "null", int: "an integer", float: "a number", str: "a string",
            bool: "true or false", list: "a list"}.get(kind, kind.__name__)


def _each(ids: list, command: Callable[[Any], Any]) -> dict:
    """``{id: {"result": ...} | {"error": {...}}}`` for every id."""
    out = {}
    for task_id in ids:
        try:
            out[str(task_id)] = {"result": command(task_id)}
        except (LookupError, RuntimeError, ValueError, TypeError) as exc:
            out[str(task_id)] = {"error": _error(exc)}
    return out


def _error(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": str(exc)}


# -- metrics ---------------------------------------------------------------------------
class _Metrics:
    """A ``prometheus_client`` collector reading one ``stats()`` per scrape."""

    def __init__(self, supervisor: Any) -> None:
        self._sup = supervisor

    def collect(self) -> Any:
        s = self._sup.stats()
        labels = ["pool", "priority"]
        lanes = {kind: GaugeMetricFamily(f"task_supervisor_tasks_{kind}",
                                         f"Tasks {kind} now, per pool and priority", labels=labels)
                 for kind in ("running", "queued", "delayed")}
        limit = GaugeMetricFamily("task_supervisor_priority_limit",
                                  "Most tasks of a priority (and above) that may run at once",
                                  labels=labels)
        settings = GaugeMetricFamily("task_supervisor_pool_setting",
                                     "A pool's size settings", labels=["pool", "setting"])
        threads = GaugeMetricFamily("task_supervisor_threads",
                                    "Pool threads (thread pool) or processes (mp pool)",
                                    labels=["pool", "state"])
        totals = CounterMetricFamily("task_supervisor_tasks",
                                     "Tasks that reached a step since the supervisor was made",
                                     labels=["pool", "step"])
        past = GaugeMetricFamily("task_supervisor_tasks_past_run_threshold",
                                 "Running tasks past run_warning / run_critical",
                                 labels=["pool", "level"])
        longest = GaugeMetricFamily("task_supervisor_longest_running_seconds",
                                    "How long the longest-running task has run (0: none)",
                                    labels=["pool"])
        for pool_name in ("thread", "mp", "coroutine"):
            pool = getattr(s, pool_name)
            past.add_metric([pool_name, "warning"], pool.run_warnings)
            past.add_metric([pool_name, "critical"], pool.run_criticals)
            longest.add_metric([pool_name], 0.0 if pool.longest is None else pool.longest.seconds)
            for kind, family in lanes.items():
                for priority, count in getattr(pool, kind).items():
                    family.add_metric([pool_name, PRIORITY_NAMES[priority]], count)
            for priority, value in pool.limits.items():
                if value is not None:
                    limit.add_metric([pool_name, PRIORITY_NAMES[priority]], value)
            if pool_name != "coroutine":
                for setting in ("pool_size", "reserve_normal", "reserve_high", "min_size",
                                "max_size"):
                    settings.add_metric([pool_name, setting], getattr(pool, setting))
                threads.add_metric([pool_name, "alive"], pool.threads_alive)
                threads.add_metric([pool_name, "busy"], pool.threads_busy)
            for step in ("submitted", "started", "completed", "failed", "canceled"):
                totals.add_metric([pool_name, step], getattr(pool, step))
        wait = GaugeMetricFamily("task_supervisor_queue_wait_seconds",
                                 "Time recent tasks waited in a queue before they started",
                                 labels=["quantile"])
        for quantile, value in (("0.5", s.wait_p50), ("0.95", s.wait_p95), ("1", s.wait_max)):
            wait.add_metric([quantile], value)
        up = GaugeMetricFamily("task_supervisor_active", "1 while the supervisor accepts tasks",
                               labels=["supervisor_id"])
        up.add_metric([s.supervisor_id], 1 if s.active else 0)
        aloops = GaugeMetricFamily("task_supervisor_aloops", "Aloops, by state",
                                   labels=["state"])
        running = sum(s.aloops.values())
        aloops.add_metric(["running"], running)
        aloops.add_metric(["stopped"], len(s.aloops) - running)
        schedulers = GaugeMetricFamily("task_supervisor_schedulers",
                                       "Schedulers and workers, by state", labels=["state"])
        active = sum(s.schedulers.values())
        schedulers.add_metric(["active"], active)
        schedulers.add_metric(["inactive"], len(s.schedulers) - active)
        yield from (*lanes.values(), limit, settings, threads, totals, wait, up, aloops,
                    schedulers, past, longest)


# -- answers --------------------------------------------------------------------------
def _plain(obj: Any) -> Any:
    """orjson's fallback for subclasses of its native types (a ``TaskEvent`` is
    a tuple, a name may be a ``str`` subclass): the plain value."""
    for kind in (tuple, str, int, float, dict, list):
        if isinstance(obj, kind):
            return kind(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dumps(answer: dict) -> bytes:
    """An answer as JSON bytes: orjson (the events of a batch cost about a
    tenth of the standard encoder's, measured), or ``json`` for what orjson
    refuses (integers past 64 bits)."""
    try:
        return orjson.dumps(answer, default=_plain, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return json.dumps(answer).encode()


# -- the monitor -----------------------------------------------------------------------
class Monitor:
    """One served monitor: ``address`` (as given, with the real port for
    ``tcp:...:0``), ``token_file``, ``read_only``, ``close()``."""

    def __init__(self, supervisor: Any, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 address: str, token: str, token_file: str, read_only: bool,
                 own_paths: list[str], clock: MonotonicClock) -> None:
        self.address = address
        self.token_file = token_file
        # Tells a client that reconnects whether it is still the same serving
        # (a service restarted numbers its events from 1 again).
        self.instance = secrets.token_hex(8)
        self.read_only = read_only
        self._sup = supervisor
        self._loop = loop
        self._sock = sock
        self._token = token.encode()
        self._own_paths = own_paths  # files and directories made for it, removed by close()
        self._clock = clock
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_Metrics(supervisor))  # type: ignore[arg-type]
        self._runner: web.AppRunner | None = None
        self._stop_task: asyncio.Task | None = None
        self._closing = asyncio.Event()
        # Guards _closed: close() runs once, whichever threads call it.
        self._close_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"<Monitor {self.address} {state}{' read-only' if self.read_only else ''}>"

    # -- serving (on the loop) --------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._guard])
        app.add_routes([web.get("/v1/snapshot", self._snapshot),
                        web.get("/v1/events", self._events),
                        web.post("/v1/live", self._live),
                        web.post("/v1/finished", self._finished),
                        web.post("/v1/stack", self._stack),
                        web.post("/v1/command", self._command),
                        web.get("/metrics", self._metrics)])
        runner = web.AppRunner(app, handle_signals=False, access_log=None,
                               shutdown_timeout=CLOSE_WAIT)
        await runner.setup()
        await web.SockSite(runner, self._sock).start()
        self._runner = runner

    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        """The token first; then any failure is a JSON error, never a crash."""
        given = request.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                 self._token):
            return self._fail(401, "Unauthorized", "a valid 'Authorization: Bearer <token>' "
                              "header is required (the token is in the monitor's token file)",
                              {"WWW-Authenticate": 'Bearer realm="task-supervisor"'})
        try:
            return await handler(request)
        except CommandError as exc:
            return self._fail(exc.status, exc.kind, str(exc))
        except web.HTTPException as exc:
            return self._fail(exc.status, exc.reason, exc.text or exc.reason)
        except (ValueError, TypeError, LookupError, RuntimeError) as exc:
            return self._fail(404 if isinstance(exc, LookupError) else 400,
                              type(exc).__name__, str(exc))

    def _answer(self, **values: Any) -> web.Response:
        return web.Response(body=dumps({"wire": WIRE_VERSION, "instance": self.instance,
                                        "monotonic": self._clock(), **values}),
                            content_type="application/json")

    @staticmethod
    def _fail(status: int, kind: str, message: str,
              headers: dict | None = None) -> web.Response:
        return web.json_response({"error": {"type": kind, "message": message}},
                                 status=status, headers=headers)

    @staticmethod
    async def _body(request: web.Request) -> Any:
        try:
            return json.loads(await request.read())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(400, "BadJSON", f"the body is not JSON: {exc}") from None

    async def _snapshot(self, request: web.Request) -> web.Response:
        after = _query_number(request, "events_after", int, None, 0, None)
        limit = _query_number(request, "limit", int, 1000, 1, MAX_EVENTS)
        stats = encode_stats(self._sup.stats())
        if after is None:
            return self._answer(stats=stats)
        return self._answer(stats=stats, **encode_event_rows(*self._sup._event_rows(after, limit)))

    async def _events(self, request: web.Request) -> web.Response:
        after = _query_number(request, "after", int, 0, 0, None)
        limit = _query_number(request, "limit", int, 1000, 1, MAX_EVENTS)
        wait = _query_number(request, "wait", float, 0.0, 0.0, MAX_WAIT)
        # The ring's rows as they are: no TaskEvent object per event served.
        rows, oldest, last = self._sup._event_rows(after, limit)
        if not rows and wait > 0:
            end = self._loop.time() + wait
            while not rows and not self._closing.is_set():
                left = end - self._loop.time()
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(self._closing.wait(), min(POLL_STEP, left))
                except TimeoutError:
                    pass
                rows, oldest, last = self._sup._event_rows(after, limit)
        return self._answer(**encode_event_rows(rows, oldest, last))

    async def _ids(self, request: web.Request, allow_all: bool) -> list | None:
        body = await self._body(request)
        ids = body.get("ids") if isinstance(body, dict) else ()
        if ids is None and allow_all:
            return None
        if not isinstance(ids, list):
            raise CommandError(400, "TypeError", 'the body must be {"ids": [...]}' +
                               (' or {"ids": null}' if allow_all else ""))
        if len(ids) > MAX_IDS:
            raise CommandError(400, "ValueError", f"at most {MAX_IDS:,} ids, got {len(ids):,}")
        return ids

    async def _live(self, request: web.Request) -> web.Response:
        ids = await self._ids(request, allow_all=True)
        states = self._sup.live_tasks(None if ids is None else _hashable(ids))
        return self._answer(tasks=[encode_live(state) for state in states.values()])

    async def _finished(self, request: web.Request) -> web.Response:
        ids = await self._ids(request, allow_all=False)
        records = self._sup.finished_tasks(_hashable(ids or []))
        return self._answer(tasks=[encode_finished(record) for record in records.values()])

    async def _stack(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict) or "id" not in body:
            raise CommandError(400, "TypeError", 'the body must be {"id": TASK_ID}')
        (task_id,) = _hashable([body["id"]])
        return self._answer(stack=encode_stack(self._sup.task_stack(task_id)))

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self._registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _command(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if self.read_only:
            raise CommandError(403, "ReadOnly", "this monitor is read-only: it serves reads "
                               "and refuses every command")
        name, args = check_command(body)
        result = await self._run(name, args)
        return self._answer(result=result)

    async def _run(self, name: str, args: dict) -> Any:
        sup = self._sup
        loop = self._loop

        def in_thread(fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
            return loop.run_in_executor(None, lambda: fn(*a, **kw))

        if name in ("set_thread_pool", "set_mp_pool", "set_timeouts"):
            getattr(sup, name)(**args)
            return None
        if name == "cancel":
            return _each(_hashable(args["ids"]), lambda i: sup.cancel_task(i) and None)
        if name == "resubmit":
            return _each(_hashable(args["ids"]), lambda i: wire_id(sup.resubmit(i).id))
        if name == "create_aloop":
            sup.create_aloop(**args)
            return None
        if name == "start_aloop":
            sup.start_aloop(args["name"])
            return None
        if name == "set_default_aloop":
            sup.set_default_aloop(args["name"])
            return None
        if name == "stop_aloop":
            if sup.get_aloop(args["name"]) is None:
                raise LookupError(f"no aloop named {args['name']!r}")
            await in_thread(sup.stop_aloop, args["name"], wait=_bounded(args.get("wait")),
                            cancel_tasks=args.get("cancel_tasks", False))
            return None
        if name in ("start_worker", "stop_worker"):
            worker = sup.get_scheduler(args["name"])
            if worker is None:
                raise LookupError(f"no scheduler named {args['name']!r}")
            if name == "stop_worker":
                await in_thread(worker.stop, wait=_bounded(args.get("wait")))
                return None
            restart = getattr(worker, "restart", None)
            if restart is None:
                raise TypeError(f"scheduler {args['name']!r} is not a worker: it cannot be "
                                f"started here")
            await in_thread(restart, wait=COMMAND_WAIT)
            return None
        assert name == "stop"
        options = {"wait": args.get("wait", True), "cancel_tasks": args.get("cancel_tasks", False),
                   "stop_schedulers": args.get("stop_schedulers", True)}
        check_wait(options["wait"])
        check_flag("cancel_tasks", options["cancel_tasks"])
        check_flag("stop_schedulers", options["stop_schedulers"])
        # Answered before it runs (the stop closes this monitor); the task is
        # kept here, or the loop would hold it only weakly.
        self._stop_task = loop.create_task(sup.astop(**options))
        return "stopping"

    # -- closing (any thread) ----------------------------------------------------------
    def close(self) -> None:
        """Stop serving: the socket and the files made for it go at once;
        open connections end within ``CLOSE_WAIT`` (not waited for on the
        loop's own thread). Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._remove_files()
        loop = self._loop
        if loop.is_closed():
            self._sock.close()
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        if running_on(loop):
            return
        try:
            future.result(CLOSE_WAIT + 0.5)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            log.warning("monitor %s: its connections did not close in time", self.address)
        except Exception:  # noqa: BLE001 - closing must not fail the stop
            log.exception("monitor %s: error while closing", self.address)
        finally:
            self._sock.close()

    async def _shutdown(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
        self._sock.close()

    def _remove_files(self) -> None:
        for path in self._own_paths:
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    os.rmdir(path)
                else:
                    os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("monitor %s: could not remove %s: %s", self.address, path, exc)


def _bounded(wait: Any) -> Any:
    """A remote command never waits without end: ``True`` becomes ``COMMAND_WAIT``."""
    if wait is None or wait is True:
        return COMMAND_WAIT
    return wait


def _hashable(ids: list) -> list:
    """JSON ids as task ids: lists (unhashable) are refused naming them."""
    for task_id in ids:
        if isinstance(task_id, (list, dict)):
            raise CommandError(400, "TypeError", f"a task id must be a string or a number, "
                               f"got {task_id!r}")
    return ids


def _query_number(request: web.Request, name: str, kind: type, default: Any,
                  low: float, high: float | None) -> Any:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise CommandError(400, "ValueError", f"{name} must be a number, got {text!r}") from None
    if value != value or value < low or (high is not None and value > high):  # NaN too
        bounds = f"{low}-{high}" if high is not None else f"at least {low}"
        raise CommandError(400, "ValueError", f"{name} must be {bounds}, got {text!r}")
    return value


# -- serve -----------------------------------------------------------------------------
def serve(supervisor: Any, loop: asyncio.AbstractEventLoop, address: str | None,
          read_only: bool, token_file: str | None, clock: MonotonicClock) -> Monitor:
    """Bind ``address`` and serve it on ``loop`` (the supervisor's). Every
    check, and the bind, happen before anything is served; on any failure
    nothing is left behind (socket, files)."""
    kind, where = parse_address(address)
    if token_file is not None:
        if not isinstance(token_file, (str, os.PathLike)):
            raise TypeError(f"token_file must be a path, got {token_file!r}")
        token_file = os.path.abspath(os.fspath(token_file))
        if not os.path.isdir(os.path.dirname(token_file)):
            raise MonitorError(f"token_file {token_file!r}: its directory does not exist")
    own: list[str] = []  # what it made, in the order to remove it
    sock: socket.socket | None = None
    private = None
    try:
        if where is None or (kind == "tcp" and token_file is None):
            private = tempfile.mkdtemp(prefix="task-supervisor-monitor-")  # mode 0700
        if kind == "unix":
            path = where or os.path.join(private, "monitor.sock")  # type: ignore[arg-type]
            sock = _bind_unix(path)
            own.append(path)
            shown = f"unix:{path}"
            token_file = token_file or path + TOKEN_SUFFIX  # beside it, as private
        else:
            sock = _bind_tcp(*where)
            host, port = sock.getsockname()[:2]
            shown = f"tcp:{'[' + host + ']' if ':' in host else host}:{port}"
        sock.listen(128)
        sock.setblocking(False)
        token = secrets.token_urlsafe(32)
        token_file = token_file or os.path.join(private, "token")  # type: ignore[arg-type]
        _write_token(token_file, token)
        own.append(token_file)
        if private is not None:
            own.append(private)  # last: removed once empty
        monitor = Monitor(supervisor, loop, sock, shown, token, token_file, read_only, own,
                          clock)
        future = asyncio.run_coroutine_threadsafe(monitor.start(), loop)
        if not running_on(loop):
            future.result(SETUP_WAIT)
        return monitor
    except BaseException:
        if sock is not None:
            sock.close()
        if private is not None and private not in own:
            own.append(private)
        for path in own:
            try:
                os.rmdir(path) if os.path.isdir(path) else os.unlink(path)
            except OSError:
                pass
        raise
