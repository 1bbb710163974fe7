"""The engine: apply manifests, read, write and watch objects, run controllers."""

from __future__ import annotations

import ctypes
import json
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

from . import controller as _controller
from . import worker as _worker
from ._handle import Handle, check, encode, take_string
from ._lib import lib
from .watch import Watch

__all__ = ["Engine", "ObjectList"]

Object = dict[str, Any]
Selector = Union[str, Mapping[str, str], None]


def _free(ptr: int) -> None:
    lib.steady_engine_free(ptr)


def _selector(selector: Selector) -> Optional[str]:
    if selector is None or isinstance(selector, str):
        return selector
    return ",".join(f"{k}={v}" for k, v in selector.items())


def _manifest(manifest: Union[str, Mapping[str, Any], Iterable[Mapping[str, Any]]]) -> str:
    if isinstance(manifest, str):
        return manifest
    if isinstance(manifest, Mapping):
        return json.dumps(manifest)
    # Several objects: one JSON document each (JSON is YAML), in one all-or-nothing apply.
    return "\n---\n".join(json.dumps(o) for o in manifest)


class ObjectList(list):
    """The objects of a list, with the revision it was read at: watch from
    ``resource_version`` to follow on without missing a change."""

    resource_version: str = ""



def _delete_options(
    propagation: Optional[str],
    preconditions: Optional[Mapping[str, str]],
    grace_period_seconds: Optional[int],
) -> dict[str, Any]:
    """The DeleteOptions JSON of a delete or an eviction: only what was given."""
    options: dict[str, Any] = {}
    if propagation is not None:
        options["propagationPolicy"] = propagation
    if preconditions is not None:
        options["preconditions"] = dict(preconditions)
    if grace_period_seconds is not None:
        options["gracePeriodSeconds"] = grace_period_seconds
    return options

class Engine(Handle):
    """A running steady engine.

    ``Engine()`` starts the embedded default; keyword arguments (or a ``config`` dict) set
    the engine's configuration: ``workers``, ``history_limit``, ``watch_capacity``,
    ``max_object_bytes``, ``shutdown_grace_ms``, ``kinds`` (custom kinds registered ahead,
    ``[{"apiVersion", "kind", "namespaced"}]``), ``api_server`` (serve the Kubernetes API
    for kubectl: ``{"bind": "127.0.0.1:6443", "tls": True, "token": ...}``, see
    :meth:`kubeconfig`), ``persist`` (keep the state across restarts in a data dir:
    ``{"dir": "/var/lib/app", "durability": "sync" | "interval:100ms"}``, see
    :meth:`recovery_report`; :class:`steady.StorageError` when another engine holds the dir).
    An unknown key raises :class:`steady.Invalid`. steady serves the built-in kinds, the ``kinds`` given here and
    those a CustomResourceDefinition applied to it defines; any other kind raises
    :class:`steady.Invalid` ("no matches for kind ...").

    Use it as a context manager or call :meth:`close`; afterwards every method raises
    :class:`steady.Closed`. An engine that has controllers registered lives until it is
    closed or the interpreter exits.

    **Kinds** are named by one string: ``"Pod"``, ``"Deployment"`` (a bare kind names a
    built-in kind) or ``"apiVersion/Kind"``: ``"example.com/v1/Widget"``,
    ``"apps/v1/Deployment"`` (any served kind). A custom kind is always named with its
    apiVersion.

    Every method may be called from any thread, including from reconcile and worker
    functions.
    """

    _what = "engine"

    def __init__(self, config: Optional[Mapping[str, Any]] = None, **settings: Any) -> None:
        merged = {**(config or {}), **settings}
        out = ctypes.c_void_p()
        check(
            lib.steady_engine_new(
                encode(json.dumps(merged)) if merged else None, ctypes.byref(out)
            )
        )
        super().__init__(out.value, _free)

    # -- objects ----------------------------------------------------------------------------

    def apply(
        self, manifest: Union[str, Mapping[str, Any], Iterable[Mapping[str, Any]]]
    ) -> dict[str, Any]:
        """Applies a manifest as ``kubectl apply`` does: YAML or JSON text (one or many
        documents), an object (dict), or a list of objects; all-or-nothing.

        Returns the report: ``{"objects": [{"kind", "namespace", "name", "action":
        "created" | "configured" | "unchanged", "resourceVersion"}], "warnings": [...]}``.
        Raises :class:`steady.Invalid` naming the document, line and field.
        """
        out = ctypes.c_void_p()
        check(lib.steady_engine_apply(self._ptr, encode(_manifest(manifest)), ctypes.byref(out)))
        return json.loads(take_string(out))

    def get(self, kind: str, name: str, namespace: str = "default") -> Object:
        """The object ``namespace/name`` of ``kind`` (the namespace is ignored for
        cluster-scoped kinds). Raises :class:`steady.NotFound`."""
        out = ctypes.c_void_p()
        check(
            lib.steady_engine_get(
                self._ptr, encode(kind), encode(namespace), encode(name), ctypes.byref(out)
            )
        )
        return json.loads(take_string(out))

    def list(
        self, kind: str, namespace: Optional[str] = None, selector: Selector = None
    ) -> ObjectList:
        """The objects of ``kind`` in ``namespace`` (None: all) whose labels match
        ``selector`` (``"app=web,tier!=db"``, ``"env in (a,b)"``, or a dict of equalities),
        sorted by namespace and name, read at one revision (``.resource_version``)."""
        out = ctypes.c_void_p()
        check(
            lib.steady_engine_list(
                self._ptr,
                encode(kind),
                encode(namespace),
                encode(_selector(selector)),
                ctypes.byref(out),
            )
        )
        raw = json.loads(take_string(out))
        items = ObjectList(raw["items"])
        items.resource_version = raw["metadata"]["resourceVersion"]
        return items

    def _write(self, fn: Callable[..., int], obj: Mapping[str, Any]) -> Object:
        out = ctypes.c_void_p()
        check(fn(self._ptr, encode(json.dumps(obj)), ctypes.byref(out)))
        return json.loads(take_string(out))

    def create(self, obj: Mapping[str, Any]) -> Object:
        """Creates ``obj`` (its kind from its ``apiVersion`` and ``kind``; a kind not seen
        before becomes a custom kind). Returns the stored object. Raises
        :class:`steady.AlreadyExists`, :class:`steady.Invalid`."""
        return self._write(lib.steady_engine_create, obj)

    def update(self, obj: Mapping[str, Any]) -> Object:
        """Replaces an object's spec and metadata (the status is kept). With
        ``metadata.resourceVersion`` set it is a compare-and-swap raising
        :class:`steady.Conflict` if the object changed since."""
        return self._write(lib.steady_engine_update, obj)

    def update_status(self, obj: Mapping[str, Any]) -> Object:
        """Replaces an object's status only (the status subresource)."""
        return self._write(lib.steady_engine_update_status, obj)

    def patch(
        self,
        kind: str,
        name: str,
        patch: Mapping[str, Any],
        namespace: str = "default",
        status: bool = False,
    ) -> Object:
        """Applies a JSON merge patch to the object's spec and metadata, or to its status
        with ``status=True`` (a ``None`` value removes a field). Returns the result."""
        out = ctypes.c_void_p()
        check(
            lib.steady_engine_patch(
                self._ptr,
                encode(kind),
                encode(namespace),
                encode(name),
                encode(json.dumps(patch)),
                bool(status),
                ctypes.byref(out),
            )
        )
        return json.loads(take_string(out))

    def delete(
        self,
        kind: str,
        name: str,
        namespace: str = "default",
        propagation: Optional[str] = None,
        preconditions: Optional[Mapping[str, str]] = None,
        grace_period_seconds: Optional[int] = None,
    ) -> Object:
        """Deletes an object; returns its last state. ``propagation``: ``"Background"``
        (default), ``"Foreground"`` or ``"Orphan"``; ``preconditions``: ``{"uid": ..,
        "resourceVersion": ..}`` (:class:`steady.Conflict` when they fail). An object with
        finalizers stays, marked with ``metadata.deletionTimestamp``, until they are
        removed."""
        options = _delete_options(propagation, preconditions, grace_period_seconds)
        out = ctypes.c_void_p()
        check(
            lib.steady_engine_delete(
                self._ptr,
                encode(kind),
                encode(namespace),
                encode(name),
                encode(json.dumps(options)) if options else None,
                ctypes.byref(out),
            )
        )
        return json.loads(take_string(out))

    def evict(
        self,
        name: str,
        namespace: str = "default",
        preconditions: Optional[Mapping[str, str]] = None,
        grace_period_seconds: Optional[int] = None,
    ) -> Object:
        """Evicts a pod, as Kubernetes' ``pods/eviction``: it is deleted only if its
        PodDisruptionBudget allows it (the budget is charged in the same write); returns
        the pod's last state. Raises :class:`steady.Unavailable` when a budget does not
        allow it now (Kubernetes' message, "Cannot evict pod as it would violate the pod's
        disruption budget.", and what the budget needs: try again later),
        :class:`steady.Denied` when more than one budget selects the pod,
        :class:`steady.NotFound` for a missing pod."""
        options = _delete_options(None, preconditions, grace_period_seconds)
        out = ctypes.c_void_p()
        check(
            lib.steady_engine_evict(
                self._ptr,
                encode(namespace),
                encode(name),
                encode(json.dumps(options)) if options else None,
                ctypes.byref(out),
            )
        )
        return json.loads(take_string(out))

    # -- node maintenance -------------------------------------------------------------------

    def cordon(self, node: str) -> None:
        """Marks ``node`` unschedulable (``kubectl cordon``): no new pod is placed there.
        :class:`steady.NotFound` for an unknown node."""
        check(lib.steady_engine_cordon(self._ptr, encode(node)))

    def uncordon(self, node: str) -> None:
        """Makes a cordoned ``node`` schedulable again (``kubectl uncordon``)."""
        check(lib.steady_engine_uncordon(self._ptr, encode(node)))

    def drain(
        self,
        node: str,
        timeout: Optional[float] = None,
        retry_interval: Optional[float] = None,
        grace_period_seconds: Optional[int] = None,
    ) -> dict[str, Any]:
        """Drains ``node`` (``kubectl drain``): cordons it, evicts every pod on it but
        DaemonSet pods through :meth:`evict` (PodDisruptionBudgets honoured: an eviction a
        budget refuses is retried every ``retry_interval`` seconds, default 5, and on every
        change, until ``timeout`` seconds, default 300), and waits for the evicted pods to
        be gone. Blocks until then; returns ``{"evicted": [{"namespace", "name"}],
        "skipped": [{"namespace", "name", "reason"}], "failed": [...]}``: what could not be
        evicted in time is in ``failed``, not raised."""
        options: dict[str, Any] = {}
        if timeout is not None:
            options["timeoutSeconds"] = timeout
        if retry_interval is not None:
            options["retryIntervalSeconds"] = retry_interval
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        out = ctypes.c_void_p()
        check(
            lib.steady_engine_drain(
                self._ptr,
                encode(node),
                encode(json.dumps(options)) if options else None,
                ctypes.byref(out),
            )
        )
        return json.loads(take_string(out))

    # -- watches and metrics ----------------------------------------------------------------

    def watch(
        self,
        kind: str,
        since: Union[str, int, None] = None,
        namespace: Optional[str] = None,
        selector: Selector = None,
        timeout: Optional[float] = None,
    ) -> Watch:
        """Watches ``kind``: an iterator of :class:`steady.WatchEvent`.

        ``since``: a resourceVersion (of a list or an object) to get every change after it,
        or None to start now with an ``ADDED`` event per current object. ``timeout``:
        iteration ends when no event arrives for that many seconds (None: it waits on).
        Raises :class:`steady.Expired` when the history is gone, and :class:`steady.Invalid`
        when ``since`` is beyond the engine's resourceVersion.
        """
        out = ctypes.c_void_p()
        check(
            lib.steady_watch_new(
                self._ptr,
                encode(kind),
                encode(namespace),
                encode(_selector(selector)),
                -1 if since is None else int(since),
                ctypes.byref(out),
            )
        )
        return Watch(out.value, timeout)

    def metrics(self) -> str:
        """The engine's metrics in the Prometheus text format."""
        out = ctypes.c_void_p()
        check(lib.steady_engine_metrics(self._ptr, ctypes.byref(out)))
        return take_string(out)

    def kubeconfig(self) -> str:
        """The kubeconfig (YAML: server URL, CA, token) of the Kubernetes API the engine
        serves when configured with ``api_server={"bind": "127.0.0.1:6443"}``; write it to a
        private file and point ``KUBECONFIG`` at it to use ``kubectl``. Raises
        :class:`steady.NotFound` when the engine does not serve the API."""
        out = ctypes.c_void_p()
        check(lib.steady_engine_kubeconfig(self._ptr, ctypes.byref(out)))
        return take_string(out)

    def recovery_report(self) -> dict[str, Any]:
        """What the engine found in its data dir when it started (configuration
        ``persist={"dir": ..., "durability": "sync"}``): ``{"fresh", "snapshotRevision",
        "recordsReplayed", "revision", "truncation", "lostData", "message", ...}``.
        ``truncation`` says where a torn or corrupt log was cut. Raises
        :class:`steady.NotFound` when the engine keeps no state across restarts."""
        out = ctypes.c_void_p()
        check(lib.steady_engine_recovery_report(self._ptr, ctypes.byref(out)))
        return json.loads(take_string(out))

    # -- transactions -----------------------------------------------------------------------

    def transaction(self, ops: Sequence[Mapping[str, Any]]) -> list[Optional[Object]]:
        """Commits several writes together under one revision, or none of them.

        Each operation is a dict, each object touched at most once:
        ``{"op": "create" | "update" | "updateStatus", "object": {...}}`` (an object
        carrying ``metadata.resourceVersion`` is compare-and-swapped);
        ``{"op": "delete", "kind", "namespace", "name", "options": {DeleteOptions}}``;
        ``{"op": "check", "kind", "namespace", "name", "resourceVersion": "17" | None}``
        (writes nothing; the object must be at that version, or with None not exist).
        ``namespace`` defaults to ``"default"``.

        Returns, per operation, the object written (for ``delete`` its last state, for
        ``check`` the object checked or None). Raises :class:`steady.Conflict` when a
        precondition failed (nothing was written: read again and retry),
        :class:`steady.Invalid` naming the bad operation as ``ops_json[i]``.
        """
        out = ctypes.c_void_p()
        check(
            lib.steady_engine_transaction(
                self._ptr, encode(json.dumps(list(ops))), ctypes.byref(out)
            )
        )
        return json.loads(take_string(out))

    # -- nodes, workers, logs, services -----------------------------------------------------

    def node_names(self) -> list[str]:
        """The names of the nodes this engine runs, sorted (the embedded default: one
        local node named after the host). The scheduler places pods without
        ``spec.nodeName`` on them; a pod that names one runs there."""
        out = ctypes.c_void_p()
        check(lib.steady_engine_node_names(self._ptr, ctypes.byref(out)))
        return json.loads(take_string(out))

    def register_worker(
        self,
        image: str,
        start: _worker.Start,
        stop: Optional[_worker.Stop] = None,
    ) -> None:
        """Registers (or replaces) the worker for ``image``: every container with that image
        runs ``start(ctx)`` in-process, on an engine thread of its own, with a
        :class:`steady.WorkerContext`::

            def game_server(ctx: steady.WorkerContext) -> None:
                ctx.ready()
                while not ctx.wait_stop(1.0):
                    ctx.heartbeat()

            engine.register_worker("game-server", game_server)

        ``start`` returns None or 0 for success, or an exit code; an exception is a failure
        with exit code 1 (logged on the ``steady`` logger and in the container's log); the
        pod's ``restartPolicy`` decides whether the container runs again. ``stop(ctx)``, if
        given, is called on an engine thread when a running instance must stop (pod deleted,
        engine closed), before ``ctx.stopping`` turns true; it should only signal ``start``
        and return. ``start`` must return once asked to stop: :meth:`close` waits for every
        instance. A later registration of the same image applies to containers started
        afterwards. Both functions are kept alive as long as the engine may call them.
        """
        _worker.register(self, image, start, stop)

    def report_pod_metric(
        self, pod: str, name: str, value: float, namespace: str = "default"
    ) -> None:
        """Reports the custom metric ``name`` of a pod (a plain number, e.g. requests per
        second), what HorizontalPodAutoscalers with a ``Pods`` metric of that name average.
        Replaces the previous value. Raises :class:`steady.Invalid` for a value that is not
        a finite number."""
        check(
            lib.steady_engine_report_pod_metric(
                self._ptr, encode(namespace), encode(pod), encode(name), float(value)
            )
        )

    def report_pod_usage(
        self, pod: str, resource: str, usage: str, namespace: str = "default"
    ) -> None:
        """Reports a pod's usage of ``resource`` as a Kubernetes quantity (``cpu``:
        ``"250m"``; ``memory``: ``"128Mi"``), read by ``Resource`` metrics of
        HorizontalPodAutoscalers in preference to what the node agent measures. Raises
        :class:`steady.Invalid` for a usage that is not a quantity."""
        check(
            lib.steady_engine_report_pod_usage(
                self._ptr, encode(namespace), encode(pod), encode(resource), encode(usage)
            )
        )

    def logs(
        self,
        pod: str,
        namespace: str = "default",
        container: Optional[str] = None,
        previous: bool = False,
    ) -> str:
        """The output of a container of a pod running on this engine (``kubectl logs``):
        what its worker logged, or its process wrote. ``container`` may be left out for a
        pod with one container; ``previous`` gives the instance before the last restart.
        Raises :class:`steady.NotFound` (no such pod running here),
        :class:`steady.Invalid` (no such container, or no previous instance)."""
        out = ctypes.c_void_p()
        check(
            lib.steady_engine_logs(
                self._ptr,
                encode(namespace),
                encode(pod),
                encode(container),
                bool(previous),
                ctypes.byref(out),
            )
        )
        return take_string(out)

    def resolve(
        self, service: str, namespace: str = "default", port: Optional[str] = None
    ) -> tuple[str, int]:
        """One ready endpoint of a Service, ``(ip, port)``, taking turns among its ready
        pods. ``port`` names one of the Service's ports (None: its first). Raises
        :class:`steady.NotFound` (no such Service), :class:`steady.Unavailable` (no ready
        endpoint now), :class:`steady.Invalid` (no port of that name)."""
        out = ctypes.c_void_p()
        check(
            lib.steady_engine_resolve(
                self._ptr, encode(namespace), encode(service), encode(port), ctypes.byref(out)
            )
        )
        host, _, number = take_string(out).rpartition(":")
        return host.strip("[]"), int(number)

    # -- controllers ------------------------------------------------------------------------

    def controller(
        self,
        kind: str,
        name: Optional[str] = None,
        owns: Iterable[str] = (),
        namespace: Optional[str] = None,
        selector: Selector = None,
        concurrency: int = 1,
    ) -> Callable[[_controller.Reconcile], _controller.Reconcile]:
        """Registers the decorated function as the reconciler of a controller for ``kind``
        and starts it (it first reconciles every existing object)::

            @engine.controller("example.com/v1/Widget", owns=["ConfigMap"])
            def widgets(req: steady.Request) -> float | None:
                widget = req.object()
                ...
                return None  # done; or a number of seconds to reconcile again

        The function runs on the engine's worker threads (never for the same object on two
        threads at once) and may call the engine. Raising retries it with exponential
        backoff (:class:`steady.TerminalError`: not until the object changes); the exception
        is logged on the ``steady`` logger. ``name`` defaults to the function's name; ``owns``
        also reconciles an object when an object of those kinds that it controls changes.
        """

        def register(fn: _controller.Reconcile) -> _controller.Reconcile:
            options: dict[str, Any] = {}
            if owns:
                options["owns"] = list(owns)
            if namespace is not None:
                options["namespace"] = namespace
            if selector is not None:
                options["selector"] = _selector(selector)
            if concurrency != 1:
                options["concurrency"] = concurrency
            _controller.register(self, name or fn.__name__, kind, fn, options)
            return fn

        return register
