"""The S3 lake: one KMS-encrypted, versioned, TLS-only, private bucket per zone, plus access logs.

Bucket names follow common/config.py in aws mode: `<LAKE_BUCKET_PREFIX>-<zone>` with the prefix
`marketplace-<env>-<account>`, so `settings.zone_uri("silver")` is `s3://marketplace-dev-123…-silver`.
Inside a zone the keys are the contract's paths without the zone (`events/event_type=…/dt=…/`).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks import names
from stacks.compliance import acknowledge, acknowledge_all, arn_of, checkov_skip, wildcard_resources
from stacks.settings import EnvSettings


class LakeStorage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvSettings) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        data_removal = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        self.key = kms.Key(
            self,
            "LakeKey",
            alias=f"alias/marketplace-{settings.name}-lake",
            description="Encrypts the marketplace lake, stream, serving table and logs",
            enable_key_rotation=True,
            removal_policy=data_removal,
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=names.bucket_name(settings.name, "access-logs"),
            # S3 server access logging can only deliver to SSE-S3 buckets, not SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            removal_policy=data_removal,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(365 if settings.retain_data else 90),
                                 noncurrent_version_expiration=Duration.days(7),
                                 abort_incomplete_multipart_upload_after=Duration.days(7)),
            ],
        )
        acknowledge(self.access_logs, "AwsSolutions-S1",
                    "This is the server access log target bucket; logging it into itself would loop.")
        checkov_skip(self.access_logs, "CKV_AWS_18", "Access-log target bucket: logging it would loop.")
        checkov_skip(self.access_logs, "CKV_AWS_145",
                     "S3 server access log delivery only supports SSE-S3 on the target bucket.")

        self.buckets: dict[str, s3.Bucket] = {}
        for zone in names.ZONES:
            self.buckets[zone] = self._zone_bucket(zone, data_removal)
        # EMR Serverless job logs (driver/executor stdout, event logs) — outside the lake zones.
        self.emr_logs = self._bucket("EmrLogsBucket", names.bucket_name(settings.name, "emr-logs"),
                                     data_removal, [self._expire_rule("expire-emr-logs", 90)])

    # -- helpers -------------------------------------------------------------------------------
    def _zone_bucket(self, zone: str, removal: RemovalPolicy) -> s3.Bucket:
        rules = [
            s3.LifecycleRule(
                id="tidy-versions-and-uploads",
                noncurrent_version_expiration=Duration.days(self.settings.raw_noncurrent_version_days),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ]
        if zone == "raw":
            rules.append(
                s3.LifecycleRule(
                    id="age-raw-events",
                    prefix="events/",
                    transitions=[
                        s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                                      transition_after=Duration.days(30)),
                        s3.Transition(storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                                      transition_after=Duration.days(90)),
                    ],
                )
            )
        elif zone == "bronze":
            rules.append(s3.LifecycleRule(id="age-bronze", transitions=[
                s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(90))]))
        elif zone == "quarantine":
            rules.append(self._expire_rule("expire-quarantine", self.settings.quarantine_expiry_days))
        elif zone == "athena-results":
            rules.append(self._expire_rule("expire-query-results", self.settings.athena_results_expiry_days))
        construct_id = "".join(part.capitalize() for part in zone.split("-")) + "Bucket"
        return self._bucket(construct_id, names.bucket_name(self.settings.name, zone), removal, rules)

    @staticmethod
    def _expire_rule(rule_id: str, days: int) -> s3.LifecycleRule:
        return s3.LifecycleRule(id=rule_id, expiration=Duration.days(days),
                                noncurrent_version_expiration=Duration.days(1),
                                abort_incomplete_multipart_upload_after=Duration.days(7))

    def _bucket(self, construct_id: str, name: str, removal: RemovalPolicy, rules) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            construct_id,
            bucket_name=name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,  # one data key per bucket, not per object: far fewer KMS calls
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{construct_id.removesuffix('Bucket').lower()}/",
            lifecycle_rules=rules,
            removal_policy=removal,
        )
        checkov_skip(bucket, "CKV_AWS_144",
                     "Cross-region replication is a disaster-recovery choice per account; the lake is rebuildable "
                     "from the versioned raw zone and is not replicated by default.")
        return bucket

    def tenant_document_policies(self) -> dict[str, iam.ManagedPolicy]:
        """One policy per configured tenant, limited to that tenant's document prefix in the raw zone.

        Attach to the upload/API role of a tenant-facing service so it can never touch another
        tenant's resumes (`documents/tenant_id=<t>/…`, docs/contracts.md).
        """
        policies = {}
        raw = self.buckets["raw"]
        for tenant in self.settings.tenants:
            policies[tenant] = iam.ManagedPolicy(
                self,
                f"TenantDocuments-{tenant}",
                managed_policy_name=f"marketplace-{self.settings.name}-{tenant}-documents",
                description=f"Read/write only tenant {tenant}'s documents in the raw zone",
                statements=[
                    iam.PolicyStatement(
                        actions=["s3:GetObject", "s3:PutObject"],
                        resources=[raw.arn_for_objects(f"documents/tenant_id={tenant}/*")],
                    ),
                    iam.PolicyStatement(
                        actions=["s3:ListBucket"],
                        resources=[raw.bucket_arn],
                        conditions={"StringLike": {"s3:prefix": [f"documents/tenant_id={tenant}/*"]}},
                    ),
                    iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                        resources=[self.key.key_arn]),
                ],
            )
            acknowledge_all(policies[tenant], wildcard_resources(f"{arn_of(raw)}/documents/tenant_id={tenant}/*"),
                            "Object wildcard is confined to this tenant's own document prefix.")
        return policies
