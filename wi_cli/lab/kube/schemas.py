"""OpenAPI schemas of the kinds the lab serves (field names as in Kubernetes 1.33).

One source for three uses: the /openapi/v3 documents kubectl reads, server-side field
validation (``fieldValidation=Strict|Warn|Ignore``), and strategic-merge-patch list keys
(``x-kubernetes-patch-merge-key`` / ``x-kubernetes-patch-strategy``). Sub-objects the lab never
inspects are left open (``x-kubernetes-preserve-unknown-fields``), so their fields are not checked.
"""

from __future__ import annotations

from typing import Any

from .resources import RESOURCES, ResourceType

Schema = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
ADMREG = "io.k8s.api.admissionregistration.v1."
DISC = "io.k8s.api.discovery.v1."
BATCH = "io.k8s.api.batch.v1."

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer", "format": "int32"}
INT64: Schema = {"type": "integer", "format": "int64"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
INT_OR_STR: Schema = {"x-kubernetes-int-or-string": True}
QUANTITY: Schema = {"x-kubernetes-int-or-string": True}
OPEN: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
MAP_STR: Schema = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nested(name: str) -> Schema:
    """A property holding another named schema, written as the real documents do."""
    return {"allOf": [ref(name)], "default": {}}


def obj(props: dict[str, Schema], required: list[str] | None = None,
        description: str = "") -> Schema:
    schema: Schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if description:
        schema["description"] = description
    return schema


def arr(items: Schema, merge_key: str | None = None, strategy: str | None = None,
        list_type: str | None = None, map_keys: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if list_type:
        schema["x-kubernetes-list-type"] = list_type
    if map_keys:
        schema["x-kubernetes-list-map-keys"] = map_keys
    if merge_key:
        schema["x-kubernetes-patch-merge-key"] = merge_key
    if strategy:
        schema["x-kubernetes-patch-strategy"] = strategy
    return schema


def arr_of(name: str, merge_key: str | None = None, strategy: str | None = None,
           list_type: str | None = None, map_keys: list[str] | None = None) -> Schema:
    return arr({**ref(name), "default": {}}, merge_key, strategy, list_type, map_keys)


STR_LIST: Schema = arr({"type": "string", "default": ""}, list_type="atomic")


def _kind_schema(rt: ResourceType, props: dict[str, Schema]) -> Schema:
    schema = obj({"apiVersion": STR, "kind": STR, "metadata": nested(META + "ObjectMeta"),
                  **props})
    schema["x-kubernetes-group-version-kind"] = [
        {"group": rt.group, "kind": rt.kind, "version": rt.version}]
    return schema


def _list_schema(rt: ResourceType, item: str) -> Schema:
    schema = obj({"apiVersion": STR, "kind": STR, "metadata": nested(META + "ListMeta"),
                  "items": arr_of(item)}, required=["items"])
    schema["x-kubernetes-group-version-kind"] = [
        {"group": rt.group, "kind": rt.kind + "List", "version": rt.version}]
    return schema


OBJECT_META = obj({
    "annotations": MAP_STR, "creationTimestamp": TIME, "deletionGracePeriodSeconds": INT64,
    "deletionTimestamp": TIME, "finalizers": arr({"type": "string", "default": ""},
                                                 strategy="merge", list_type="set"),
    "generateName": STR, "generation": INT64, "labels": MAP_STR,
    "managedFields": arr({**OPEN}, list_type="atomic"), "name": STR, "namespace": STR,
    "ownerReferences": arr_of(META + "OwnerReference", "uid", "merge", "map", ["uid"]),
    "resourceVersion": STR, "selfLink": STR, "uid": STR,
})

OWNER_REFERENCE = obj({"apiVersion": STR, "blockOwnerDeletion": BOOL, "controller": BOOL,
                       "kind": STR, "name": STR, "uid": STR},
                      required=["apiVersion", "kind", "name", "uid"])

LIST_META = obj({"continue": STR, "remainingItemCount": INT64, "resourceVersion": STR,
                 "selfLink": STR})

LABEL_SELECTOR = obj({"matchExpressions": arr(OPEN, list_type="atomic"),
                      "matchLabels": MAP_STR})

ENV_VAR = obj({"name": STR, "value": STR, "valueFrom": OPEN}, required=["name"])

VOLUME_MOUNT = obj({"mountPath": STR, "mountPropagation": STR, "name": STR, "readOnly": BOOL,
                    "recursiveReadOnly": STR, "subPath": STR, "subPathExpr": STR},
                   required=["name", "mountPath"])

CONTAINER_PORT = obj({"containerPort": INT, "hostIP": STR, "hostPort": INT, "name": STR,
                      "protocol": STR}, required=["containerPort"])

RESOURCE_REQUIREMENTS = obj({"claims": arr(OPEN), "limits": {"type": "object",
                                                 "additionalProperties": QUANTITY},
                 "requests": {"type": "object", "additionalProperties": QUANTITY}})

CONTAINER = obj({
    "args": STR_LIST, "command": STR_LIST,
    "env": arr_of(CORE + "EnvVar", "name", "merge", "map", ["name"]),
    "envFrom": arr(OPEN, list_type="atomic"), "image": STR, "imagePullPolicy": STR,
    "lifecycle": OPEN, "livenessProbe": OPEN, "name": STR,
    "ports": arr_of(CORE + "ContainerPort", "containerPort", "merge", "map",
                    ["containerPort", "protocol"]),
    "readinessProbe": OPEN, "resizePolicy": arr(OPEN, list_type="atomic"),
    "resources": nested(CORE + "ResourceRequirements"), "restartPolicy": STR,
    "securityContext": OPEN, "startupProbe": OPEN, "stdin": BOOL, "stdinOnce": BOOL,
    "terminationMessagePath": STR, "terminationMessagePolicy": STR, "tty": BOOL,
    "volumeDevices": arr(OPEN, "devicePath", "merge"),
    "volumeMounts": arr_of(CORE + "VolumeMount", "mountPath", "merge", "map", ["mountPath"]),
    "workingDir": STR,
}, required=["name"])

VOLUME = obj({
    "name": STR, **{k: OPEN for k in (
        "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "configMap", "csi",
        "downwardAPI", "emptyDir", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk",
        "gitRepo", "glusterfs", "hostPath", "image", "iscsi", "nfs", "persistentVolumeClaim",
        "photonPersistentDisk", "portworxVolume", "projected", "quobyte", "rbd", "scaleIO",
        "secret", "storageos", "vsphereVolume")},
}, required=["name"])

POD_SPEC = obj({
    "activeDeadlineSeconds": INT64, "affinity": OPEN, "automountServiceAccountToken": BOOL,
    "containers": arr_of(CORE + "Container", "name", "merge", "map", ["name"]),
    "dnsConfig": OPEN, "dnsPolicy": STR, "enableServiceLinks": BOOL,
    "ephemeralContainers": arr(OPEN, "name", "merge", "map", ["name"]),
    "hostAliases": arr(OPEN, "ip", "merge", "map", ["ip"]), "hostIPC": BOOL,
    "hostNetwork": BOOL, "hostPID": BOOL, "hostUsers": BOOL, "hostname": STR,
    "imagePullSecrets": arr(OPEN, "name", "merge", "map", ["name"]),
    "initContainers": arr_of(CORE + "Container", "name", "merge", "map", ["name"]),
    "nodeName": STR, "nodeSelector": MAP_STR, "os": OPEN, "overhead": OPEN,
    "preemptionPolicy": STR, "priority": INT, "priorityClassName": STR,
    "readinessGates": arr(OPEN, list_type="atomic"),
    "resourceClaims": arr(OPEN, "name", "merge,retainKeys", "map", ["name"]),
    "resources": nested(CORE + "ResourceRequirements"), "restartPolicy": STR,
    "runtimeClassName": STR, "schedulerName": STR,
    "schedulingGates": arr(OPEN, "name", "merge", "map", ["name"]), "securityContext": OPEN,
    "serviceAccount": STR, "serviceAccountName": STR, "setHostnameAsFQDN": BOOL,
    "shareProcessNamespace": BOOL, "subdomain": STR, "terminationGracePeriodSeconds": INT64,
    "tolerations": arr(OPEN, list_type="atomic"),
    "topologySpreadConstraints": arr(OPEN, "topologyKey", "merge", "map",
                                     ["topologyKey", "whenUnsatisfiable"]),
    "volumes": arr_of(CORE + "Volume", "name", "merge,retainKeys", "map", ["name"]),
}, required=["containers"])

POD_TEMPLATE_SPEC = obj({"metadata": nested(META + "ObjectMeta"),
                         "spec": nested(CORE + "PodSpec")})

SERVICE_PORT = obj({"appProtocol": STR, "name": STR, "nodePort": INT, "port": INT,
                    "protocol": STR, "targetPort": INT_OR_STR}, required=["port"])

SERVICE_SPEC = obj({
    "allocateLoadBalancerNodePorts": BOOL, "clusterIP": STR, "clusterIPs": STR_LIST,
    "externalIPs": STR_LIST, "externalName": STR, "externalTrafficPolicy": STR,
    "healthCheckNodePort": INT, "internalTrafficPolicy": STR, "ipFamilies": STR_LIST,
    "ipFamilyPolicy": STR, "loadBalancerClass": STR, "loadBalancerIP": STR,
    "loadBalancerSourceRanges": STR_LIST,
    "ports": arr_of(CORE + "ServicePort", "port", "merge", "map", ["port", "protocol"]),
    "publishNotReadyAddresses": BOOL, "selector": MAP_STR, "sessionAffinity": STR,
    "sessionAffinityConfig": OPEN, "trafficDistribution": STR, "type": STR,
})

DEPLOYMENT_SPEC = obj({
    "minReadySeconds": INT, "paused": BOOL, "progressDeadlineSeconds": INT, "replicas": INT,
    "revisionHistoryLimit": INT, "selector": nested(META + "LabelSelector"), "strategy": OPEN,
    "template": nested(CORE + "PodTemplateSpec"),
}, required=["selector", "template"])

REPLICASET_SPEC = obj({
    "minReadySeconds": INT, "replicas": INT, "selector": nested(META + "LabelSelector"),
    "template": nested(CORE + "PodTemplateSpec"),
}, required=["selector"])

STATEFULSET_SPEC = obj({
    "minReadySeconds": INT, "ordinals": OPEN, "persistentVolumeClaimRetentionPolicy": OPEN,
    "podManagementPolicy": STR, "replicas": INT, "revisionHistoryLimit": INT,
    "selector": nested(META + "LabelSelector"), "serviceName": STR,
    "template": nested(CORE + "PodTemplateSpec"), "updateStrategy": OPEN,
    "volumeClaimTemplates": arr(OPEN, list_type="atomic"),
}, required=["selector", "template"])

DAEMONSET_SPEC = obj({
    "minReadySeconds": INT, "revisionHistoryLimit": INT,
    "selector": nested(META + "LabelSelector"), "template": nested(CORE + "PodTemplateSpec"),
    "updateStrategy": OPEN,
}, required=["selector", "template"])

JOB_SPEC = obj({
    "activeDeadlineSeconds": INT64, "backoffLimit": INT, "backoffLimitPerIndex": INT,
    "completionMode": STR, "completions": INT, "managedBy": STR, "manualSelector": BOOL,
    "maxFailedIndexes": INT, "parallelism": INT, "podFailurePolicy": OPEN,
    "podReplacementPolicy": STR, "selector": nested(META + "LabelSelector"),
    "successPolicy": OPEN, "suspend": BOOL, "template": nested(CORE + "PodTemplateSpec"),
    "ttlSecondsAfterFinished": INT,
}, required=["template"])

JOB_TEMPLATE_SPEC = obj({"metadata": nested(META + "ObjectMeta"),
                         "spec": nested(BATCH + "JobSpec")})

CRONJOB_SPEC = obj({
    "concurrencyPolicy": STR, "failedJobsHistoryLimit": INT,
    "jobTemplate": nested(BATCH + "JobTemplateSpec"), "schedule": STR,
    "startingDeadlineSeconds": INT64, "successfulJobsHistoryLimit": INT, "suspend": BOOL,
    "timeZone": STR,
}, required=["schedule", "jobTemplate"])

WEBHOOK_CLIENT_CONFIG = obj({"caBundle": {"type": "string", "format": "byte"},
                             "service": obj({"name": STR, "namespace": STR, "path": STR,
                                             "port": INT}, required=["namespace", "name"]),
                             "url": STR})

MUTATING_WEBHOOK = obj({
    "admissionReviewVersions": STR_LIST, "clientConfig": nested(ADMREG + "WebhookClientConfig"),
    "failurePolicy": STR, "matchConditions": arr(OPEN, "name", "merge", "map", ["name"]),
    "matchPolicy": STR, "name": STR, "namespaceSelector": nested(META + "LabelSelector"),
    "objectSelector": nested(META + "LabelSelector"), "reinvocationPolicy": STR,
    "rules": arr(obj({"apiGroups": STR_LIST, "apiVersions": STR_LIST, "operations": STR_LIST,
                      "resources": STR_LIST, "scope": STR}), list_type="atomic"),
    "sideEffects": STR, "timeoutSeconds": INT,
}, required=["name", "clientConfig", "sideEffects", "admissionReviewVersions"])

EVENT_PROPS: dict[str, Schema] = {
    "action": STR, "count": INT, "eventTime": {"type": "string", "format": "date-time"},
    "firstTimestamp": TIME, "involvedObject": nested(CORE + "ObjectReference"),
    "lastTimestamp": TIME, "message": STR, "reason": STR, "related": OPEN,
    "reportingComponent": STR, "reportingInstance": STR, "series": OPEN, "source": OPEN,
    "type": STR,
}

OBJECT_REFERENCE = obj({"apiVersion": STR, "fieldPath": STR, "kind": STR, "name": STR,
                        "namespace": STR, "resourceVersion": STR, "uid": STR})

RBAC = "io.k8s.api.rbac.v1."
POLICY_RULE = obj({"apiGroups": STR_LIST, "nonResourceURLs": STR_LIST, "resourceNames": STR_LIST,
                   "resources": STR_LIST, "verbs": STR_LIST}, required=["verbs"])
ROLE_REF = obj({"apiGroup": STR, "kind": STR, "name": STR}, required=["apiGroup", "kind", "name"])
SUBJECT = obj({"apiGroup": STR, "kind": STR, "name": STR, "namespace": STR},
              required=["kind", "name"])
CRD_NAMES = obj({"categories": STR_LIST, "kind": STR, "listKind": STR, "plural": STR,
                 "shortNames": STR_LIST, "singular": STR}, required=["plural", "kind"])
# a version's schema is itself a JSON schema (JSONSchemaProps): left open
CRD_VERSION = obj({"additionalPrinterColumns": arr(OPEN, list_type="atomic"),
                   "deprecated": BOOL, "deprecationWarning": STR, "name": STR, "schema": OPEN,
                   "selectableFields": arr(OPEN, list_type="atomic"), "served": BOOL,
                   "storage": BOOL, "subresources": OPEN},
                  required=["name", "served", "storage"])

_KIND_PROPS: dict[str, tuple[str, dict[str, Schema]]] = {
    "namespaces": (CORE + "Namespace", {"spec": obj({"finalizers": STR_LIST}),
                                        "status": OPEN}),
    "nodes": (CORE + "Node", {"spec": OPEN, "status": OPEN}),
    "serviceaccounts": (CORE + "ServiceAccount", {
        "automountServiceAccountToken": BOOL,
        "imagePullSecrets": arr(OPEN, list_type="atomic"),
        "secrets": arr_of(CORE + "ObjectReference", "name", "merge")}),
    "pods": (CORE + "Pod", {"spec": nested(CORE + "PodSpec"), "status": OPEN}),
    "configmaps": (CORE + "ConfigMap", {
        "binaryData": {"type": "object", "additionalProperties": {"type": "string",
                                                                  "format": "byte"}},
        "data": MAP_STR, "immutable": BOOL}),
    "secrets": (CORE + "Secret", {
        "data": {"type": "object", "additionalProperties": {"type": "string",
                                                            "format": "byte"}},
        "immutable": BOOL, "stringData": MAP_STR, "type": STR}),
    "services": (CORE + "Service", {"spec": nested(CORE + "ServiceSpec"), "status": OPEN}),
    "endpoints": (CORE + "Endpoints", {"subsets": arr(OPEN, list_type="atomic")}),
    "events": (CORE + "Event", EVENT_PROPS),
    "endpointslices": (DISC + "EndpointSlice", {
        "addressType": STR, "endpoints": arr(OPEN, list_type="atomic"),
        "ports": arr(OPEN, list_type="atomic")}),
    "deployments": (APPS + "Deployment", {"spec": nested(APPS + "DeploymentSpec"),
                                          "status": OPEN}),
    "replicasets": (APPS + "ReplicaSet", {"spec": nested(APPS + "ReplicaSetSpec"),
                                          "status": OPEN}),
    "statefulsets": (APPS + "StatefulSet", {"spec": nested(APPS + "StatefulSetSpec"),
                                            "status": OPEN}),
    "daemonsets": (APPS + "DaemonSet", {"spec": nested(APPS + "DaemonSetSpec"),
                                        "status": OPEN}),
    "controllerrevisions": (APPS + "ControllerRevision", {"data": OPEN, "revision": INT64}),
    "jobs": (BATCH + "Job", {"spec": nested(BATCH + "JobSpec"), "status": OPEN}),
    "cronjobs": (BATCH + "CronJob", {"spec": nested(BATCH + "CronJobSpec"), "status": OPEN}),
    "roles": (RBAC + "Role", {"rules": arr(POLICY_RULE, list_type="atomic")}),
    "clusterroles": (RBAC + "ClusterRole", {"rules": arr(POLICY_RULE, list_type="atomic"),
                                            "aggregationRule": OPEN}),
    "rolebindings": (RBAC + "RoleBinding", {"roleRef": ROLE_REF,
                                            "subjects": arr(SUBJECT, list_type="atomic")}),
    "clusterrolebindings": (RBAC + "ClusterRoleBinding", {
        "roleRef": ROLE_REF, "subjects": arr(SUBJECT, list_type="atomic")}),
    "customresourcedefinitions": (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition", {
            "spec": obj({"conversion": OPEN, "group": STR, "names": CRD_NAMES,
                         "preserveUnknownFields": BOOL, "scope": STR,
                         "versions": arr(CRD_VERSION, list_type="atomic")},
                        required=["group", "names", "scope", "versions"]),
            "status": obj({"acceptedNames": CRD_NAMES, "conditions": arr(OPEN, list_type="map",
                                                                        map_keys=["type"]),
                           "storedVersions": STR_LIST})}),
    "mutatingwebhookconfigurations": (ADMREG + "MutatingWebhookConfiguration", {
        "webhooks": arr_of(ADMREG + "MutatingWebhook", "name", "merge", "map", ["name"])}),
    "selfsubjectaccessreviews": ("io.k8s.api.authorization.v1.SelfSubjectAccessReview", {
        "spec": obj({"nonResourceAttributes": obj({"path": STR, "verb": STR}),
                     "resourceAttributes": obj({
                         "fieldSelector": OPEN, "group": STR, "labelSelector": OPEN,
                         "name": STR, "namespace": STR, "resource": STR, "subresource": STR,
                         "verb": STR, "version": STR})}),
        "status": OPEN}),
    "selfsubjectreviews": ("io.k8s.api.authentication.v1.SelfSubjectReview", {"status": OPEN}),
}


def _build() -> tuple[dict[str, Schema], dict[str, str]]:
    schemas: dict[str, Schema] = {
        META + "ObjectMeta": OBJECT_META, META + "OwnerReference": OWNER_REFERENCE,
        META + "ListMeta": LIST_META, META + "LabelSelector": LABEL_SELECTOR,
        META + "Patch": {"type": "object", "description": "Patch is provided to give a "
                                                         "concrete name and type to the "
                                                         "Kubernetes PATCH request body."},
        META + "Status": obj({"apiVersion": STR, "code": INT, "details": OPEN, "kind": STR,
                              "message": STR, "metadata": nested(META + "ListMeta"),
                              "reason": STR, "status": STR}),
        META + "DeleteOptions": obj({"apiVersion": STR, "dryRun": STR_LIST,
                                     "gracePeriodSeconds": INT64, "kind": STR,
                                     "ignoreStoreReadErrorWithClusterBreakingPotential": BOOL,
                                     "orphanDependents": BOOL, "preconditions": OPEN,
                                     "propagationPolicy": STR}),
        CORE + "EnvVar": ENV_VAR, CORE + "VolumeMount": VOLUME_MOUNT,
        CORE + "ContainerPort": CONTAINER_PORT,
        CORE + "ResourceRequirements": RESOURCE_REQUIREMENTS,
        CORE + "Container": CONTAINER, CORE + "Volume": VOLUME, CORE + "PodSpec": POD_SPEC,
        CORE + "PodTemplateSpec": POD_TEMPLATE_SPEC, CORE + "ServicePort": SERVICE_PORT,
        CORE + "ServiceSpec": SERVICE_SPEC, CORE + "ObjectReference": OBJECT_REFERENCE,
        APPS + "DeploymentSpec": DEPLOYMENT_SPEC, APPS + "ReplicaSetSpec": REPLICASET_SPEC,
        APPS + "StatefulSetSpec": STATEFULSET_SPEC, APPS + "DaemonSetSpec": DAEMONSET_SPEC,
        BATCH + "JobSpec": JOB_SPEC, BATCH + "JobTemplateSpec": JOB_TEMPLATE_SPEC,
        BATCH + "CronJobSpec": CRONJOB_SPEC,
        ADMREG + "WebhookClientConfig": WEBHOOK_CLIENT_CONFIG,
        ADMREG + "MutatingWebhook": MUTATING_WEBHOOK,
    }
    names: dict[str, str] = {}
    for rt in RESOURCES:
        name, props = _KIND_PROPS[rt.plural]
        schemas[name] = _kind_schema(rt, props)
        schemas[name + "List"] = _list_schema(rt, name)
        names[rt.plural] = name
    return schemas, names


SCHEMAS, KIND_SCHEMA = _build()


def resolve(schema: Schema | None) -> Schema | None:
    """Follow ``$ref`` and single-element ``allOf`` to the named schema."""
    while schema is not None:
        if "$ref" in schema:
            schema = SCHEMAS.get(schema["$ref"].rsplit("/", 1)[-1])
        elif "allOf" in schema and len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
        else:
            return schema
    return None


def kind_schema(rt: ResourceType) -> Schema:
    own = getattr(rt, "schema", None)  # a CRD's type carries its published schema
    return own if own is not None else SCHEMAS[KIND_SCHEMA[rt.plural]]


def list_field(schema: Schema | None, key: str) -> Schema | None:
    """The schema of property ``key`` of an object schema (resolved), or None when open."""
    schema = resolve(schema)
    if schema is None:
        return None
    props = schema.get("properties")
    if props is not None:
        return props.get(key)
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None
