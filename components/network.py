"""`Network`: a VPC with public and private subnets across AZs, or the subnets of an existing VPC.

Subnets carry the tags the AWS Load Balancer Controller uses to place internet-facing
(`kubernetes.io/role/elb`) and internal (`kubernetes.io/role/internal-elb`) ALBs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .rules import tags as tag_rules
from .rules.spec import NetworkSpec


@dataclass
class NetworkArgs:
    spec: NetworkSpec
    cluster_name: str
    tags: dict[str, str] = field(default_factory=dict)  # the user's cluster.tags; the required ones are added


def subnet_cidrs(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Private /19s first (pods use VPC IPs), then public /24s from the last /19."""
    net = ipaddress.ip_network(cidr)
    big: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = list(net.subnets(new_prefix=min(net.prefixlen + 3, 28)))
    private = [str(s) for s in big[:zones]]
    public = [str(s) for s in list(big[-1].subnets(new_prefix=min(big[-1].prefixlen + 5, 28)))[:zones]]
    return private, public


class Network(pulumi.ComponentResource):
    """Outputs: `vpc_id`, `private_subnet_ids`, `public_subnet_ids`."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-serving:cluster:Network", name, None, opts)
        spec = args.spec
        if spec.existing:
            assert spec.vpc_id is not None  # what `existing` means
            self.vpc_id = pulumi.Output.from_input(spec.vpc_id)
            self.private_subnet_ids = pulumi.Output.from_input(list(spec.private_subnet_ids))
            self.public_subnet_ids = pulumi.Output.from_input(list(spec.public_subnet_ids))
        else:
            self._create(name, args)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
            }
        )

    def _create(self, name: str, args: NetworkArgs) -> None:
        spec = args.spec
        tags = tag_rules.stack_tags(pulumi.get_stack(), args.cluster_name, args.tags)
        child = pulumi.ResourceOptions(parent=self)
        shared = {f"kubernetes.io/cluster/{args.cluster_name}": "shared", **tags}
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOptions(parent=self)).names
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=spec.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{args.cluster_name}-vpc", **tags},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags=tags,
            opts=child,
        )
        private_cidrs, public_cidrs = subnet_cidrs(spec.cidr, spec.availability_zones)
        public, private, nats = [], [], []
        for i in range(spec.availability_zones):
            az = zones.apply(lambda names, i=i: names[i % len(names)])  # type: ignore[misc]  # mypy cannot type a lambda whose default binds the loop variable
            pub = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=public_cidrs[i],
                availability_zone=az,
                map_public_ip_on_launch=True,
                tags={**shared, "Name": f"{args.cluster_name}-public-{i}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}", subnet_id=pub.id, route_table_id=public_rt.id, opts=child
            )
            public.append(pub)
            if i == 0 or not spec.single_nat_gateway:
                eip = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", tags=tags, opts=child)
                nats.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{i}",
                        subnet_id=pub.id,
                        allocation_id=eip.id,
                        tags=tags,
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                    )
                )
            priv = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=private_cidrs[i],
                availability_zone=az,
                tags={**shared, "Name": f"{args.cluster_name}-private-{i}", "kubernetes.io/role/internal-elb": "1"},
                opts=child,
            )
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nats[-1].id}],
                tags=tags,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{i}", subnet_id=priv.id, route_table_id=rt.id, opts=child)
            private.append(priv)
        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
