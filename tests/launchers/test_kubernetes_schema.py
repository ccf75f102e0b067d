"""The validators themselves: they refuse an unknown field and a wrong type, in core kinds and in a LeaderWorkerSet.

Without these, "every manifest is strictly valid" could pass because the check accepts anything.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
import yaml

from compiler.launchers.kubernetes import manifests as kube
from launchers.kubeschema import CRD, _strict, core_errors, errors, lws_errors, lws_schema
from launchers.support import llama_7b_tp2, llama_70b_tp8_pp2, one

Doc = dict[str, Any]


def _lws() -> Doc:
    return copy.deepcopy(one(kube.manifests(llama_70b_tp8_pp2()), "LeaderWorkerSet"))


def _deployment() -> Doc:
    return copy.deepcopy(one(kube.manifests(llama_7b_tp2()), "Deployment"))


def _service() -> Doc:
    return copy.deepcopy(one(kube.manifests(llama_7b_tp2()), "Service"))


def _group(doc: Doc) -> Doc:
    return doc["spec"]["leaderWorkerTemplate"]


def _edit(make: Callable[[], Doc], change: Callable[[Doc], None]) -> Doc:
    doc = make()
    change(doc)
    return doc


UNKNOWN_FIELDS = {
    "lws: leaderWorkerTemplate.sise": (
        _lws, lambda d: _group(d).update(sise=2), "'sise' was unexpected"),
    "lws: the vLLM example's networkConfig.leaderServicePort": (
        _lws, lambda d: d["spec"].update(networkConfig={"subdomainPolicy": "Shared", "leaderServicePort": []}),
        "'leaderServicePort' was unexpected"),
    "lws: a container field deep in the worker template": (
        _lws, lambda d: _group(d)["workerTemplate"]["spec"]["containers"][0].update(imagePullPolicyy="Always"),
        "'imagePullPolicyy' was unexpected"),
    "lws: the leader template's metadata": (
        _lws, lambda d: _group(d)["leaderTemplate"]["metadata"].update(lables={}), "'lables' was unexpected"),
    "lws: the object's own metadata (ObjectMeta)": (
        _lws, lambda d: d["metadata"].update(namespaec="llm"), "'namespaec' was unexpected"),
    "deployment: a probe field": (
        _deployment, lambda d: d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"].update(
            httpGett={}), "'httpGett' was unexpected"),
    "service: spec.selektor": (_service, lambda d: d["spec"].update(selektor={}), "'selektor' was unexpected"),
}

WRONG_TYPES = {
    "lws: size as text": (_lws, lambda d: _group(d).update(size="2"), "is not of type 'integer'"),
    "lws: replicas below zero": (_lws, lambda d: d["spec"].update(replicas=-1), "less than the minimum"),
    "lws: restartPolicy outside its enum": (
        _lws, lambda d: _group(d).update(restartPolicy="Always"), "is not one of"),
    "lws: a container's command as one string": (
        _lws, lambda d: _group(d)["leaderTemplate"]["spec"]["containers"][0].update(command="bash -c x"),
        "is not of type 'array'"),
    "deployment: replicas as text": (_deployment, lambda d: d["spec"].update(replicas="1"), "is not of type"),
    "service: port as text": (_service, lambda d: d["spec"]["ports"][0].update(port="80"), "is not of type"),
}


@pytest.mark.parametrize(("make", "change", "expected"), UNKNOWN_FIELDS.values(), ids=UNKNOWN_FIELDS.keys())
def test_an_unknown_field_is_refused(make: Callable[[], Doc], change: Callable[[Doc], None], expected: str) -> None:
    assert not errors(make())
    found = errors(_edit(make, change))
    assert any(expected in error for error in found), found


@pytest.mark.parametrize(("make", "change", "expected"), WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_a_wrong_type_is_refused(make: Callable[[], Doc], change: Callable[[Doc], None], expected: str) -> None:
    found = errors(_edit(make, change))
    assert any(expected in error for error in found), found


def test_the_core_check_refuses_on_every_kubernetes_version_it_tries() -> None:
    found = core_errors(_edit(_service, lambda d: d["spec"].update(selektor={})))
    assert len(found) == 2 and {error.split(":")[0] for error in found} == {"Kubernetes 1.27", "Kubernetes 1.37.0"}


def test_the_crd_schema_as_published_would_let_the_typo_through() -> None:
    """The strictness is ours to add: the openAPIV3Schema alone does not forbid unknown fields (the API
    server prunes them silently), which is why the test schema closes every object that has no
    additionalProperties and does not preserve unknown fields."""
    crd = yaml.load(CRD.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    published = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    typo = _edit(_lws, lambda d: _group(d).update(sise=2))
    assert not list(jsonschema.Draft202012Validator(published).iter_errors(typo))
    assert lws_errors(typo)


def test_the_vendored_crd_is_leader_worker_set_v1() -> None:
    crd = yaml.load(CRD.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert crd["spec"]["group"] == "leaderworkerset.x-k8s.io" and crd["spec"]["names"]["kind"] == "LeaderWorkerSet"
    assert [v["name"] for v in crd["spec"]["versions"]] == ["v1"]
    assert lws_schema()["properties"]["spec"]["additionalProperties"] is False


# ---------------------------------------------------------------- the structural-schema rules, one by one


def _validator(schema: Doc) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_strict(schema))


def test_preserve_unknown_fields_keeps_an_object_open() -> None:
    schema = {"type": "object", "properties": {"free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                                        "properties": {"known": {"type": "string"}}}}}
    assert _validator(schema).is_valid({"free": {"known": "x", "anything": 1}})
    assert not _validator(schema).is_valid({"free": {"known": 1}})
    assert not _validator(schema).is_valid({"free": {}, "other": 1})


def test_a_map_checks_its_values_but_takes_any_key() -> None:
    schema = {"type": "object", "properties": {"limits": {"type": "object", "additionalProperties": {
        "anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}}}}
    assert _validator(schema).is_valid({"limits": {"nvidia.com/gpu": 8, "memory": "1Gi"}})
    assert not _validator(schema).is_valid({"limits": {"memory": 1.5}})


def test_an_object_without_properties_keeps_nothing_unless_it_is_an_embedded_resource() -> None:
    closed = {"type": "object", "properties": {"x": {"type": "object"}}}
    assert _validator(closed).is_valid({"x": {}})
    assert not _validator(closed).is_valid({"x": {"a": 1}})
    embedded = {"type": "object", "properties": {"x": {"type": "object", "x-kubernetes-embedded-resource": True}}}
    assert _validator(embedded).is_valid({"x": {"apiVersion": "v1", "kind": "Pod", "metadata": {}}})
    assert not _validator(embedded).is_valid({"x": {"apiVersion": "v1", "spec": {}}})
