"""The load generator against a loopback gateway that applies the rendered objects
(keys once on the Gateway, the route by model, the tenant's allow-list, then the tier's limits per key
and minute counted from `usage`): 429 is `rate_limited`, not an error, the per-tenant report shows the
free tier cut off at its limit, and a tenant reaches only its models whichever route is older."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request

import pytest

from benchmarks import cli
from benchmarks.loadgen import BenchmarkConfig, run_benchmark_sync
from components.rules.gateway import config, render
from components.rules.spec import PlatformSpec

from .helpers import endpoints, gateway
from .limiter_server import LimiterServer, tier_table

KEYS = {"team-a": "sk-team-a-0123456789", "team-b": "sk-team-b-0123456789"}
MINUTE_START = 1_800_000_000.0  # a fixed clock: the test never crosses a minute


def _objects(reverse_routes: bool = False, **overrides):
    spec = gateway(**overrides)
    routes = config.upstreams(endpoints(), PlatformSpec())
    return render.render(spec, list(reversed(routes)) if reverse_routes else routes, [KEYS["team-a"], KEYS["team-b"]])


MODEL_A = "Qwen3-4B-Instruct-2507"  # qwen3-4b-vllm: team-a's one model
MODEL_B = "Qwen3-0.6B"  # qwen3-0-6b-vllm-kserve: team-b only


def _call(url: str, model: str, key: str = "", extra: dict | None = None) -> int:
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": True}
    ).encode()
    headers = {"Content-Type": "application/json", **({"x-api-key": key} if key else {}), **(extra or {})}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(f"{url}/v1/chat/completions", data=body, headers=headers), timeout=10
        ) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def _statuses(objects, extra: dict | None = None) -> dict[tuple[str, str], int]:
    server = LimiterServer(objects, clock=lambda: MINUTE_START).start()
    try:
        return {
            (tenant, model): _call(server.url, model, KEYS[tenant], extra)
            for tenant in ("team-a", "team-b")
            for model in (MODEL_A, MODEL_B)
        }
    finally:
        server.stop()


@pytest.fixture
def limiter():
    server = LimiterServer(_objects(), clock=lambda: MINUTE_START).start()
    yield server
    server.stop()


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps([{"tenant": t, "key": k} for t, k in KEYS.items()]))
    return str(path)


def _run(url: str, keys_file: str, requests: int = 20):
    # D(20,30): every response's usage is 20 + 30 = 50 tokens.
    cfg = BenchmarkConfig(
        url=url,
        model="Qwen3-4B-Instruct-2507",
        scenario="D(20,30)",
        concurrency=(1,),
        max_requests=requests,
        max_seconds=30,
        timeout=10,
        warmup=0,
        engine_metrics=False,
        api_keys=keys_file,
    )
    return run_benchmark_sync(cfg)


def test_limiter_reads_exactly_the_configured_numbers_from_the_rendered_objects():
    keys, limits = tier_table(_objects())
    assert keys == {KEYS["team-a"]: "team-a", KEYS["team-b"]: "team-b"}
    assert limits == {"team-a": {"tokens": 200, "requests": 20}, "team-b": {"tokens": 5000}}


def test_free_tier_cut_off_at_200_tokens_per_minute_and_429_is_rate_limited_not_error(limiter, keys_file):
    result = _run(limiter.url, keys_file)
    (level,) = result.levels
    # team-a (free, 200): admitted at 0, 50, 100, 150 tokens used; refused from 200 on.
    assert level.tenants["team-a"] == {
        "sent": 10,
        "ok": 4,
        "rate_limited": 6,
        "errors": 0,
        "shed": 0,
        "tokens": 200,
        "first_rate_limited": 4,
        "last_limits": {
            "x-ratelimit-limit": "200",
            "x-ratelimit-remaining": "0",
            "x-tokens-limit": "200",
            "x-tokens-used": "200",
            "x-tokens-remaining": "0",
        },
    }
    # team-b (enterprise, 5000) is not limited at the same load.
    assert {k: level.tenants["team-b"][k] for k in ("sent", "ok", "rate_limited", "errors", "tokens")} == {
        "sent": 10,
        "ok": 10,
        "rate_limited": 0,
        "errors": 0,
        "tokens": 500,
    }
    assert (level.completed, level.failed, level.rate_limited, level.errors, level.error_rate) == (14, 0, 6, {}, 0.0)
    assert result.all_failed is None


def test_requests_per_minute_limit_applies_besides_tokens(keys_file):
    tiers = [
        {"name": "free", "tokensPerMinute": 10_000, "requestsPerMinute": 3},
        {"name": "enterprise", "tokensPerMinute": 5000},
    ]
    server = LimiterServer(_objects(tiers=tiers), clock=lambda: MINUTE_START).start()
    try:
        level = _run(server.url, keys_file, requests=10).levels[0]
    finally:
        server.stop()
    assert (level.tenants["team-a"]["ok"], level.tenants["team-a"]["rate_limited"]) == (3, 2)


def test_remaining_headers_recorded_on_each_request(limiter, keys_file):
    level = _run(limiter.url, keys_file, requests=4).levels[0]
    remaining = [(r.tenant, r.limits["x-ratelimit-remaining"]) for r in sorted(level.records, key=lambda r: r.index)]
    assert remaining == [("team-a", "200"), ("team-b", "5000"), ("team-a", "150"), ("team-b", "4950")]


def test_cli_api_keys_prints_the_per_tenant_report(limiter, keys_file, capsys):
    code = cli.main(
        [
            "run",
            "--url",
            limiter.url,
            "--model",
            "Qwen3-4B-Instruct-2507",
            "--scenario",
            "D(20,30)",
            "--concurrency",
            "1",
            "--max-requests",
            "20",
            "--warmup",
            "0",
            "--no-engine-metrics",
            "--quiet",
            "--api-keys",
            keys_file,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    team_a = next(line for line in out.splitlines() if "team-a" in line)
    assert [cell.strip() for cell in team_a.strip("│ ").split("│")][:7] == ["team-a", "10", "4", "6", "0", "200", "4"]
    assert KEYS["team-a"] not in out


@pytest.mark.parametrize(
    "content, why", [("not json", "is not JSON"), ("[]", "holds no keys"), ('[{"tenant": "a"}]', "entry 0")]
)
def test_cli_bad_keys_file_exits_2_naming_the_option(tmp_path, capsys, content, why):
    path = tmp_path / "keys.json"
    path.write_text(content)
    code = cli.main(
        ["run", "--url", "http://127.0.0.1:9", "--model", "m", "--concurrency", "1", "--api-keys", str(path)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--api-keys" in err and why in err and "Traceback" not in err


def test_sessions_carry_one_tenants_key_with_the_session_id_and_a_429_ends_the_session(limiter, keys_file):
    # Three-turn sessions, alternating tenants by session. team-a (free, 200 tokens at 50 a turn) is
    # cut off on its 5th request: the 2nd turn of its 3rd session, which then sends no 3rd turn.
    cfg = BenchmarkConfig(
        url=limiter.url,
        model="Qwen3-4B-Instruct-2507",
        scenario="D(20,30)",
        concurrency=(1,),
        max_requests=12,
        max_seconds=30,
        timeout=10,
        warmup=0,
        engine_metrics=False,
        api_keys=keys_file,
        turns=3,
    )
    (level,) = run_benchmark_sync(cfg).levels
    sent = [(h["x-api-key"], h["Authorization"], h["X-Session-Id"]) for h in limiter.headers]
    sessions: dict[str, set[str]] = {}
    for key, bearer, session in sent:
        assert bearer == f"Bearer {key}"
        sessions.setdefault(session, set()).add(key)
    assert all(len(keys) == 1 for keys in sessions.values())  # every turn of a session: one tenant's key
    team_a = sorted((r for r in level.records if r.tenant == "team-a"), key=lambda r: r.index)
    assert [(r.turn, r.ok, r.rate_limited) for r in team_a] == [
        (1, True, False),
        (2, True, False),
        (3, True, False),
        (1, True, False),
        (2, False, True),
        (1, False, True),
    ]
    assert (
        level.tenants["team-a"]["rate_limited"],
        level.tenants["team-b"]["ok"],
        level.failed,
        level.rate_limited,
    ) == (2, 6, 0, 2)


def test_rate_limited_levels_keep_the_scrapers_verdict(limiter, keys_file):
    # A gateway serves no engine /metrics: the scraper says so once; the 429s stay rate_limited.
    cfg = BenchmarkConfig(
        url=limiter.url,
        model="Qwen3-4B-Instruct-2507",
        scenario="D(20,30)",
        concurrency=(1,),
        max_requests=20,
        max_seconds=30,
        timeout=10,
        warmup=2,
        engine_metrics=True,
        api_keys=keys_file,
    )
    result = run_benchmark_sync(cfg)
    (level,) = result.levels
    assert result.aborted is None and result.warmup["failed"] == 0
    assert level.engine_metrics is None and any(
        w.startswith("engine metrics off: ") and "HTTP 404" in w for w in result.warnings
    )
    assert (level.failed, level.errors) == (0, {}) and level.rate_limited > 0


@pytest.mark.parametrize("reverse_routes", [False, True], ids=["route-a-older", "route-b-older"])
def test_T2_tenant_reaches_only_its_models_whichever_route_is_older(reverse_routes):
    """One SecurityPolicy on the Gateway checks the key before AI Gateway picks the route (envoyproxy/
    gateway@v1.8.1 internal/xds/translator/httpfilters.go: api_key_auth 6, ext_proc 100+, rbac 301);
    the allow-list is judged on the model AI Gateway set (envoyproxy/ai-gateway@v1.1.0
    internal/extproc/processor_impl.go). The order in which the routes were created does not matter."""
    objects = _objects(reverse_routes=reverse_routes)
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "AIGatewayRoute"][0] == (
        "qwen3-0-6b-vllm-kserve" if reverse_routes else "qwen3-4b-vllm"
    )
    assert _statuses(objects) == {
        ("team-a", MODEL_A): 200,
        ("team-a", MODEL_B): 403,
        ("team-b", MODEL_A): 200,
        ("team-b", MODEL_B): 200,
    }


def test_T2_no_key_unknown_key_and_unknown_model():
    server = LimiterServer(_objects(), clock=lambda: MINUTE_START).start()
    try:
        assert (
            _call(server.url, MODEL_A),
            _call(server.url, MODEL_A, "sk-nobody"),
            _call(server.url, "llama-70b", KEYS["team-b"]),
        ) == (401, 401, 404)
    finally:
        server.stop()


def test_T2_a_clients_own_tenant_header_neither_keys_the_limits_nor_the_allow_list():
    server = LimiterServer(_objects(), clock=lambda: MINUTE_START).start()
    try:
        assert _call(server.url, MODEL_B, KEYS["team-a"], {"x-tenant-id": "team-b"}) == 403
        assert _call(server.url, MODEL_A, KEYS["team-a"], {"x-tenant-id": "team-b"}) == 200
    finally:
        server.stop()
    # The upstream sees the tenant of the key, never the key.
    (upstream,) = server.upstream_headers
    assert upstream["x-tenant-id"] == "team-a" and "x-api-key" not in upstream


def _keys_per_route(objects):
    """The design the Gateway policy replaced, derived from the rendered objects: one SecurityPolicy per
    generated HTTPRoute listing the keys of the tenants its model allows."""
    gateway_policy = next(o for o in objects if o["kind"] == "SecurityPolicy")
    rules = gateway_policy["spec"]["authorization"]["rules"]
    out = [o for o in objects if o["kind"] != "SecurityPolicy"]
    for route in [o for o in objects if o["kind"] == "AIGatewayRoute"]:
        model = route["spec"]["rules"][0]["matches"][0]["headers"][0]["value"]
        allowed = [
            r["name"]
            for r in rules
            if all(model in h["values"] for h in r["principal"]["headers"] if h["name"] == "x-ai-eg-model")
        ]
        policy = copy.deepcopy(gateway_policy)
        policy["metadata"]["name"] = f"{route['metadata']['name']}-tenants"
        policy["spec"] = {
            "targetRefs": [
                {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": route["metadata"]["name"]}
            ],
            "apiKeyAuth": {
                **policy["spec"]["apiKeyAuth"],
                "credentialRefs": [
                    c
                    for c in policy["spec"]["apiKeyAuth"]["credentialRefs"]
                    if c["name"] in {f"tenant-{t}" for t in allowed}
                ],
            },
        }
        out.append(policy)
    return out


def test_T2_keys_checked_per_route_fail_when_another_route_is_older():
    # What the stand-in catches: with per-route key policies the key is judged by the oldest route's
    # catch-all, so team-a gets 401 on its own model once team-b's route is older.
    assert _statuses(_keys_per_route(_objects(reverse_routes=False)))[("team-a", MODEL_A)] == 200
    assert _statuses(_keys_per_route(_objects(reverse_routes=True)))[("team-a", MODEL_A)] == 401
