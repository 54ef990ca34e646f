"""The tenant gateway (docs/gateway.md): Envoy AI Gateway v1.1.0 on Envoy Gateway v1.8.1.

`config` validates `llm-serving:gateway` against the endpoints (T1-T3) and resolves what the objects
need (the tier table, each endpoint's in-cluster upstream, the counter store); `charts` pins the
controllers' Helm charts and their values; `render` builds every gateway object as a plain manifest;
`checks` are the policy checks over rendered objects. Pure: no pulumi import.
"""
