"""Strict validation of Kubernetes manifests against the real schemas, offline.

Core kinds (Deployment, Service, ConfigMap, Job, ServiceAccount, Role, RoleBinding) go through
kubernetes-validate's strict schemas (no unknown fields), for the oldest Kubernetes that
LeaderWorkerSet runs on without a feature gate (1.27: lws site/content/en/docs/installation/_index.md
@ 060ab4da) and the newest that kubernetes-validate bundles.

A LeaderWorkerSet goes through the openAPIV3Schema of its CRD (lws/, vendored with its provenance),
made strict the way the API server treats a structural schema: an object node with `properties`
and neither `additionalProperties` nor `x-kubernetes-preserve-unknown-fields: true` keeps no other
field (pruned on create, refused by `kubectl apply --validate=strict`), so here any other field is an
error; an object node without properties keeps none, except an embedded resource's apiVersion, kind
and metadata. The root's `metadata` is the API server's ObjectMeta, taken from kubernetes-validate's
strict definitions. Int-or-string nodes carry their own anyOf. The CRD has no CEL rules
(x-kubernetes-validations) and list-map key uniqueness is not checked: both are the API server's.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from referencing import Registry, Resource

CRD = Path(__file__).parent / "lws" / "leaderworkerset.x-k8s.io_leaderworkersets.yaml"
CORE_VERSIONS = ("1.27", kubernetes_validate.utils.latest_version())
LWS_KIND = ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet")
DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
OBJECT_META = {"$ref": DEFINITIONS_ID + "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
EMBEDDED_FIELDS = ("apiVersion", "kind", "metadata")


class ManifestInvalid(AssertionError):
    """A manifest the API server would refuse (or silently prune)."""


def _strict(node: Any) -> Any:
    """A copy of an openAPIV3Schema in which unknown fields are errors, as described above."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items()}
    open_ended = out.get("x-kubernetes-preserve-unknown-fields") is True or "additionalProperties" in out
    if out.get("type") == "object" and not open_ended:
        if out.get("x-kubernetes-embedded-resource") is True:
            out.setdefault("properties", {})
            for name in EMBEDDED_FIELDS:
                out["properties"].setdefault(name, {})
        out["additionalProperties"] = False
    return out


@functools.cache
def _definitions() -> dict[str, Any]:
    version = kubernetes_validate.utils.latest_version()
    folder = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{version}-local-strict"
    with open(folder / "_definitions.json", encoding="utf-8") as handle:
        return json.load(handle)


@functools.cache
def lws_schema() -> dict[str, Any]:
    """The strict schema of LeaderWorkerSet v1, from the vendored CRD."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(CRD, encoding="utf-8") as handle:
        crd = yaml.load(handle, Loader=loader)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    schema["properties"]["metadata"] = OBJECT_META
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
    return schema


@functools.cache
def _lws_validator() -> jsonschema.Draft202012Validator:
    registry: Registry = Resource.from_contents(_definitions()) @ Registry()
    return jsonschema.Draft202012Validator(lws_schema(), registry=registry)


def lws_errors(doc: Mapping[str, Any]) -> list[str]:
    """Every way a LeaderWorkerSet breaks its CRD's strict schema, as 'path: message'."""
    found = sorted(_lws_validator().iter_errors(dict(doc)), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


def core_errors(doc: Mapping[str, Any]) -> list[str]:
    """kubernetes-validate's strict verdict on a core kind, for each Kubernetes version tried."""
    errors = []
    for version in CORE_VERSIONS:
        try:
            kubernetes_validate.validate(dict(doc), version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(map(str, exc.absolute_path)) or "(root)"
            errors.append(f"Kubernetes {version}: {path}: {exc.message}")
    return errors


def errors(doc: Mapping[str, Any]) -> list[str]:
    if (doc.get("apiVersion"), doc.get("kind")) == LWS_KIND:
        return lws_errors(doc)
    return core_errors(doc)


def assert_valid(docs: Iterator[Mapping[str, Any]] | list[Mapping[str, Any]]) -> None:
    """Every manifest is strictly valid, or the errors of all of them are raised at once."""
    found = [f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}: {error}"
             for doc in docs for error in errors(doc)]
    if found:
        raise ManifestInvalid("\n".join(found))
