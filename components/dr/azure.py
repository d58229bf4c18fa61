"""Azure Blob replication of a model store.

- azure-object-replication: a storage account in the standby region, hardened like the store
  (the store's building blocks on the standby provider), and an object replication policy:
  created on the destination account first (policy id "default"), then on the source account with
  the policy and rule ids Azure generated.
- azure-ra-gzrs: the source account already is Standard_RAGZRS (built with
  `ModelStoreArgs.geo_redundant`); Azure replicates it to the paired region by itself.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from .._contracts import WorkloadIdentity
from ..storage import azure as blobstore
from ..storage._options import child
from ..storage.naming import resource_group_name
from ..storage.ref import StoreHandle, bucket_ref
from ._build import ReplicationBuild, replica_config, replica_encryption, replica_name
from .args import ModelStoreReplicationArgs

storage = azure_native.storage

# Replicate blobs that existed before the policy too (Azure's "copy everything" setting);
# without it only blobs created afterwards reach the standby.
COPY_EXISTING_SINCE = "1601-01-01T00:00:00Z"


def build(
    component: pulumi.ComponentResource,
    name: str,
    args: ModelStoreReplicationArgs,
    source: StoreHandle,
    standby: pulumi.ProviderResource | None,
    identity: WorkloadIdentity | None,
) -> ReplicationBuild:
    assert source.account_name is not None and source.account_id is not None
    assert source.resource_group_name is not None
    env, tags = args.environment, dict(sorted(args.tags.items()))
    keep = env == "prod"

    if args.path == "azure-ra-gzrs":
        if source.sku != "Standard_RAGZRS":
            raise ValueError(
                f"{name}: RA-GZRS replication needs the source account {source.name} built with "
                "ModelStoreArgs(geo_redundant=True) (plan_replication(...).store_overrides)"
            )
        uai = None
        if identity is not None:
            uai = blobstore.aad_reader(
                component,
                f"{name}-replica-reader",
                identity=identity,
                account=args.reader,
                resource_group_name=source.resource_group_name,
                location=args.target_region,
                identity_name=f"id-{source.name}-{args.target_region_name}-reader",
                scope=source.bucket_id,
                tags=tags,
                client=blobstore.client_config(component),
                # Same account, same subscription as the source: the component's provider.
            )
        ref = bucket_ref(
            "azure",
            args.target_region,
            source.bucket,
            uai.client_id if uai is not None else None,
            account=source.account_name,
        )
        return ReplicationBuild(replica_bucket=source.bucket, ref=ref)

    assert standby is not None
    client = blobstore.client_config(component, standby)
    account_name = replica_name(args, source)
    encryption = replica_encryption(args, source)
    config = replica_config(source, encryption)
    rg = blobstore.resource_group(
        component,
        f"{name}-replica",
        given=args.target_resource_group_name,
        default_name=resource_group_name(env, args.target_region_name, "replica"),
        location=args.target_region,
        tags=tags,
        keep=keep,
        provider=standby,
    )
    key = blobstore.store_key(
        component,
        f"{name}-replica",
        encryption=encryption,
        environment=env,
        label=account_name,
        resource_group_name=rg,
        location=args.target_region,
        tags=tags,
        client=client,
        provider=standby,
    )
    replica = blobstore.secure_account(
        component,
        f"{name}-replica",
        account_name=account_name,
        resource_group_name=rg,
        location=args.target_region,
        sku=f"Standard_{config.azure_options.redundancy}",
        config=config,
        environment=env,
        key=key,
        tags=tags,
        provider=standby,
    )

    def rules(rule_id: pulumi.Input[str] | None = None) -> list[storage.ObjectReplicationPolicyRuleArgs]:
        return [
            storage.ObjectReplicationPolicyRuleArgs(
                source_container=source.bucket,
                destination_container=replica.container.name,
                filters=storage.ObjectReplicationPolicyFilterArgs(min_creation_time=COPY_EXISTING_SINCE),
                rule_id=rule_id,
            )
        ]

    metrics = storage.ObjectReplicationPolicyPropertiesMetricsArgs(enabled=True)
    destination = storage.ObjectReplicationPolicy(
        f"{name}-policy-destination",
        storage.ObjectReplicationPolicyArgs(
            account_name=replica.account.name,
            resource_group_name=rg,
            object_replication_policy_id="default",
            # Full resource ids: required when cross-tenant replication is disallowed.
            source_account=source.account_id,
            destination_account=replica.account.id,
            rules=rules(),
            metrics=metrics,
        ),
        # Versioning on both accounts and the change feed on the source must be on first.
        opts=child(component, provider=standby, depends_on=[*replica.ready, *source.ready]),
    )
    storage.ObjectReplicationPolicy(
        f"{name}-policy-source",
        storage.ObjectReplicationPolicyArgs(
            account_name=source.account_name,
            resource_group_name=source.resource_group_name,
            object_replication_policy_id=destination.policy_id,
            source_account=source.account_id,
            destination_account=replica.account.id,
            rules=rules(destination.rules.apply(lambda rs: rs[0].rule_id if rs else None)),
            metrics=metrics,
        ),
        opts=child(component, depends_on=[destination, *source.ready]),
    )

    uai = None
    if identity is not None:
        uai = blobstore.aad_reader(
            component,
            f"{name}-replica-reader",
            identity=identity,
            account=args.reader,
            resource_group_name=rg,
            location=args.target_region,
            identity_name=f"id-{account_name}-reader",
            scope=replica.container.id,
            tags=tags,
            client=client,
            provider=standby,
        )
    ref = bucket_ref(
        "azure",
        args.target_region,
        replica.container.name,
        uai.client_id if uai is not None else None,
        account=replica.account.name,
    )
    return ReplicationBuild(replica_bucket=replica.container.name, ref=ref)
