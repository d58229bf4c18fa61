"""CloudWatch alarms, the SNS notification topic and the AWS Budget.

Children are parented to the component and inherit the explicit aws provider; nothing here
passes a provider. Every alarm works while the cluster or the in-cluster stack is down, because
every metric it reads is published by AWS itself:

- AWS/EKS (free, one-minute, every cluster on Kubernetes >= 1.28; dimension ClusterName):
  `apiserver_request_total`, `apiserver_request_total_5XX`, `scheduler_pending_pods_UNSCHEDULABLE`
  (https://docs.aws.amazon.com/eks/latest/userguide/cloudwatch.html).
- AWS/EC2 `StatusCheckFailed` (free, one-minute) aggregated by the AutoScalingGroupName dimension,
  which basic monitoring provides (EC2 user guide, "Amazon EC2 metric dimensions").

Not used, on purpose: AWS/AutoScaling `GroupInServiceInstances` ("nodes below the floor") exists
only once group metrics collection is enabled on the Auto Scaling group, which EKS does not do for
managed node groups and Pulumi cannot switch on without owning the group. GPU utilisation is not a
CloudWatch metric without the CloudWatch Observability add-on (Container Insights); the in-cluster
dcgm-exporter rules cover it.

The topic is encrypted with a customer-managed key: CloudWatch alarms and AWS Budgets cannot
publish to a topic encrypted with the AWS-managed alias/aws/sns key (its key policy cannot grant
them kms:GenerateDataKey*), see "Enable compatibility between event sources from AWS services and
encrypted topics" in the SNS developer guide.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from ...cluster.aws import partition
from . import CloudTargets, ResolvedAlert, evaluation_periods, resolve_alert, unique_thresholds

if TYPE_CHECKING:  # pragma: no cover - typing only
    from . import BudgetRecipients, CloudAlarmsArgs, StackBudgetArgs

EKS_NAMESPACE = "AWS/EKS"
# More than this share (percent) of API requests failing with 5XX is an incident.
APISERVER_5XX_PERCENT = 5.0
# AWS Budgets: at most 10 email subscribers (and one SNS topic) per notification.
MAX_BUDGET_EMAILS = 10

PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def topic_policy(topic_arn: str, account: str, pfx: str, region: str) -> str:
    """Pure: only CloudWatch alarms and AWS Budgets of this account may publish (confused-deputy
    conditions on the source account and ARN). Account principals keep their IAM-granted access."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudWatchAlarms",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:{pfx}:cloudwatch:{region}:{account}:alarm:*"},
                    },
                },
                {
                    "Sid": "AwsBudgets",
                    "Effect": "Allow",
                    "Principal": {"Service": "budgets.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:{pfx}:budgets::{account}:*"},
                    },
                },
            ],
        },
        sort_keys=True,
    )


def key_policy(account: str, pfx: str) -> str:
    """Pure: the account administers the key (the default key policy's statement); the two
    publishers may only encrypt messages for the topic."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{pfx}:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "PublishersEncrypt",
                    "Effect": "Allow",
                    "Principal": {"Service": list(PUBLISHERS)},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                },
            ],
        },
        sort_keys=True,
    )


def _topic(parent: pulumi.ComponentResource, name: str, args: "CloudAlarmsArgs") -> CloudTargets:
    targets = args.spec.notifications
    if targets.aws_sns_topic_arn:
        # Referenced: its owner manages its policy, key and subscriptions.
        return CloudTargets(cloud="aws", created=False, aws_sns_topic_arn=pulumi.Output.from_input(targets.aws_sns_topic_arn))
    opts = pulumi.ResourceOptions(parent=parent)
    tags = dict(args.tags)
    pfx = partition(args.region)
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=parent)).account_id
    key_arn: pulumi.Input[str]
    if args.aws_sns_kms_key_arn:
        key_arn = args.aws_sns_kms_key_arn
    else:
        key = aws.kms.Key(
            f"{name}-topic-key",
            aws.kms.KeyArgs(
                description="gpufleet alarm and budget notifications (SNS topic encryption)",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                policy=account.apply(lambda a: key_policy(a, pfx)),
                tags=tags,
            ),
            opts=opts,
        )
        key_arn = key.arn
    topic = aws.sns.Topic(
        f"{name}-topic",
        aws.sns.TopicArgs(display_name=f"gpufleet {args.environment} alarms", kms_master_key_id=key_arn, tags=tags),
        opts=opts,
    )
    aws.sns.TopicPolicy(
        f"{name}-topic-policy",
        aws.sns.TopicPolicyArgs(
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account).apply(lambda a: topic_policy(a[0], a[1], pfx, args.region)),
        ),
        opts=opts,
    )
    for email in targets.emails:  # sorted and deduplicated by NotificationTargets
        # Each address gets a confirmation mail from SNS; nothing is delivered until it is confirmed.
        aws.sns.TopicSubscription(
            f"{name}-email-{_slug(email)}",
            aws.sns.TopicSubscriptionArgs(topic=topic.arn, protocol="email", endpoint=email),
            opts=opts,
        )
    return CloudTargets(cloud="aws", created=True, aws_sns_topic_arn=topic.arn)


def build_alarms(parent: pulumi.ComponentResource, name: str, args: "CloudAlarmsArgs") -> tuple[CloudTargets, list[str]]:
    targets = _topic(parent, name, args)
    actions = targets.native()
    cluster_name = pulumi.Output.from_input(args.cluster.cluster_name)
    tags = dict(args.tags)
    opts = pulumi.ResourceOptions(parent=parent)
    created: list[str] = []

    def alarm(alert: ResolvedAlert, instance: str | None = None, **kwargs: Any) -> None:
        """One alarm: child `<name>-[<instance>-]<key>`, CloudWatch name `<cluster>-[<instance>-]<Name>`."""
        prefix = f"{instance}-" if instance else ""
        aws.cloudwatch.MetricAlarm(
            f"{name}-{prefix}{alert.key}",
            aws.cloudwatch.MetricAlarmArgs(
                name=pulumi.Output.concat(cluster_name, "-", prefix, alert.name),
                alarm_description=alert.description,
                alarm_actions=actions,
                ok_actions=actions,
                tags=tags,
                **kwargs,
            ),
            opts=opts,
        )
        created.append(f"{alert.name}[{instance}]" if instance else alert.name)

    cluster_dim = {"ClusterName": cluster_name}

    a = resolve_alert(args.spec, "CloudControlPlaneSilent")
    if a is not None:
        n = evaluation_periods(a.for_minutes, 60)
        # A live cluster always serves requests (kubelets, controllers): no data means no control plane.
        alarm(a, namespace=EKS_NAMESPACE, metric_name="apiserver_request_total", dimensions=cluster_dim,
              statistic="Sum", period=60, evaluation_periods=n, datapoints_to_alarm=n,
              comparison_operator="LessThanThreshold", threshold=1, treat_missing_data="breaching")

    a = resolve_alert(args.spec, "CloudApiServerErrors")
    if a is not None:
        n = evaluation_periods(a.for_minutes, 300)

        def eks_metric(metric: str) -> aws.cloudwatch.MetricAlarmMetricQueryMetricArgs:
            return aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=EKS_NAMESPACE, metric_name=metric, dimensions=cluster_dim, stat="Sum", period=300
            )

        alarm(
            a,
            metric_queries=[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(id="total", metric=eks_metric("apiserver_request_total"),
                                                          return_data=False),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(id="errors", metric=eks_metric("apiserver_request_total_5XX"),
                                                          return_data=False),
                # No 5XX series in a period means no errors, not unknown.
                aws.cloudwatch.MetricAlarmMetricQueryArgs(id="ratio", expression="100 * FILL(errors, 0) / total",
                                                          label="5XX percent of API requests", return_data=True),
            ],
            evaluation_periods=n, datapoints_to_alarm=n, comparison_operator="GreaterThanThreshold",
            threshold=APISERVER_5XX_PERCENT,
            # A silent control plane is CloudControlPlaneSilent's job.
            treat_missing_data="notBreaching",
        )

    a = resolve_alert(args.spec, "CloudPodsUnschedulable")
    if a is not None:
        n = evaluation_periods(a.for_minutes, 60)
        alarm(a, namespace=EKS_NAMESPACE, metric_name="scheduler_pending_pods_UNSCHEDULABLE",
              dimensions=cluster_dim, statistic="Sum", period=60, evaluation_periods=n, datapoints_to_alarm=n,
              comparison_operator="GreaterThanThreshold", threshold=0, treat_missing_data="notBreaching")

    a = resolve_alert(args.spec, "CloudGpuInstanceImpaired")
    if a is not None:
        n = evaluation_periods(a.for_minutes, 60)
        for watch in args.gpu_pools:
            for role, asg in watch.aws_asg_names:
                alarm(a, f"{watch.pool}-{role}", namespace="AWS/EC2",
                      metric_name="StatusCheckFailed", dimensions={"AutoScalingGroupName": asg}, statistic="Maximum",
                      period=60, evaluation_periods=n, datapoints_to_alarm=n,
                      comparison_operator="GreaterThanThreshold", threshold=0,
                      # A group scaled to zero reports nothing, and that is fine.
                      treat_missing_data="notBreaching")
    return targets, created


# --- budget ---------------------------------------------------------------------------------------


def _amount(usd: float) -> str:
    return f"{usd:.2f}"


def build_budget(
    parent: pulumi.ComponentResource, name: str, args: "StackBudgetArgs", recipients: "BudgetRecipients", budget_name: str
) -> pulumi.Output[str]:
    if len(recipients.emails) > MAX_BUDGET_EMAILS:
        raise ValueError(f"{name}: an AWS budget notification takes at most {MAX_BUDGET_EMAILS} email subscribers")
    if len(recipients.native) > 1:
        raise ValueError(f"{name}: an AWS budget notification takes one SNS topic")
    tags = dict(args.tags)

    def tag(key: str) -> aws.budgets.BudgetFilterExpressionAndArgs:
        # Cost Explorer tag expression: the plain tag key (no "user:" prefix), exact value.
        return aws.budgets.BudgetFilterExpressionAndArgs(
            tags=aws.budgets.BudgetFilterExpressionAndTagsArgs(key=key, values=[tags[key]], match_options=["EQUALS"])
        )

    budget = aws.budgets.Budget(
        f"{name}-budget",
        aws.budgets.BudgetArgs(
            name=budget_name,
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=_amount(args.budget.monthly_usd),
            limit_unit="USD",
            # Spend carrying this stack's cost-center AND environment tags. A TagKeyValue cost filter
            # ("user:cost-center$cc-1234") can only OR values of one key, so the AND of two tags needs
            # a filter expression (which requires `metrics`). Both tags must be activated as cost
            # allocation tags in the payer account before they filter anything.
            filter_expression=aws.budgets.BudgetFilterExpressionArgs(ands=[tag("cost-center"), tag("environment")]),
            metrics="UnblendedCost",
            notifications=[
                aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN",
                    notification_type="ACTUAL" if t.kind == "actual" else "FORECASTED",
                    threshold=t.percent,
                    threshold_type="PERCENTAGE",
                    subscriber_sns_topic_arns=recipients.native or None,
                    subscriber_email_addresses=recipients.emails or None,
                )
                for t in unique_thresholds(args.budget)
            ],
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return budget.name
