"""Server-side printing: ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` (kubectl get).

Columns follow the real API server's table convertors for these kinds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from ..http import Request
from .resources import ResourceType

Row = list[Any]
Column = tuple[str, str, int]  # name, type, priority (1 = only with -o wide)

_NAME: Column = ("Name", "string", 0)
_AGE: Column = ("Age", "string", 0)


def wants_table(req: Request) -> bool:
    accept = req.headers.get("accept", "")
    for part in accept.split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
                  for p in part.split(";")[1:] if "=" in p}
        if (params.get("as") == "Table" and params.get("g") == "meta.k8s.io"
                and params.get("v") in ("v1", "v1beta1")):
            return True
    return False


def human_duration(seconds: float) -> str:
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    when = dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return human_duration((dt.datetime.now(dt.timezone.utc) - when).total_seconds())


def _meta(o: dict[str, Any]) -> dict[str, Any]:
    return o.get("metadata") or {}


def _created(o: dict[str, Any]) -> str:
    return _age(_meta(o).get("creationTimestamp"))


# -- per-kind rows ------------------------------------------------------------------------------
def _pod_status(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
    if _meta(pod).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(pod: dict[str, Any]) -> Row:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    gates = spec.get("readinessGates") or []
    return [_meta(pod).get("name"), f"{ready}/{len(spec.get('containers') or [])}",
            _pod_status(pod), str(restarts), _created(pod), status.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            f"0/{len(gates)}" if gates else "<none>"]


def _node_row(node: dict[str, Any]) -> Row:
    status = node.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = _meta(node).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels
                   if k.startswith("node-role.kubernetes.io/") and "/" in k)
    roles += [labels["kubernetes.io/role"]] if labels.get("kubernetes.io/role") and not roles \
        else []
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    info = status.get("nodeInfo") or {}
    return [_meta(node).get("name"), state, ",".join(roles) or "<none>", _created(node),
            info.get("kubeletVersion", ""), addresses.get("InternalIP", "<none>"),
            addresses.get("ExternalIP", "<none>"), info.get("osImage", ""),
            info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


def _service_row(svc: dict[str, Any]) -> Row:
    spec = svc.get("spec") or {}
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}"
        f"/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or (
        "<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
    return [_meta(svc).get("name"), spec.get("type", "ClusterIP"),
            spec.get("clusterIP") or "<none>", external, ports, _created(svc),
            selector or "<none>"]


def _containers(tmpl_spec: dict[str, Any]) -> tuple[str, str]:
    cs = tmpl_spec.get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _selector_text(sel: dict[str, Any] | None) -> str:
    labels = (sel or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def _deployment_row(d: dict[str, Any]) -> Row:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [_meta(d).get("name"), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), _created(d),
            names, images, _selector_text(spec.get("selector"))]


def _replicaset_row(r: dict[str, Any]) -> Row:
    spec, status = r.get("spec") or {}, r.get("status") or {}
    names, images = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [_meta(r).get("name"), spec.get("replicas", 1), status.get("replicas", 0),
            status.get("readyReplicas", 0), _created(r), names, images,
            _selector_text(spec.get("selector"))]


def _statefulset_row(o: dict[str, Any]) -> Row:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [_meta(o).get("name"), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            _created(o), names, images]


def _daemonset_row(o: dict[str, Any]) -> Row:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    template_spec = ((spec.get("template") or {}).get("spec")) or {}
    names, images = _containers(template_spec)
    node_selector = ",".join(f"{k}={v}" for k, v in sorted(
        (template_spec.get("nodeSelector") or {}).items())) or "<none>"
    return [_meta(o).get("name"), status.get("desiredNumberScheduled", 0),
            status.get("currentNumberScheduled", 0), status.get("numberReady", 0),
            status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            node_selector, _created(o), names, images, _selector_text(spec.get("selector"))]


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start:
        return None
    begin = dt.datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    finish = (dt.datetime.strptime(end, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
              if end else dt.datetime.now(dt.timezone.utc))
    return (finish - begin).total_seconds()


def _job_status(o: dict[str, Any]) -> str:
    conditions = {c.get("type"): c.get("status") for c in
                  (o.get("status") or {}).get("conditions") or []}
    for kind in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended"):
        if conditions.get(kind) == "True":
            return kind
    return "Terminating" if _meta(o).get("deletionTimestamp") else "Running"


def _job_row(o: dict[str, Any]) -> Row:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(((spec.get("template") or {}).get("spec")) or {})
    succeeded = status.get("succeeded", 0)
    completions = (f"{succeeded}/{spec['completions']}" if spec.get("completions") is not None
                   else f"{succeeded}/1 of {spec.get('parallelism', 1)}")
    seconds = _seconds_between(status.get("startTime"), status.get("completionTime"))
    return [_meta(o).get("name"), _job_status(o), completions,
            "" if seconds is None else human_duration(seconds), _created(o), names, images,
            _selector_text(spec.get("selector"))]


def _cronjob_row(o: dict[str, Any]) -> Row:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    job_spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    names, images = _containers(((job_spec.get("template") or {}).get("spec")) or {})
    last = status.get("lastScheduleTime")
    return [_meta(o).get("name"), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "True" if spec.get("suspend") else "False", len(status.get("active") or []),
            _age(last) if last else "<none>", _created(o), names, images,
            _selector_text(job_spec.get("selector"))]


def _revision_row(o: dict[str, Any]) -> Row:
    owner = next((r for r in _meta(o).get("ownerReferences") or [] if r.get("controller")), None)
    controller = "<none>"
    if owner:
        group = owner.get("apiVersion", "").rpartition("/")[0]
        controller = (f"{owner.get('kind', '').lower()}{'.' + group if group else ''}/"
                      f"{owner.get('name', '')}")
    return [_meta(o).get("name"), controller, o.get("revision", 0), _created(o)]


def _event_row(e: dict[str, Any]) -> Row:
    inv = e.get("involvedObject") or {}
    last = e.get("lastTimestamp") or e.get("eventTime") or _meta(e).get("creationTimestamp")
    first = e.get("firstTimestamp") or e.get("eventTime")
    source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
    return [_age(last[:19] + "Z" if last else None), e.get("type", ""), e.get("reason", ""),
            f"{(inv.get('kind') or '').lower()}/{inv.get('name', '')}",
            inv.get("fieldPath", ""), source, e.get("message", ""),
            _age(first[:19] + "Z" if first else None), e.get("count", 1),
            _meta(e).get("name")]


def _endpoints_row(e: dict[str, Any]) -> Row:
    addrs = [f"{a.get('ip')}:{p.get('port')}" for s in e.get("subsets") or []
             for a in s.get("addresses") or [] for p in s.get("ports") or [{}]]
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [_meta(e).get("name"), text or "<none>", _created(e)]


def _slice_row(s: dict[str, Any]) -> Row:
    ports = ",".join(str(p.get("port")) for p in s.get("ports") or []) or "<unset>"
    addrs = [a for ep in s.get("endpoints") or [] for a in ep.get("addresses") or []]
    return [_meta(s).get("name"), s.get("addressType", ""), ports,
            ",".join(addrs[:3]) or "<unset>", _created(s)]


_TABLES: dict[str, tuple[list[Column], Callable[[dict[str, Any]], Row]]] = {
    "pods": ([_NAME, ("Ready", "string", 0), ("Status", "string", 0),
              ("Restarts", "string", 0), _AGE, ("IP", "string", 1), ("Node", "string", 1),
              ("Nominated Node", "string", 1), ("Readiness Gates", "string", 1)], _pod_row),
    "serviceaccounts": ([_NAME, ("Secrets", "integer", 0), _AGE],
                        lambda o: [_meta(o).get("name"), len(o.get("secrets") or []),
                                   _created(o)]),
    "namespaces": ([_NAME, ("Status", "string", 0), _AGE],
                   lambda o: [_meta(o).get("name"), (o.get("status") or {}).get("phase", ""),
                              _created(o)]),
    "nodes": ([_NAME, ("Status", "string", 0), ("Roles", "string", 0), _AGE,
               ("Version", "string", 0), ("Internal-IP", "string", 1),
               ("External-IP", "string", 1), ("OS-Image", "string", 1),
               ("Kernel-Version", "string", 1), ("Container-Runtime", "string", 1)], _node_row),
    "configmaps": ([_NAME, ("Data", "integer", 0), _AGE],
                   lambda o: [_meta(o).get("name"),
                              len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                              _created(o)]),
    "secrets": ([_NAME, ("Type", "string", 0), ("Data", "string", 0), _AGE],
                lambda o: [_meta(o).get("name"), o.get("type", ""), str(len(o.get("data") or {})),
                           _created(o)]),
    "services": ([_NAME, ("Type", "string", 0), ("Cluster-IP", "string", 0),
                  ("External-IP", "string", 0), ("Port(s)", "string", 0), _AGE,
                  ("Selector", "string", 1)], _service_row),
    "endpoints": ([_NAME, ("Endpoints", "string", 0), _AGE], _endpoints_row),
    "endpointslices": ([_NAME, ("AddressType", "string", 0), ("Ports", "string", 0),
                        ("Endpoints", "string", 0), _AGE], _slice_row),
    "deployments": ([_NAME, ("Ready", "string", 0), ("Up-to-date", "string", 0),
                     ("Available", "string", 0), _AGE, ("Containers", "string", 1),
                     ("Images", "string", 1), ("Selector", "string", 1)], _deployment_row),
    "replicasets": ([_NAME, ("Desired", "integer", 0), ("Current", "integer", 0),
                     ("Ready", "integer", 0), _AGE, ("Containers", "string", 1),
                     ("Images", "string", 1), ("Selector", "string", 1)], _replicaset_row),
    "statefulsets": ([_NAME, ("Ready", "string", 0), _AGE, ("Containers", "string", 1),
                      ("Images", "string", 1)], _statefulset_row),
    "daemonsets": ([_NAME, ("Desired", "integer", 0), ("Current", "integer", 0),
                    ("Ready", "integer", 0), ("Up-to-date", "integer", 0),
                    ("Available", "integer", 0), ("Node Selector", "string", 0), _AGE,
                    ("Containers", "string", 1), ("Images", "string", 1),
                    ("Selector", "string", 1)], _daemonset_row),
    "controllerrevisions": ([_NAME, ("Controller", "string", 0), ("Revision", "integer", 0),
                             _AGE], _revision_row),
    "jobs": ([_NAME, ("Status", "string", 0), ("Completions", "string", 0),
              ("Duration", "string", 0), _AGE, ("Containers", "string", 1),
              ("Images", "string", 1), ("Selector", "string", 1)], _job_row),
    "cronjobs": ([_NAME, ("Schedule", "string", 0), ("Timezone", "string", 0),
                  ("Suspend", "boolean", 0), ("Active", "integer", 0),
                  ("Last Schedule", "string", 0), _AGE, ("Containers", "string", 1),
                  ("Images", "string", 1), ("Selector", "string", 1)], _cronjob_row),
    "events": ([("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
                ("Object", "string", 0), ("Subobject", "string", 1), ("Source", "string", 1),
                ("Message", "string", 0), ("First Seen", "string", 1), ("Count", "string", 1),
                ("Name", "string", 1)], _event_row),
    "mutatingwebhookconfigurations": ([_NAME, ("Webhooks", "integer", 0), _AGE],
                                      lambda o: [_meta(o).get("name"),
                                                 len(o.get("webhooks") or []), _created(o)]),
}


def _json_path(obj: dict[str, Any], path: str, typ: str) -> Any:
    """A printer column's simple JSONPath (``.spec.field``); dates print as ages."""
    value: Any = obj
    for part in path.strip().lstrip(".").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if typ == "date" and isinstance(value, str):
        return _age(value)
    return "" if value is None else value


def _column_def(col: Column) -> dict[str, Any]:
    name, typ, priority = col
    d: dict[str, Any] = {"name": name, "type": typ, "format": "name" if name == "Name" else "",
                         "description": "", "priority": priority}
    return d


def _row_object(obj: dict[str, Any], rt: ResourceType, include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        full = dict(obj)
        full.setdefault("kind", rt.kind)
        full.setdefault("apiVersion", rt.api_version)
        return full
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {}}


def table(rt: ResourceType, items: list[dict[str, Any]], rv: str, include: str | None,
          headers: bool = True) -> dict[str, Any]:
    columns, row_fn = _TABLES.get(
        rt.plural, ([_NAME, ("Created At", "date", 0)],
                    lambda o: [_meta(o).get("name"), _meta(o).get("creationTimestamp")]))
    printer = getattr(rt, "columns", None)  # a CRD's additionalPrinterColumns
    if printer:
        columns = [_NAME] + [(name, typ, prio) for name, typ, _, prio in printer]
        row_fn = lambda o: [_meta(o).get("name")] + [  # noqa: E731
            _json_path(o, path, typ) for _, typ, path, _ in printer]
    rows = []
    for item in items:
        row: dict[str, Any] = {"cells": row_fn(item)}
        row_obj = _row_object(item, rt, include or "Metadata")
        if row_obj is not None:
            row["object"] = row_obj
        rows.append(row)
    body: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                            "metadata": {"resourceVersion": rv}}
    if headers:
        body["columnDefinitions"] = [_column_def(c) for c in columns]
    body["rows"] = rows
    return body
