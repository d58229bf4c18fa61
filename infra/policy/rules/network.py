"""Load balancers and network exposure; IAM."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..model import Resource, as_json, as_list, get, is_unknown, known, num, resource_rule, truthy
from .clusters import world_open

AWS_LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_INGRESS = ("kubernetes:networking.k8s.io/v1:Ingress",)
AWS_SG = "aws:ec2/securityGroup:SecurityGroup"
AWS_SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
AWS_SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
GCP_FIREWALL = "gcp:compute/firewall:Firewall"
AZ_NSG = "azure-native:network:NetworkSecurityGroup"
AZ_NSG_RULE = "azure-native:network:SecurityRule"

INTERNAL_LB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": ("true", "0.0.0.0/0"),
    "service.beta.kubernetes.io/aws-load-balancer-scheme": ("internal",),
    "networking.gke.io/load-balancer-type": ("internal",),
    "cloud.google.com/load-balancer-type": ("internal",),
    "service.beta.kubernetes.io/azure-load-balancer-internal": ("true",),
    "alb.ingress.kubernetes.io/scheme": ("internal",),
    "kubernetes.io/ingress.class": ("gce-internal",),
}
TLS_PROTOCOLS = ("https", "grpcs", "tls", "wss", "kubernetes.io/wss")
SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
AWS_SSL_CERT_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"


def _annotations(r: Resource) -> Mapping[str, Any]:
    a = get(r.props, "metadata.annotations")
    return a if isinstance(a, Mapping) else {}


def external_k8s_endpoint(r: Resource) -> bool | None:
    """True for a Service of type LoadBalancer / an Ingress that is not marked internal."""
    if r.type == K8S_SERVICE:
        typ = get(r.props, "spec.type")
        if is_unknown(typ):
            return None
        if typ != "LoadBalancer":
            return False
    elif r.type not in K8S_INGRESS:
        return False
    ann = _annotations(r)
    for key, values in INTERNAL_LB_ANNOTATIONS.items():
        v = ann.get(key)
        if is_unknown(v):
            return None
        if isinstance(v, str) and v.lower() in values:
            return False
    if get(r.props, "spec.ingressClassName") == "gce-internal":
        return False
    return True


@resource_rule(
    "lb-tls-on-external-endpoints",
    summary="External endpoints speak TLS: AWS HTTP listeners only redirect to HTTPS and HTTPS listeners use a "
    "TLS 1.2+ policy; internet-facing LoadBalancer Services terminate TLS (certificate annotation or TLS ports); "
    "internet-facing Ingresses have a tls section.",
    area="network-iam", severity="high", level="mandatory", ids=("CKV_AWS_2", "CKV_AWS_103"),
    types=AWS_LISTENERS + (K8S_SERVICE,) + K8S_INGRESS,
    remediation="Terminate TLS at the load balancer (ACM/managed certificate) or serve TLS from the pods; redirect "
    "port 80 to 443.",
)
def lb_tls_on_external_endpoints(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type in AWS_LISTENERS:
        proto = r.props.get("protocol")
        if not isinstance(proto, str) or is_unknown(proto):
            return
        if proto.upper() == "HTTP":
            actions = as_list(r.props.get("defaultActions"))
            if any(is_unknown(a) for a in actions):
                return
            redirects = [a for a in actions if get(a, "type") == "redirect" and
                         str(get(a, "redirect.protocol") or "").upper() == "HTTPS"]
            if not actions or len(redirects) != len(actions):
                yield "HTTP listener serves plaintext instead of redirecting to HTTPS"
        elif proto.upper() in ("HTTPS", "TLS"):
            policy = r.props.get("sslPolicy")
            if isinstance(policy, str) and known(policy) and "TLS13" not in policy and "TLS-1-2" not in policy:
                yield f"sslPolicy {policy} accepts TLS versions older than 1.2"
        return
    external = external_k8s_endpoint(r)
    if not external:
        return
    if r.type in K8S_INGRESS:
        tls = get(r.props, "spec.tls")
        if not is_unknown(tls) and not tls:
            yield "internet-facing Ingress has no tls section"
        return
    ann = _annotations(r)
    if known(ann.get(AWS_SSL_CERT_ANNOTATION)) and ann.get(AWS_SSL_CERT_ANNOTATION):
        return
    ports = get(r.props, "spec.ports")
    if is_unknown(ports):
        return
    plain = []
    for p in as_list(ports):
        if not isinstance(p, Mapping):
            continue
        proto = str(p.get("appProtocol") or "").lower()
        name = str(p.get("name") or "").lower()
        if proto in TLS_PROTOCOLS or name.split("-")[0] in TLS_PROTOCOLS or num(p.get("port")) == 443:
            continue
        plain.append(str(p.get("name") or p.get("port")))
    if plain:
        yield f"internet-facing LoadBalancer Service exposes non-TLS port(s) {', '.join(plain)}"


def _ports_ok(lo: Any, hi: Any, allowed: set[float]) -> bool:
    a, b = num(lo), num(hi)
    if a is None and b is None:
        return False  # all ports
    a = a if a is not None else b
    b = b if b is not None else a
    if a is None or b is None or b - a > 65535:
        return False
    if a < 0:  # -1: all ports
        return False
    return all(float(p) in allowed for p in range(int(a), int(b) + 1)) if b - a < 1024 else False


def _port_range(value: Any) -> tuple[Any, Any]:
    if isinstance(value, str) and "-" in value:
        lo, _, hi = value.partition("-")
        return lo, hi
    if value in ("*", None):
        return None, None
    return value, value


@resource_rule(
    "lb-source-ranges-restricted",
    summary="Nothing is open to the whole internet except the ports listed in worldOpenPorts (default: none): "
    "internet-facing LoadBalancer Services list loadBalancerSourceRanges; security groups, firewalls and NSGs admit "
    "0.0.0.0/0 only on those ports.",
    area="network-iam", severity="high", level="mandatory",
    ids=("CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260", "CKV_GCP_2", "CKV_GCP_3", "CKV_AZURE_9", "CKV_AZURE_10"),
    types=(K8S_SERVICE, AWS_SG, AWS_SG_RULE, AWS_SG_INGRESS, GCP_FIREWALL, AZ_NSG, AZ_NSG_RULE),
    config={"worldOpenPorts": {"type": "array", "items": {"type": "integer"}, "default": [],
                               "description": "Ports that may be open to 0.0.0.0/0 (e.g. [443] for a public API)."}},
    remediation="List the client CIDRs (loadBalancerSourceRanges / security group rules), or publish through a "
    "WAF/CDN that owns the public edge.",
)
def lb_source_ranges_restricted(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    allowed = {float(p) for p in cfg.get("worldOpenPorts") or []}
    if r.type == K8S_SERVICE:
        if not external_k8s_endpoint(r):
            return
        ranges = get(r.props, "spec.loadBalancerSourceRanges")
        ann = _annotations(r).get(SOURCE_RANGES_ANNOTATION)
        if is_unknown(ranges) or is_unknown(ann):
            return
        cidrs = list(as_list(ranges)) + ([c.strip() for c in ann.split(",")] if isinstance(ann, str) else [])
        ports = [num(get(p, "port")) for p in as_list(get(r.props, "spec.ports"))]
        if not cidrs or world_open(cidrs):
            if ports and all(p is not None and p in allowed for p in ports):
                return
            yield "internet-facing LoadBalancer Service admits any source (no loadBalancerSourceRanges)"
        return
    if r.type == AWS_SG:
        for i, rule in enumerate(as_list(r.props.get("ingress"))):
            cidrs = as_list(get(rule, "cidrBlocks")) + as_list(get(rule, "ipv6CidrBlocks"))
            if world_open(cidrs) and not _ports_ok(get(rule, "fromPort"), get(rule, "toPort"), allowed):
                yield f"ingress[{i}] admits 0.0.0.0/0 on ports {get(rule, 'fromPort')}-{get(rule, 'toPort')}"
        return
    if r.type == AWS_SG_RULE:
        if r.props.get("type") != "ingress":
            return
        cidrs = as_list(r.props.get("cidrBlocks")) + as_list(r.props.get("ipv6CidrBlocks"))
        if world_open(cidrs) and not _ports_ok(r.props.get("fromPort"), r.props.get("toPort"), allowed):
            yield f"ingress admits 0.0.0.0/0 on ports {r.props.get('fromPort')}-{r.props.get('toPort')}"
        return
    if r.type == AWS_SG_INGRESS:
        cidrs = as_list(r.props.get("cidrIpv4")) + as_list(r.props.get("cidrIpv6"))
        proto = r.props.get("ipProtocol")
        lo, hi = (None, None) if proto in ("-1", -1) else (r.props.get("fromPort"), r.props.get("toPort"))
        if world_open(cidrs) and not _ports_ok(lo, hi, allowed):
            yield f"ingress admits 0.0.0.0/0 on ports {lo}-{hi}"
        return
    if r.type == GCP_FIREWALL:
        direction = r.props.get("direction") or "INGRESS"
        if direction != "INGRESS" or not r.props.get("allows") or truthy(r.props.get("disabled")) is True:
            return
        if not world_open(r.props.get("sourceRanges")):
            return
        for allow in as_list(r.props.get("allows")):
            ports = as_list(get(allow, "ports"))
            if not ports:
                yield f"firewall admits 0.0.0.0/0 on all {get(allow, 'protocol')} ports"
                continue
            for p in ports:
                lo, hi = _port_range(p)
                if not _ports_ok(lo, hi, allowed):
                    yield f"firewall admits 0.0.0.0/0 on {get(allow, 'protocol')} port {p}"
        return
    rules = as_list(get(r.props, "securityRules")) if r.type == AZ_NSG else [r.props]
    for rule in rules:
        props = get(rule, "properties") if isinstance(get(rule, "properties"), Mapping) else rule
        if get(props, "direction") != "Inbound" or get(props, "access") != "Allow":
            continue
        sources = as_list(get(props, "sourceAddressPrefix")) + as_list(get(props, "sourceAddressPrefixes"))
        if not world_open(sources):
            continue
        ranges = as_list(get(props, "destinationPortRange")) + as_list(get(props, "destinationPortRanges"))
        for p in ranges or ["*"]:
            lo, hi = _port_range(p)
            if not _ports_ok(lo, hi, allowed):
                yield f"NSG rule {get(rule, 'name') or r.name} admits the internet on port {p}"


# --- IAM -------------------------------------------------------------------------------------------

AWS_POLICY_TYPES = ("aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy",
                    "aws:iam/groupPolicy:GroupPolicy")
AWS_ROLE = "aws:iam/role:Role"
AZ_ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"


def _admin_statements(doc: Any) -> Iterator[str]:
    if not isinstance(doc, Mapping):
        return
    for st in as_list(doc.get("Statement")):
        if not isinstance(st, Mapping) or st.get("Effect") != "Allow":
            continue
        actions = [a for a in as_list(st.get("Action")) if isinstance(a, str)]
        resources = [a for a in as_list(st.get("Resource")) if isinstance(a, str)]
        if any(a in ("*", "*:*") for a in actions) and "*" in resources:
            yield str(st.get("Sid") or "(no Sid)")


@resource_rule(
    "iam-no-wildcard-admin",
    summary="No IAM policy allows every action on every resource (\"*:*\"), and no Azure custom role grants "
    "\"*\" actions.",
    area="network-iam", severity="critical", level="mandatory", ids=("CKV_AWS_1", "CKV_AWS_62", "CKV_AZURE_39"),
    types=AWS_POLICY_TYPES + (AWS_ROLE, AZ_ROLE_DEFINITION),
    remediation="Grant the actions and resources the principal needs (see gpufleet's IRSA policies).",
)
def iam_no_wildcard_admin(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == AZ_ROLE_DEFINITION:
        for i, perm in enumerate(as_list(r.props.get("permissions"))):
            if "*" in [a for a in as_list(get(perm, "actions")) if isinstance(a, str)]:
                yield f"permissions[{i}].actions contains *"
        return
    docs = [("policy", r.props.get("policy"))] if r.type in AWS_POLICY_TYPES else [
        (f"inlinePolicies[{i}]", get(p, "policy")) for i, p in enumerate(as_list(r.props.get("inlinePolicies")))]
    for where, raw in docs:
        for sid in _admin_statements(as_json(raw)):
            yield f"{where} statement {sid} allows * on *"


GCP_IAM_TYPES = ("gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding",
                 "gcp:folder/iAMMember:IAMMember", "gcp:folder/iAMBinding:IAMBinding",
                 "gcp:organizations/iAMMember:IAMMember", "gcp:organizations/iAMBinding:IAMBinding")
BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")


@resource_rule(
    "gcp-no-basic-roles",
    summary="No project/folder/organization IAM grant uses a basic role (owner, editor, viewer).",
    area="network-iam", severity="high", level="mandatory", ids=("CKV_GCP_117",), types=GCP_IAM_TYPES,
    remediation="Grant predefined or custom roles scoped to the job.",
)
def gcp_no_basic_roles(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    role = r.props.get("role")
    if isinstance(role, str) and role in BASIC_ROLES:
        yield f"grants basic role {role}"
