"""`EndpointApiKey`: one API key, stored as a Secret in the endpoint namespace and in every other
namespace that reads it (the HyperPod router's, G9: a key Secret only in the endpoint's namespace left the router without it). Generated with pulumi-random, or
read from Secrets Manager when the user names a secret. The value is a Pulumi secret everywhere.
Each endpoint component declares its own key as a child (components/endpoints/base.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..rules.endpoint import API_KEY_SECRET_KEY


@dataclass
class EndpointApiKeyArgs:
    secret_name: str  # the Secret's name in every namespace (ResolvedEndpoint.api_key_secret)
    namespace: str  # the endpoint's namespace
    namespaces: list[str] = field(default_factory=list)  # besides `namespace`: where else the key is read
    length: int = 48
    secret_arn: str | None = None  # Secrets Manager secret whose SecretString is the key
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # put on every child (namespace, operator)


class EndpointApiKey(pulumi.ComponentResource):
    """Outputs: `value` (secret), `secret_name`."""

    value: pulumi.Output[str]
    secret_name: pulumi.Output[str]

    def __init__(self, name: str, args: EndpointApiKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-serving:endpoints:EndpointApiKey", name, None, opts)
        if args.secret_arn:
            stored = aws.secretsmanager.get_secret_version_output(
                secret_id=args.secret_arn, opts=pulumi.InvokeOptions(parent=self)
            )
            self.value = pulumi.Output.secret(stored.secret_string)
        else:
            password = random.RandomPassword(
                f"{name}-key", length=args.length, special=False, opts=pulumi.ResourceOptions(parent=self)
            )
            self.value = pulumi.Output.secret(password.result.apply(lambda r: f"sk-{r}"))
        secret_name = args.secret_name
        # One value, every namespace: the HyperPod router in hyperpod-inference-system and the
        # endpoint's own namespace must agree (G9).
        self.secrets = [
            k8s.core.v1.Secret(
                f"{name}-{ns}",
                metadata={"name": secret_name, "namespace": ns, "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
                type="Opaque",
                string_data={API_KEY_SECRET_KEY: self.value},
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=list(args.depends_on), additional_secret_outputs=["data", "stringData"]
                ),
            )
            for ns in dict.fromkeys([args.namespace, *args.namespaces])
        ]
        self.secret_name = pulumi.Output.from_input(secret_name)
        self.register_outputs({"value": self.value, "secret_name": self.secret_name})
