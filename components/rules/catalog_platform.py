"""The catalogue's later entries, in `RULES` order after `components/rules/catalog_guardrails.py`:
delete order, autoscaling, the later guardrails, the gateway, capacity, load, pools and DPD."""

from __future__ import annotations

from components.rules.catalog_rule import (
    A1,
    C1,
    D1,
    D2,
    D3,
    D4,
    G21,
    G22,
    G23,
    G24,
    L1,
    O1,
    O2,
    O3,
    O4,
    O5,
    O6,
    O7,
    O8,
    R1,
    R2,
    R3,
    R4,
    R5,
    T1,
    T2,
    T3,
    Rule,
)

RULES: tuple[Rule, ...] = ()

RULES += (
    Rule(
        O1,
        "Services, Ingresses and charts that create Services are declared after the load balancer controller, so they are also deleted before it.",
        "The controller's Service webhook fails closed: charts installed beside it failed to create their Services; on destroy, an Ingress whose controller was gone kept its finalizer and its ALB, and the VPC delete failed.",
        "The platform orders cert-manager, metrics-server and KEDA after the controller; endpoint objects wait for it.",
        "A stack whose graph breaks the order (in the offline plan and as a stack policy).",
        ("fix", "plan", "policy"),
    ),
    Rule(
        O2,
        "A chart whose pods use a Pod Identity association is declared after the association.",
        "EKS injects Pod Identity credentials only into pods created after the association: a controller that started first ran without AWS credentials and its Ingresses never got ALBs.",
        "Controller charts and add-ons wait for their role's policy and association.",
        "A stack whose graph breaks the order.",
        ("fix", "plan", "policy"),
    ),
    Rule(
        O3,
        "A custom resource is declared after what installs its CRD (the HyperPod operator; the OME and KServe CRD charts, and their operator charts, whose webhooks admit the objects), so it is deleted before it.",
        "Custom resources created in the same update as the operator that installs their CRD failed (pulumi-kubernetes #3176, #3247).",
        "Endpoints wait for their backend's operator (HyperPod operator, or the OME or KServe CRD and operator charts).",
        "A stack whose graph breaks the order.",
        ("fix", "plan", "policy"),
    ),
    Rule(
        O4,
        "GPU workloads are declared after the GPU nodes and the NVIDIA device plugin.",
        "A GPU pod created before any node advertises nvidia.com/gpu stays Pending, and a Deployment's await runs out.",
        "Endpoints wait for the GPU node groups, the HyperPod cluster and the device plugin.",
        "A stack whose graph breaks the order.",
        ("fix", "plan", "policy"),
    ),
    Rule(
        O5,
        "The HyperPod cluster is declared after the HyperPod Helm chart (aws/sagemaker-hyperpod-cli helm_chart/HyperPodHelmChart).",
        "AWS requires the chart (health-monitoring agent, deep-health-check RBAC, device plugins) before a HyperPod cluster is created through the API; it was never installed, so nodes joined without them.",
        "The program installs the chart as release hyperpod-dependencies in kube-system, after the EKS cluster and its system nodes, and the HyperPod cluster waits for it.",
        "A stack whose graph declares the HyperPod cluster without the chart, or beside it.",
        ("fix", "plan", "policy"),
    ),
    Rule(
        O6,
        "On destroy, everything that holds a finalizer served by a controller is deleted before that controller, the HyperPod operator's own ALB Ingress included.",
        "The operator's Ingress (not declared by Pulumi) kept the load balancer controller's finalizer ingress.k8s.aws/resources while the controller and the add-on were deleted: its ALB and security groups were orphaned and the VPC delete failed with DependencyViolation.",
        "An ingress drain guard (a dynamic resource) waits for the controller and the operator; every endpoint waits for it; its delete waits, bounded, until no ALB Ingress the stack accounts for is left (any in the operator's namespace; elsewhere those owned by an endpoint's custom resource or declared by the stack, never a user's own), else fails naming them and the cleanup command (tag elbv2.k8s.aws/cluster).",
        "A stack whose graph has operator endpoints without the guard, or a guard that does not wait for the controller.",
        ("fix", "plan", "policy"),
    ),
    Rule(
        O7,
        "A HyperPod cluster with NVIDIA GPU instance groups is declared after an NVIDIA device plugin that tolerates HyperPod's deep-health-check taint: the HyperPod chart's (upstream's default).",
        "The HyperPod chart's plugin was switched off for the platform's own, which was declared after the HyperPod cluster and lacked the `sagemaker.amazonaws.com/node-health-status=Unschedulable:NoSchedule` toleration and the instance-type affinity that helm_chart/readme.md asks of a self-installed plugin: HyperPod nodes were created with no plugin, and one under deep health checks could not run the platform's.",
        "In mode hyperpod `nvidiaDevicePlugin` switches the HyperPod chart's plugin (installed before the cluster, rule O5), its node affinity rendered on the instance groups' GPU types (upstream's list lacks ml.g4dn.*); the platform declares no plugin of its own there.",
        "A HyperPod cluster with GPU groups and no device plugin declared, one declared beside or after it (`nvidiaDevicePlugin: false` in mode hyperpod), or a chart plugin whose affinity leaves out a GPU group's type.",
        ("fix", "plan", "policy"),
    ),
    Rule(
        O8,
        "An endpoint of the ome or kserve backend runs on a cluster whose platform installs that operator from its upstream charts at pinned versions (the CRD chart, then the operator chart after cert-manager, and KEDA for OME), declared in the same stack as the cluster it creates.",
        'The eks example declared OME and KServe endpoints on the cluster it created, while the operators were left to the user to install "before `pulumi up`", which cannot be done on a cluster that does not exist yet: the first `up` failed on custom resources without CRDs, and the plan said nothing.',
        "`platform.omeOperator` and `platform.kserveOperator` (default `auto`: on when an endpoint of the stack uses the backend) install OME 0.1.5 (`ome-crd`, `ome-resources`) and KServe v0.20.0 (`kserve-crd`, `kserve-resources` in Standard mode, the former RawDeployment) from their OCI charts, ordered after their prerequisites; the endpoints wait for both charts (O3).",
        "An ome or kserve endpoint whose operator the stack's platform switches off (error, naming the `platform` key); in an endpoints-only stack, one whose platform stack's file switches it off (error naming that file's key) or is not in the project (warning); a stack that creates its EKS cluster and declares OME or KServe objects without their charts (plan and policy).",
        ("fix", "validate", "plan", "policy"),
    ),
)

RULES += (
    Rule(
        A1,
        "A HyperPod autoscaling trigger reads a metric that exists for the endpoint and sees the traffic the endpoint is served by: in `AWS/SageMaker` a real-time metric of the endpoint the operator registers, with `EndpointName` and `VariantName`; a Prometheus query, or the kubernetes backend's HPA `podsMetric`, on the endpoint's own engine metrics, against a Prometheus server.",
        "The dev stack scaled on `ApproximateBacklogSizePerInstance` with no dimensions: an asynchronous-inference metric, queried without the endpoint's dimensions, so KEDA got no datapoints and the endpoint never scaled.",
        "Every HyperPod endpoint is served through an ALB (the operator's, and with `publicAlb` the stack's), whose requests `AWS/SageMaker` never counts (it counts InvokeEndpoint calls). With `platform.prometheusServerAddress` an endpoint without a trigger scales on its engine's queue (`vllm:num_requests_waiting` or `sglang:num_queue_reqs` of its served model, 8 per replica) and a Prometheus trigger without a `serverAddress` gets the platform's; without a server there is no default trigger, since the stack installs no Prometheus. An unset CloudWatch metric, statistic or dimensions are upstream's: `Invocations`, `Sum`, `EndpointName` of the registered endpoint and `VariantName: AllTraffic`.",
        "An asynchronous-inference metric; `AWS/SageMaker` without a registered endpoint, without dimensions, or with another `EndpointName` or no `VariantName`; a Prometheus query or HPA `podsMetric` on the other engine's metrics; a `serverAddress` that is not an Amazon Managed Service for Prometheus workspace URL (the CRD's pattern). Warnings: another `VariantName`; any `AWS/SageMaker` trigger (InvokeEndpoint traffic only); a Prometheus trigger with no server.",
        ("fix", "validate", "policy"),
    ),
)

# Operator features that only a vLLM worker supports. AWS: "KV caching and intelligent routing currently support
# only vLLM-based inference containers" (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-caching-routing.html).
RULES += (
    Rule(
        G21,
        "Intelligent routing and KV-cache offload (HyperPod operator) only with engine vLLM.",
        'KV cache on SGLang was refused by the operator ("KVCacheSpec can only be configured for vLLM model server"); AWS documents the router for vLLM-based containers only, so a public SGLang endpoint behind it (G8) had no supported URL.',
        "",
        "Intelligent routing or KV cache with SGLang; fix: engine vllm, or for a public SGLang endpoint the kubernetes backend with `loadBalancer: alb`.",
        ("validate", "policy"),
    ),
    Rule(
        G22,
        "KV-cache offload runs on an image with LMCache; with the engine's default image the stack uses the LMCache image of upstream's kvCacheSpec samples.",
        "L1 cache was turned on with the stock `vllm/vllm-openai` image, which has no `lmcache` module; every upstream kvCacheSpec sample runs `lmcache/vllm-openai`.",
        "With KV cache on and no `image` set, the image is `lmcache/vllm-openai` at the tag upstream's sample pins (logged as a default change).",
        "A user-set image without LMCache and KV cache on.",
        ("fix", "validate", "policy"),
    ),
)

# The model fits its GPUs (components/rules/fit.py), from the model facts in models.lock.json.
RULES += (
    Rule(
        G23,
        "A replica's GPUs hold the model's weights plus the KV cache of one `maxModelLen`-token sequence within `gpuMemoryUtilization`; no lock entry for the model, or an unknown instance type, is reported as `fit: unchecked`, never as a pass.",
        "A 70B model on a one-GPU g5.xlarge with a 131072-token context planned clean and failed only after a 30 to 120 minute bring-up, when the engine found no memory for its KV cache.",
        "",
        "An endpoint whose weights and one full-length sequence do not fit (error, with the numbers, the smallest known instance type that fits, a tensor-parallel size and the longest maxModelLen that fit); fewer full-length sequences than a configured `maxNumSeqs` (warning).",
        ("validate", "policy", "driver"),
    ),
)

# The tenant gateway (docs/gateway.md).
RULES += (
    Rule(
        T1,
        "Every gateway tier has a token budget per minute, and every tenant key is covered by its tier's rule.",
        "The MaaS platform's tiers were only as good as their counters: a tier without a limit, or a key no rule selects, is unlimited while looking tiered.",
        "One rate-limit rule per tenant with its tier's numbers is rendered from the tier table.",
        "A tier without `tokensPerMinute`; a tenant key Secret whose tenant no token rule selects.",
        ("validate", "policy"),
    ),
    Rule(
        T2,
        "A tenant names a declared tier and only endpoints the stack declares and the gateway routes; its key is checked once, by the Gateway's SecurityPolicy, and its model allow-list on the model AI Gateway routes by; the client-ID header that keys limits and allow-lists comes from the gateway alone.",
        "A key for a misspelt tier or model would be issued and then answered 401 or 404 on every call, or routed nowhere. Keys were checked by one SecurityPolicy per generated route, but AI Gateway picks the route from the request body only after the key check: a key was judged by whichever route's catch-all Envoy matched first, so a tenant allowed on one model got 401 on it once another route was older.",
        "One SecurityPolicy on the Gateway: apiKeyAuth with every tenant's Secret and one Allow rule per tenant on x-tenant-id and x-ai-eg-model; a ClientTrafficPolicy removes a client's own x-tenant-id before any filter runs.",
        "A tenant on an unknown tier, or listing a model that is not an endpoint of the stack; a policy naming a key Secret that is not declared or allowing a model no declared route serves; a SecurityPolicy with apiKeyAuth that targets a route; a Gateway SecurityPolicy forwarding a client ID that no ClientTrafficPolicy of that Gateway removes from client requests.",
        ("fix", "validate", "policy"),
    ),
    # S2's decision for the gateway's ALB (tls.plaintext_severity); its own ID because its fix is `gateway.certificateArn`.
    Rule(
        T3,
        "A public gateway has TLS: it carries tenant keys, which must not cross the internet in clear text (S2 for the gateway's ALB).",
        "Tenant keys sent over plain HTTP can be read on the way, as an endpoint's key could before S2.",
        "The gateway's ALB listens on HTTPS with the ACM certificate and redirects HTTP.",
        "`gateway.public` without `gateway.certificateArn`; a public gateway Ingress without a certificate. As with S2, a dev stack's `platform.ingress.allowPlaintextApiKey` makes it a warning; elsewhere it is an error. "
        "`python -m stacks preflight` fails on a `gateway.certificateArn` not ISSUED in the stack's region.",
        ("validate", "policy", "preflight"),
    ),
)

# The capacity contract: a measured capacity (stacks report --export-capacity) against the declared peak load.
RULES += (
    Rule(
        C1,
        "An endpoint that declares a peak load has the replicas to carry it at its SLO: maxReplicas × the measured capacity's lower bound ≥ peak × (1 + headroom), with a capacity file measured for the same model, engine, instance type, engine args, workload and SLO.",
        "Replica counts and autoscaling targets were set by hand after a tuning run, or by guesswork: targets that never scaled out, or a maximum that could not carry the peak.",
        "`autoscaling.target: fromCapacity` sets the trigger's per-replica target from the capacity's lower bound × utilization, in the unit of the backend's autoscaler (logged as a change).",
        "Too few replicas for the declared peak with a matching capacity file (error; a warning without one); a capacity file measured under another SLO, workload, model, engine, instance type or engine args (one problem per field), or on the stand-in engine (a warning); `fromCapacity` without a matching file or on ome/kserve.",
        ("validate", "policy", "driver"),
    ),
)

# Load from inside the cluster (docs/tuning.md, "In-cluster load").
RULES += (
    Rule(
        L1,
        "The in-cluster load of a tuning trial (`benchmark.clients` > 1) is one Indexed Job of exactly `clients` pods that all run at once, never retried, bounded in time and removed after, each pod non-root with no privilege, no service account token, its own CPU and memory, a pinned image, and the API key only by secretKeyRef.",
        "One client machine was the bottleneck of a tuning level: its own ceiling, not the endpoint's, set the measured throughput; loading from several pods instead needs every pod's share to run at once (a retried pod runs its share again, later) and no key in plain text in the Job.",
        "The driver renders the Job with every one of these; `fix` sets the indexed mode, parallelism, no retry, restart policy, token and security settings.",
        "A load Job missing any of them (the driver refuses to create it).",
        ("fix", "driver"),
    ),
)

# Gated Hugging Face models (components/rules/gated.py), from the gating recorded in models.lock.json.
RULES += (
    Rule(
        G24,
        "A gated Hugging Face model (its terms must be accepted before its files can be read) is downloaded with a token: its source has `tokenSecret`.",
        "A `meta-llama/*` endpoint without a token Secret planned clean and deployed; the engine's download got HTTP 401 from the hub and the pod restarted until `up` timed out.",
        "",
        "The plan warns when a model locked as gated has a Hugging Face source without `tokenSecret`; `python -m stacks preflight` makes it an error and checks with `$HF_TOKEN` that the model, its revision and its files can be read.",
        ("validate", "preflight"),
    ),
)

# Pool routing: an InferencePool and its endpoint picker behind the tenant gateway (docs/gateway.md "Pool routing").
RULES += (
    Rule(
        R1,
        "An InferencePool selects exactly the pods of its endpoint's engine Deployment (that Deployment's own selector) and no other endpoint's, and its picker watches that pool.",
        "A pool's selector is a plain label match: one that also matched another endpoint's pods would let the picker send one model's requests to a server of another model.",
        "The kubernetes backend renders the pool with the Deployment's selector and the picker with `--pool-name`/`--pool-namespace` of that pool.",
        "A pool that selects the pods of no engine Deployment or of several, selects by other labels than the Deployment's selector, or a picker watching an undeclared pool.",
        ("fix", "plan", "policy"),
    ),
    Rule(
        R2,
        "An InferencePool targets exactly one port, the engine's.",
        "The picker scrapes each pod's metrics on the pool's first target port and the gateway sends requests there: another port is a closed port for both.",
        "The pool's `targetPorts` is the engine port (`port`, or the image family's default).",
        "A pool with no or several target ports, or one that is not the engine's.",
        ("fix", "plan", "policy"),
    ),
    Rule(
        R3,
        "One InferencePool per model, and an AI Gateway route rule names at most one pool and nothing beside it.",
        "Two pools over one model split its traffic between two pickers, each with half the prefix-cache picture; AI Gateway refuses a rule with two pools.",
        "One pool per endpoint; one route rule per pool.",
        "Two pool-routed endpoints of one served model name (config); two pools over the engines of one served model in a namespace; a route rule with a pool and another backend.",
        ("fix", "validate", "plan", "policy"),
    ),
    Rule(
        R4,
        "The pool API, the picker image and AI Gateway are of one extension release: AI Gateway v1.1.0 is built against extension v1.0.2 (its go.mod), so the pool is `inference.networking.k8s.io/v1` of v1.0.2's CRD and the picker is `epp:v1.0.2`.",
        "AI Gateway decodes the pool with the extension's Go types of its go.mod; a picker of another release reads other flags, plugins and metric defaults.",
        "The CRD (v1.0.2, pinned by commit), the picker image and the Envoy Gateway `backendResources` entry are rendered from one table.",
        "An AI Gateway release the table does not map to v1.0.2 with pool routing on; a pool of another apiVersion or picker port; a picker of another image.",
        ("fix", "validate", "plan", "policy"),
    ),
    Rule(
        R5,
        "The stack creates nothing in the extension's experimental group `inference.networking.x-k8s.io` (InferenceObjective, InferenceModel, the v1alpha2 pool).",
        "The experimental group is outside the stable API AI Gateway is pinned to, and InferenceObjective moved out of the extension after v1.0: objects of it would be left behind by an upgrade.",
        "The picker watches InferenceObjectives whether or not any exists, so the stack installs that kind's CRD (v1.0.2, pinned by commit) with the pool's, and creates no object of it.",
        "Any object of that group.",
        ("plan", "policy"),
    ),
)

# Disaggregated prefill and decode (the HyperPod operator's pdSpec). Source: AWS, "Disaggregated Prefill and Decode
# for HyperPod inference" (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-dpd.html).
RULES += (
    Rule(
        D1,
        "A DPD endpoint runs vLLM on an image with vLLM, LMCache and NIXL, sets its prefill and decode replicas and autoscaling per role, and gives every role pod its GPUs.",
        "AWS's DPD page names the worker images that carry vLLM, LMCache, NIXL and the EFA provider, says `worker.resources` is ignored for DPD pods and that each role needs GPU requests; a top-level replica count or autoscaler says nothing about which role scales.",
        "With `pdSpec` and no `image`, the image is AWS's `lmcache/vllm-openai:v0.4.3`; each role gets the worker's resources and the PD environment (`PD_BUFFER_SIZE`, `LMCACHE_SAVE_DECODE_CACHE=False`, `PYTHONHASHSEED=0`).",
        "`pdSpec` with SGLang, with an image other than AWS's two, with top-level `replicas` other than 1 or `autoscaling`; a DPD object without role GPU requests or without `PYTHONHASHSEED=0`.",
        ("fix", "validate", "policy"),
    ),
    Rule(
        D2,
        "A DPD endpoint runs on instance types with EFA and GPU-Direct RDMA that AWS lists for DPD.",
        "KV transfer off EFA falls back to CPU (AWS troubleshooting: below 1 GB/s); AWS lists ml.p5.48xlarge, ml.p5e.48xlarge, ml.p5en.48xlarge, ml.p6-b200.48xlarge and ml.p6-b300.48xlarge and no other type.",
        "",
        "`pdSpec` on any other type, each entry of `instanceTypes` included.",
        ("validate", "policy"),
    ),
    Rule(
        D3,
        "A DPD endpoint's routing threshold lets the workload's long prompts through the prefiller.",
        'A threshold above every input the endpoint sees sends all requests straight to the decoder: DPD pays for a prefill pool that is never used (AWS: "setting it too high limits TPOT improvement").',
        "",
        "A threshold above the largest input of the declared `load.workload` or the grid's benchmark (warning); without either, the plan says the threshold is unchecked.",
        ("validate", "driver"),
    ),
    Rule(
        D4,
        "A DPD endpoint is inside the range where AWS says DPD pays off: 70B+ dense model, 4,000+ input tokens, 2+ requests per second, 256+ output tokens.",
        'Disaggregation of a small model or short prompts costs a second GPU pool and a KV transfer per request for no latency gain (AWS: "a standard colocated deployment is simpler and performs well").',
        "",
        "A warning naming each condition the endpoint misses, from the model facts (models.lock.json) and `load`; a condition the stack cannot know is named unchecked.",
        ("validate",),
    ),
)
