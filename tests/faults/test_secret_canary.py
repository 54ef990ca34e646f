"""Secrets are scrubbed by value (benchmarks/secrets.py): one canary secret is planted in every place a secret
can enter (stack file env values, an `extraArgs` attempt, URL user info, a Pulumi `secure:` value, a grid's
`local.env`, an `--api-keys` file, a server that echoes the key back, Secret data for `stacks check`), the real
commands run (`plan --out --json`, `check` and `check --json`, the load generator against a loopback server,
`tune` on the fake engine, `report --export-capacity`), and every output is searched: stdout, stderr, every file
written, the SQLite database's bytes. Neither the canary nor any 8 characters of it may appear.

Each row is (where the canary goes in, the command that reads it). The registry is emptied before each row (the
autouse fixture in tests/conftest.py), as each command starts in a fresh process."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks import cli as loadgen_cli
from benchmarks.secrets import FRAGMENT
from stacks import plan as plan_cmd
from stacks.__main__ import main as stacks_cli
from tests.loadgen.scripted_server import ScriptedServer

CANARY = "CANARY-5ecret-7f3a9c"
PIECES = [CANARY[i : i + FRAGMENT] for i in range(len(CANARY) - FRAGMENT + 1)]  # any longer leak holds one
PROJECT = Path(plan_cmd.__file__).resolve().parent.parent
GRIDS = PROJECT / "stacks" / "grids"


def leaks(data: bytes) -> list[str]:
    return [piece for piece in PIECES if piece.encode() in data]


def written(out: Path) -> dict[str, bytes]:
    """Every file under `out`, by path relative to it."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def assert_no_canary(capsys: Any, out: Path) -> dict[str, bytes]:
    captured = capsys.readouterr()
    found = {"stdout": captured.out.encode(), "stderr": captured.err.encode(), **written(out)}
    leaked = {name: leaks(data) for name, data in found.items() if leaks(data)}
    assert leaked == {}, f"the canary leaked into {sorted(leaked)}"
    return found


def test_leak_check_finds_a_prefix_and_an_echo():
    # The check itself: 8 characters of the canary anywhere count, 7 do not.
    assert leaks(f"quoted: '{CANARY[:8]}...'".encode()) == [CANARY[:8]]
    assert leaks(f"echo {CANARY[-9:]}".encode()) == PIECES[-2:]
    assert leaks(CANARY[:7].encode()) == []


# ---------------------------------------------------------------- the offline plan


def _dev_config() -> dict[str, Any]:
    return yaml.safe_load((PROJECT / "Pulumi.dev.yaml").read_text())


def _vllm(config: dict[str, Any]) -> dict[str, Any]:
    return next(ep for ep in config["config"]["llm-serving:endpoints"] if ep["engine"] == "vllm")


def _env(config, name, value):
    _vllm(config).setdefault("env", {})[name] = value


PLAN_ROWS: list[tuple[str, Callable[[dict[str, Any]], None], int]] = [
    ("env HF_TOKEN, a plain value", lambda c: _env(c, "HF_TOKEN", CANARY), 2),
    ("env HF_TOKEN with a control character", lambda c: _env(c, "HF_TOKEN", CANARY + "\x07"), 2),
    ("env VLLM_API_KEY over-long, shown shortened", lambda c: _env(c, "VLLM_API_KEY", CANARY * 14000), 2),
    ("env HF_TOKEN as a Pulumi secret", lambda c: _env(c, "HF_TOKEN", {"secure": f"v1:{CANARY}"}), 2),
    (
        "env value under a plain name as a Pulumi secret (accepted)",
        lambda c: _env(c, "WANDB_PROJECT", {"secure": f"v1:{CANARY}"}),
        0,
    ),
    ("a Pulumi secret where a name belongs", lambda c: _vllm(c).update(namespace={"secure": f"v1:{CANARY}"}), 2),
    (
        "a Pulumi secret as a whole project key (a kubeconfig)",
        lambda c: c["config"].update({"llm-serving:kubeconfig": {"secure": f"v1:{CANARY}"}}),
        0,
    ),
    ("extraArgs --hf-token VALUE", lambda c: _vllm(c).update(extraArgs=["--hf-token", CANARY]), 2),
    ("extraArgs --hf_token=VALUE", lambda c: _vllm(c).update(extraArgs=[f"--hf_token={CANARY}"]), 2),
    ("extraArgs --api-key VALUE", lambda c: _vllm(c).update(extraArgs=["--api-key", CANARY]), 2),
    (
        "kvCache.l2LocalUrl user info",
        lambda c: _vllm(c).update(kvCache={"l1": True, "l2LocalUrl": f"redis://default:{CANARY}@cache:6379"}),
        2,
    ),
    (
        "prometheus.serverAddress user info",
        lambda c: _vllm(c)["autoscaling"].update(
            cloudwatch=None,
            prometheus={"query": "sum(up)", "targetValue": 8, "serverAddress": f"https://{CANARY}@prom.example/"},
        ),
        2,
    ),
    ("a URL with user info in an env value", lambda c: _env(c, "CACHE_URL", f"redis://u:{CANARY}@cache:6379"), 2),
]


@pytest.mark.parametrize("place, plant, code", PLAN_ROWS, ids=[row[0] for row in PLAN_ROWS])
def test_plan_with_out_and_json_never_shows_the_canary(tmp_path, capsys, place, plant, code):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT / name, project / name)
    config = _dev_config()
    plant(config)
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    out = tmp_path / "out"
    out.mkdir()
    result = stacks_cli(
        [
            "plan",
            "--stack",
            "dev",
            "--project-dir",
            str(project),
            "--out",
            str(out / "plan"),
            "--json",
            str(out / "plan.json"),
        ]
    )
    found = assert_no_canary(capsys, out)
    assert result == code, found["stdout"].decode()[-2000:]
    if code == 0:  # the plan ran: its files exist and hold the marker where the secret was
        assert "plan.json" in found and any(name.startswith("plan/") for name in found)
    else:
        assert b"Fix: " in found["stdout"]


def test_accepted_pulumi_secret_is_redacted_in_the_plan_files(tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT / name, project / name)
    config = _dev_config()
    _env(config, "WANDB_PROJECT", {"secure": f"v1:{CANARY}"})
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert stacks_cli(["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(tmp_path / "plan")]) == 0
    capsys.readouterr()
    text = "".join(p.read_text() for p in (tmp_path / "plan").glob("*.yaml"))
    assert "name: WANDB_PROJECT\n" in text and "value: '[secret]'" in text


# ---------------------------------------------------------------- stacks check


def _secret(name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "x"}, **fields}


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "engine", "namespace": "x"},
    "spec": {
        "selector": {"matchLabels": {"app": "e"}},
        "template": {
            "metadata": {"labels": {"app": "e"}},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "vllm/vllm-openai:v0.10.1",
                        "env": [{"name": "HF_TOKEN", "value": CANARY}],
                        "args": ["--api-key", CANARY],
                    }
                ]
            },
        },
    },
}
CHECK_ROWS = [
    ("Secret stringData of the wrong type", _secret("s1", stringData={"token": [CANARY]})),
    ("Secret stringData that is a string", _secret("s2", stringData=CANARY)),
    ("Secret data that is a map", _secret("s3", data={"token": {"nested": CANARY}})),
    (
        "Secret data in base64, and a stray key",
        _secret("s4", data={"token": base64.b64encode(CANARY.encode()).decode()}, extra=CANARY),
    ),
    ("a Deployment's HF_TOKEN env value", DEPLOYMENT),
    (
        "a ConfigMap with a URL password",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "x"},
            "data": {"url": f"redis://u:{CANARY}@h", "api_key": CANARY},
        },
    ),
]


@pytest.mark.parametrize("as_json", [False, True], ids=["lines", "json"])
@pytest.mark.parametrize("place, document", CHECK_ROWS, ids=[row[0] for row in CHECK_ROWS])
def test_check_never_shows_the_canary(tmp_path, capsys, place, document, as_json):
    manifests = tmp_path / "in" / "m.yaml"
    manifests.parent.mkdir()
    manifests.write_text(yaml.safe_dump(document))
    out = tmp_path / "out"
    out.mkdir()
    code = stacks_cli(["check", str(manifests)] + (["--json"] if as_json else []))
    found = assert_no_canary(capsys, out)
    assert code == 1, found["stdout"].decode()  # every row is refused by a schema or a policy
    if as_json:
        json.loads(found["stdout"])


# ---------------------------------------------------------------- the load generator


@pytest.fixture(scope="module")
def server():
    s = ScriptedServer().start()
    yield s
    s.stop()


def _keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "keys.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps([{"tenant": "team-a", "key": CANARY}, {"tenant": "team-b", "key": CANARY + "-b"}]))
    return path


LOADGEN_ROWS: list[tuple[str, Callable[[Any, Path], list[str]], int]] = [
    ("--url with a password", lambda s, t: ["--url", s.url.replace("://", f"://user:{CANARY}@"), "--model", "fast"], 2),
    (
        "--url with a token as the user",
        lambda s, t: ["--url", s.url.replace("://", f"://{CANARY}@"), "--model", "fast"],
        2,
    ),
    (
        "--metrics-url with a password",
        lambda s, t: [
            "--url",
            s.url,
            "--model",
            "fast",
            "--metrics-url",
            s.url.replace("://", f"://u:{CANARY}@") + "/metrics",
        ],
        2,
    ),
    ("--api-key echoed in a 401 body", lambda s, t: ["--url", s.url, "--model", "echo-key", "--api-key", CANARY], 1),
    (
        "--api-keys file echoed in a 401 body",
        lambda s, t: ["--url", s.url, "--model", "echo-key", "--api-keys", str(_keys_file(t))],
        1,
    ),
    (
        "--api-keys file echoed in a rate-limit header",
        lambda s, t: ["--url", s.url, "--model", "echo-key-header", "--api-keys", str(_keys_file(t))],
        0,
    ),
]


@pytest.mark.parametrize("place, args, code", LOADGEN_ROWS, ids=[row[0] for row in LOADGEN_ROWS])
def test_load_generator_never_writes_the_canary(tmp_path, capsys, server, place, args, code):
    out = tmp_path / "out"
    out.mkdir()
    argv = [
        "run",
        *args(server, tmp_path),
        "--concurrency",
        "2",
        "--max-requests",
        "4",
        "--warmup",
        "0",
        "--quiet",
        "--no-engine-metrics",
        "--out",
        str(out / "results.json"),
        "--export",
        f"genai-bench:{out / 'gb.json'}",
        "--export",
        f"inference-perf:{out / 'ip.json'}",
    ]
    result = loadgen_cli.main(argv)
    found = assert_no_canary(capsys, out)
    assert result == code, found["stderr"].decode()
    if code == 2:
        assert "--api-key" in found["stderr"].decode() and "results.json" not in found
    else:
        results = json.loads(found["results.json"])
        assert {"gb.json", "ip.json"} <= set(found)
        if "echo-key" in args(server, tmp_path):  # the echo was kept, the key in it was not
            assert "invalid API key" in json.dumps(results["levels"][0]["errors"])


def test_the_echo_server_does_echo_the_key(server):
    # Without the scrubber the rows above would see the canary: the server really sends it back.
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{server.url}/v1/chat/completions",
        data=b'{"model": "echo-key"}',
        headers={"Authorization": f"Bearer {CANARY}"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert CANARY in info.value.read().decode()


# ---------------------------------------------------------------- tuning: tune, report, capacity export


def _grid(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    grid = yaml.safe_load((GRIDS / "fake-engine-test.yaml").read_text())
    grid.update(parameters={"engineArgs.maxNumSeqs": [2]}, repeats=1)
    grid["benchmark"].update(maxRequests=8, concurrency=[2])
    grid["local"].update(modelDir=str(tmp_path / "model"))  # the grid runs the stand-in engine
    change(grid)
    path = tmp_path / "in" / "grid.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(grid, sort_keys=False))
    return path


TUNE_ROWS: list[tuple[str, Callable[[dict[str, Any]], None], list[str], int]] = [
    ("grid local.env HF_TOKEN", lambda g: g["local"].update(env={"HF_TOKEN": CANARY, "HF_HOME": "/tmp/hf"}), [], 0),
    (
        "grid local.env token that the engine echoes in its error bodies",
        lambda g: g["local"].update(
            env={"HF_TOKEN": CANARY}, extraArgs=["--fail-every", "1", "--error-body", f"bad token {CANARY}"]
        ),
        [],
        1,
    ),
    ("grid local.extraArgs --hf-token", lambda g: g["local"].update(extraArgs=["--hf-token", CANARY]), [], 2),
    ("grid base env HF_TOKEN (pruned by S3)", lambda g: g["base"].update(env={"HF_TOKEN": CANARY}), ["--dry-run"], 1),
    (
        "grid base extraArgs --password (pruned)",
        lambda g: g["base"].update(extraArgs=[f"--password={CANARY}"]),
        ["--dry-run"],
        1,
    ),
    (
        "grid base kvCache URL with user info (pruned)",
        lambda g: g["base"].update(env={"CACHE_URL": f"redis://u:{CANARY}@h"}),
        ["--dry-run"],
        1,
    ),
]


@pytest.mark.parametrize("place, change, extra, code", TUNE_ROWS, ids=[row[0] for row in TUNE_ROWS])
def test_tune_report_and_capacity_export_never_store_the_canary(tmp_path, capsys, place, change, extra, code):
    grid = _grid(tmp_path, change)
    out = tmp_path / "out"
    out.mkdir()
    db = out / "runs.db"
    result = stacks_cli(["tune", str(grid), "--target", "local", "--db", str(db), *extra])
    tuned = assert_no_canary(capsys, out)
    assert result == code, tuned["stdout"].decode()[-3000:]
    if not db.exists():
        return
    assert tuned["runs.db"].startswith(b"SQLite format 3")
    assert b"HF_TOKEN" in tuned["runs.db"] or "env" not in place  # the grid is stored, its token is not
    assert (
        stacks_cli(["report", "--db", str(db), "--out", str(out / "again"), "--export-capacity", str(out / "capacity")])
        == 0
    )
    found = assert_no_canary(capsys, out)
    if code == 0:
        assert any(name.startswith("capacity/") for name in found), sorted(found)
