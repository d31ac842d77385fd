"""Start moto in server mode with the few AWS behaviours moto 5.2.5 lacks.

- The AWS provider calls TagResource, UntagResource and ListTagsForResource on every
  ``aws_appautoscaling_target``; moto answers "not implemented", so apply would fail. This
  adds the three calls (tags kept per ARN in the backend).
- Deleting a Cloud Map DNS namespace deletes its hosted zone, as AWS does.
- Bucket policies: moto ignores conditions, so the TLS-only statement (deny when
  aws:SecureTransport is false) would refuse every request. Requests to the emulator stand in
  for HTTPS ones, as they would be on AWS, so that statement is left out of the evaluation.

Then it runs moto's own server entry point:

    python moto_launcher.py --host 127.0.0.1 --port 5000
"""

from __future__ import annotations

import argparse
import json
import os

# AWS-managed policies (AmazonRDSEnhancedMonitoringRole) must exist to be attached.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.applicationautoscaling import models as aas_models  # noqa: E402
from moto.applicationautoscaling import responses as aas_responses  # noqa: E402
from moto.route53 import route53_backends  # noqa: E402
from moto.s3 import models as s3_models  # noqa: E402
from moto.servicediscovery import models as sd_models  # noqa: E402
from moto.utilities.utils import get_partition  # noqa: E402


def _tags(backend: aas_models.ApplicationAutoscalingBackend) -> dict[str, dict[str, str]]:
    if not hasattr(backend, "_launcher_tags"):
        backend._launcher_tags = {}
    return backend._launcher_tags


def _known_arns(backend: aas_models.ApplicationAutoscalingBackend) -> set[str]:
    return {target.arn for by_id in backend.targets.values() for target in by_id.values()}


def tag_resource(self: aas_responses.ApplicationAutoScalingResponse) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    _tags(backend).setdefault(arn, {}).update(self._get_param("Tags") or {})
    return json.dumps({})


def untag_resource(self: aas_responses.ApplicationAutoScalingResponse) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    for key in self._get_param("TagKeys") or []:
        _tags(backend).get(arn, {}).pop(key, None)
    return json.dumps({})


def list_tags_for_resource(self: aas_responses.ApplicationAutoScalingResponse) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    # Forget tags of deregistered targets, as AWS does.
    for stale in set(_tags(backend)) - _known_arns(backend):
        del _tags(backend)[stale]
    return json.dumps({"Tags": _tags(backend).get(arn, {})})


def _denies_plain_http(statement: dict) -> bool:
    condition = statement.get("Condition", {}).get("Bool", {})
    return (
        statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")) == "false"
    )


class _NoPolicy:
    policy = None


def patch() -> None:
    """Add the missing calls to moto's Application Auto Scaling responses."""
    cls = aas_responses.ApplicationAutoScalingResponse
    cls.tag_resource = tag_resource
    cls.untag_resource = untag_resource
    cls.list_tags_for_resource = list_tags_for_resource

    # RegisterScalableTarget may carry Tags too (provider sends them on create).
    original_register = cls.register_scalable_target

    def register_scalable_target(self: aas_responses.ApplicationAutoScalingResponse) -> str:
        body = original_register(self)
        tags = self._get_param("Tags")
        if tags:
            arn = json.loads(body)["ScalableTargetARN"]
            _tags(self.applicationautoscaling_backend).setdefault(arn, {}).update(tags)
        return body

    cls.register_scalable_target = register_scalable_target

    # Cloud Map deletes a DNS namespace's hosted zone with it; moto 5.2.5 leaves it behind.
    original_delete_namespace = sd_models.ServiceDiscoveryBackend.delete_namespace

    def delete_namespace(self, namespace_id: str) -> str:  # type: ignore[no-untyped-def]
        namespace = self.namespaces.get(namespace_id)
        operation_id = original_delete_namespace(self, namespace_id)
        zone_id = ((namespace and namespace.dns_properties) or {}).get("HostedZoneId")
        if zone_id:
            route53 = route53_backends[self.account_id][get_partition(self.region_name)]
            route53.zones.pop(zone_id.replace("/hostedzone/", ""), None)
        return operation_id

    sd_models.ServiceDiscoveryBackend.delete_namespace = delete_namespace

    original_get_permission = s3_models.FakeBucket.get_permission

    def get_permission(self, action: str, resource: str):  # type: ignore[no-untyped-def]
        if self.policy is None:
            return original_get_permission(self, action, resource)
        policy = json.loads(self.policy)
        statements = policy.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        kept = [st for st in statements if not _denies_plain_http(st)]
        if len(kept) == len(statements):
            return original_get_permission(self, action, resource)
        if not kept:
            return original_get_permission(_NoPolicy(), action, resource)
        saved = self.policy
        self.policy = json.dumps({**policy, "Statement": kept}).encode()
        try:
            return original_get_permission(self, action, resource)
        finally:
            self.policy = saved

    s3_models.FakeBucket.get_permission = get_permission


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()

    patch()
    from moto.server import main as moto_main

    moto_main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    main()
