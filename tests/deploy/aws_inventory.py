"""List what the configuration creates, as seen through the AWS APIs (boto3), so a test can
compare the account before apply, after apply, and after destroy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3


def _clients(endpoint: str, region: str) -> Callable[[str], Any]:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - emulator credentials
        )

    return client


def inventory(endpoint: str, region: str) -> dict[str, set[str]]:
    """Return {kind: set of identifiers} for every kind of resource the stack creates.

    Defaults that exist in any account (default VPC and its parts, AWS-managed policies)
    are left out, so an empty account lists nothing.
    """
    c = _clients(endpoint, region)
    ec2, elbv2, ecs, rds = c("ec2"), c("elbv2"), c("ecs"), c("rds")
    iam, logs, aas, sd = c("iam"), c("logs"), c("application-autoscaling"), c("servicediscovery")

    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    vpc_ids = [v["VpcId"] for v in vpcs]
    in_vpcs = [{"Name": "vpc-id", "Values": vpc_ids}] if vpc_ids else None

    def in_our_vpcs(call: Callable[..., dict], key: str, ident: str) -> set[str]:
        if not in_vpcs:
            return set()
        return {item[ident] for item in call(Filters=in_vpcs)[key]}

    clusters = ecs.list_clusters()["clusterArns"]
    services: set[str] = set()
    for cluster in clusters:
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        if arns:
            described = ecs.describe_services(cluster=cluster, services=arns)["services"]
            # moto keeps deleted services listed as INACTIVE; AWS forgets them.
            services |= {s["serviceArn"] for s in described if s["status"] != "INACTIVE"}

    found: dict[str, set[str]] = {
        "vpc": set(vpc_ids),
        "subnet": in_our_vpcs(ec2.describe_subnets, "Subnets", "SubnetId"),
        "security_group": {
            sg["GroupId"]
            for sg in (
                ec2.describe_security_groups(Filters=in_vpcs)["SecurityGroups"] if in_vpcs else []
            )
            if sg["GroupName"] != "default"
        },
        "route_table": {
            rt["RouteTableId"]
            for rt in (ec2.describe_route_tables(Filters=in_vpcs)["RouteTables"] if in_vpcs else [])
            if not any(a.get("Main") for a in rt.get("Associations", []))
        },
        "internet_gateway": {
            igw["InternetGatewayId"]
            for igw in ec2.describe_internet_gateways()["InternetGateways"]
            if any(a["VpcId"] in vpc_ids for a in igw.get("Attachments", []))
            or not igw.get("Attachments")
        },
        "nat_gateway": {
            n["NatGatewayId"]
            for n in ec2.describe_nat_gateways()["NatGateways"]
            if n["State"] not in ("deleted", "deleting")
        },
        "elastic_ip": {a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]},
        "vpc_endpoint": {
            e["VpcEndpointId"]
            for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
            if e["State"].lower() not in ("deleted", "deleting")
        },
        "flow_log": {f["FlowLogId"] for f in ec2.describe_flow_logs()["FlowLogs"]},
        "load_balancer": {
            lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]
        },
        "target_group": {
            tg["TargetGroupArn"] for tg in elbv2.describe_target_groups()["TargetGroups"]
        },
        "ecs_cluster": {
            cl["clusterArn"]
            for cl in (ecs.describe_clusters(clusters=clusters)["clusters"] if clusters else [])
            if cl["status"] == "ACTIVE"
        },
        "ecs_service": services,
        "ecs_task_definition": set(
            ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
        ),
        "ecr_repository": {
            r["repositoryName"] for r in c("ecr").describe_repositories()["repositories"]
        },
        "s3_bucket": {b["Name"] for b in c("s3").list_buckets()["Buckets"]},
        "db_instance": {
            d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]
        },
        "db_subnet_group": {
            g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
        },
        "db_parameter_group": {
            g["DBParameterGroupName"]
            for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
            if not g["DBParameterGroupName"].startswith("default.")
        },
        "secret": {s["Name"] for s in c("secretsmanager").list_secrets()["SecretList"]},
        "log_group": {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]},
        "iam_role": {r["RoleName"] for r in iam.list_roles()["Roles"]},
        "scalable_target": {
            t["ResourceId"]
            for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
        },
        "scaling_policy": {
            p["PolicyName"]
            for p in aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
        },
        "dns_namespace": {n["Name"] for n in sd.list_namespaces()["Namespaces"]},
        "discovery_service": {s["Name"] for s in sd.list_services()["Services"]},
    }
    return {kind: ids for kind, ids in found.items()}


def role_policies(endpoint: str, region: str) -> dict[str, list[dict[str, Any]]]:
    """Return every inline and customer-managed policy document, by role name."""
    iam = _clients(endpoint, region)("iam")
    out: dict[str, list[dict[str, Any]]] = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        docs = []
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            docs.append(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
        out[name] = docs
    return out
