"""The one reader (benchmarks/inputs.py) at every place a user's file comes in: what is not a regular
file is refused before it is opened, nesting is bounded before a parser builds anything, and what a
file expands to in memory is capped. Each case runs the real command in a subprocess under a hard
timeout, so a hang or a crash (SIGSEGV in PyYAML's C composer) fails the case instead of CI.

One test per class of hostile input, each over a table: add rows, not tests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from benchmarks.inputs import MAX_DEPTH
from tests import k8s_server as k

ROOT = Path(__file__).resolve().parents[2]
HARD_TIMEOUT = 60  # seconds: every case ends in about one; a hang is killed here and fails
NO_SERVER = "http://127.0.0.1:9"  # nothing is sent: every case fails before the first request
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  a: b\n"


def run(args: list[str], timeout: float = HARD_TIMEOUT) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(args)} did not end within {timeout} s (a read that blocks or never ends)")


def one_line_with(done: subprocess.CompletedProcess, phrase: str, name: str) -> str:
    """The one output line that says `phrase` and names the input; no traceback, no crash."""
    out = done.stdout + done.stderr
    assert done.returncode >= 0, f"killed by signal {-done.returncode}: {out[-500:]}"
    assert "Traceback" not in out, out[-2000:]
    hits = [line for line in out.splitlines() if phrase in line]
    assert len(hits) == 1, out[-2000:]
    assert name in hits[0], hits[0]
    assert len([line for line in out.splitlines() if line.strip()]) <= 2, out[-2000:]  # `tune` heads its problem list
    return hits[0]


# ---------------------------------------------------------------- the sites a user's file reaches


def _project(tmp: Path) -> None:
    (tmp / "project").mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp / "project" / name)


def _manifest(tmp: Path) -> Path:
    path = tmp / "cm.yaml"
    path.write_text(CONFIGMAP)
    return path


def _loadgen(*args: str) -> list[str]:
    return ["-m", "benchmarks", "run", "--url", NO_SERVER, "--model", "m", "--quiet", "--warmup", "0", *args]


class Site(NamedTuple):
    file: str  # where the user's file goes, under the test's directory
    command: Callable[[Path, Path], list[str]]  # (directory, file) -> arguments of `python`
    code: int = 2  # bad input
    setup: Callable[[Path], None] = lambda tmp: None


SITES: dict[str, Site] = {
    "stack file (plan)": Site(
        "project/Pulumi.dev.yaml",
        lambda t, p: [
            "-m",
            "stacks",
            "plan",
            "--stack",
            "dev",
            "--project-dir",
            str(p.parent),
            "--out",
            str(t / "out"),
        ],
        setup=_project,
    ),
    "grid (tune --dry-run)": Site(
        "grid.yaml", lambda t, p: ["-m", "stacks", "tune", str(p), "--dry-run", "--db", str(t / "t.db")]
    ),
    "manifest (stacks check FILE)": Site("pod.yaml", lambda t, p: ["-m", "stacks", "check", str(p)]),
    "--policy-config (stacks check)": Site(
        "policy.json", lambda t, p: ["-m", "stacks", "check", str(_manifest(t)), "--policy-config", str(p)]
    ),
    "--outputs (stacks status)": Site("outputs.json", lambda t, p: ["-m", "stacks", "status", "--outputs", str(p)]),
    "--db (stacks report)": Site("runs.db", lambda t, p: ["-m", "stacks", "report", "--db", str(p)]),
    "--trace (load generator)": Site("trace.jsonl", lambda t, p: _loadgen("--trace", str(p))),
    "--dataset (load generator)": Site("chat.jsonl", lambda t, p: _loadgen("--concurrency", "1", "--dataset", str(p))),
    "--api-keys (load generator)": Site("keys.json", lambda t, p: _loadgen("--concurrency", "1", "--api-keys", str(p))),
}


def place(tmp: Path, site: str) -> Path:
    SITES[site].setup(tmp)
    return tmp / SITES[site].file


# ---------------------------------------------------------------- class 1: not a regular file


def _socket(path: Path) -> None:
    # A socket's path must be short (108 bytes): bind in a short directory, link it where the file goes.
    directory = tempfile.mkdtemp(prefix="s", dir="/tmp")
    target = os.path.join(directory, "s")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(target)  # the socket file stays after the close
    os.symlink(target, path)


NON_REGULAR = {
    "fifo": (os.mkfifo, "is a FIFO (named pipe), not a regular file"),
    "/dev/zero": (lambda p: os.symlink("/dev/zero", p), "is a character device, not a regular file"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
    "socket": (_socket, "is a socket, not a regular file"),
}
# `stacks check` reads a directory as a folder of manifests: an empty one is its own one-line error.
NON_REGULAR_OVERRIDES = {("directory", "manifest (stacks check FILE)"): "no *.yaml or *.yml file in this directory"}


@pytest.mark.timeout(HARD_TIMEOUT * 2)
@pytest.mark.parametrize("site", sorted(SITES))
@pytest.mark.parametrize("kind", sorted(NON_REGULAR))
def test_reader_refuses_non_regular_files(tmp_path, kind, site):
    make, phrase = NON_REGULAR[kind]
    path = place(tmp_path, site)
    make(path)
    done = run(SITES[site].command(tmp_path, path))
    one_line_with(done, NON_REGULAR_OVERRIDES.get((kind, site), phrase), path.name)
    assert done.returncode == SITES[site].code, done.stdout + done.stderr


# ---------------------------------------------------------------- class 2: deep nesting

FLOW = "[" * 30_000 + "]" * 30_000  # 60 KB: PyYAML's C composer crashed on it (SIGSEGV)
BLOCK = "- " * 30_000 + "x\n"  # block style, two bytes a level: the same crash
JSON = "[" * 100_000 + "]" * 100_000  # json.loads: RecursionError
DEEP = f"nested more than {MAX_DEPTH} levels deep"
YAML_SITES = ("stack file (plan)", "grid (tune --dry-run)", "manifest (stacks check FILE)")
JSON_SITES = (
    "--policy-config (stacks check)",
    "--outputs (stacks status)",
    "--dataset (load generator)",
    "--api-keys (load generator)",
)


def _kubeconfig_output(tmp: Path, deep: str) -> list[str]:
    path = tmp / "outputs.json"
    path.write_text(json.dumps({"kubeconfig": deep, "endpoints": {"llama": {"backend": "hyperpod"}}}))
    return ["-m", "stacks", "status", "--outputs", str(path)]


def _mooncake(deep: str) -> str:
    return '{"timestamp": 0, "input_length": 10, "output_length": 4, "hash_ids": ' + deep + "}\n"


SNAPSHOT = "import sys\nfrom pathlib import Path\nfrom stacks.prices import snapshot\ntry:\n    snapshot.load('us-east-1', Path(sys.argv[1]))\nexcept snapshot.SnapshotError as e:\n    sys.exit(f'{e}')\n"

# Each row: (text, command given tmp -> argv, exit code, the name the line must carry).
# Each row: (command given the test's directory, exit code, what the line names).
NESTING: dict[str, tuple[Callable[[Path], list[str]], int, str]] = {
    **{
        f"{site} <- {name}": ((lambda t, s=site, x=text: _site_with(t, s, x)), 2, Path(SITES[site].file).name)
        for site in YAML_SITES
        for name, text in (("flow [x30000", FLOW), ("block - x30000", BLOCK), ("json [x100000", JSON))
    },
    **{
        f"{site} <- json [x100000": ((lambda t, s=site: _site_with(t, s, JSON)), 2, SITES[site].file)
        for site in JSON_SITES
    },
    "--trace native line <- [x100000": (lambda t: _loadgen("--trace", str(_write(t / "t.jsonl", JSON))), 2, "t.jsonl"),
    "--trace mooncake hash_ids <- [x100000": (
        lambda t: _loadgen("--trace", str(_write(t / "m.jsonl", _mooncake(JSON))), "--trace-format", "mooncake"),
        2,
        "m.jsonl",
    ),
    "price snapshot <- [x100000": (
        lambda t: (_write(t / "us-east-1.json", JSON), ["-c", SNAPSHOT, str(t)])[1],
        1,
        "us-east-1.json",
    ),
    "kubeconfig output (status) <- flow [x30000": (lambda t: _kubeconfig_output(t, FLOW), 2, "the `kubeconfig` output"),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _site_with(tmp: Path, site: str, text: str) -> list[str]:
    path = place(tmp, site)
    path.write_text(text)
    return SITES[site].command(tmp, path)


@pytest.mark.timeout(HARD_TIMEOUT * 2)
@pytest.mark.parametrize("row", sorted(NESTING))
def test_deep_nesting_is_one_line(tmp_path, row):
    command, code, name = NESTING[row]
    done = run(command(tmp_path))
    one_line_with(done, DEEP, name)
    assert done.returncode == code, done.stdout + done.stderr


@pytest.mark.timeout(HARD_TIMEOUT)
def test_deep_api_answer_is_one_line(tmp_path, kube_api):
    """The API server's answer is input too: a deep JSON body is the endpoint's one-line error (exit 1:
    the cluster, not the user's input, is at fault)."""
    kube_api.answer(k.IEC.format(ns="inference", name="llama"), k.Raw(JSON.encode()))
    outputs = tmp_path / "outputs.json"
    entry = {
        "backend": "hyperpod",
        "namespace": "inference",
        "resourceName": "llama",
        "url": "https://x/v1",
        "urlKind": "alb",
    }
    outputs.write_text(json.dumps({"kubeconfig": kube_api.kubeconfig(), "endpoints": {"llama": entry}}))
    done = run(["-m", "stacks", "status", "--outputs", str(outputs)])
    assert "Traceback" not in done.stdout + done.stderr and done.returncode == 1
    assert (
        f"llama: reading inferenceendpointconfigs.inference.sagemaker.aws.amazon.com inference/llama: {DEEP}\n"
        in done.stdout
    )


# ---------------------------------------------------------------- class 3: expansion caps

# Runs the load generator's command line and reports its own CPU seconds (getrusage) and peak memory.
# The peak is VmHWM, the high-water mark of this program's own address space: ru_maxrss survives
# execve and starts at the forking parent's size (pytest's, hundreds of MB), so it would measure pytest.
BUDGETED = (
    "import json, re, resource, sys\n"
    "from pathlib import Path\n"
    "from benchmarks.cli import main\n"
    "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
    "ru = resource.getrusage(resource.RUSAGE_SELF)\n"
    "peak_kb = int(re.search(r'VmHWM:\\s+(\\d+) kB', Path('/proc/self/status').read_text()).group(1))\n"
    "sys.stderr.write('\\nRUSAGE ' + json.dumps({'cpu': ru.ru_utime + ru.ru_stime, 'rss_mb': peak_kb / 1024}) + '\\n')\n"
    "sys.exit(code)\n"
)
CPU_BUDGET_S = 2.0  # imports included; the hostile Mooncake trace took 41 s before the caps
RSS_BUDGET_MB = 300  # the same trace took 8.3 GB


def _mooncake_lines(ids: list[int], length: int, count: int = 2) -> str:
    return "".join(
        json.dumps({"timestamp": i, "input_length": length, "output_length": 1, "hash_ids": ids}) + "\n"
        for i in range(count)
    )


def _azure_huge_field(tmp: Path) -> Path:
    return _write(
        tmp / "azure.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,10," + "4" * 200_000 + "\n",
    )


def _sparse(path: Path, megabytes: int) -> Path:
    with path.open("wb") as f:
        f.truncate(megabytes * 1024 * 1024)
    return path


# Each row: (command given tmp, exit code, phrase of the one line; None: the run goes on to send, bounded).
CAPS: dict[str, tuple[Callable[[Path], list[str]], int, str | None]] = {
    # The hostile trace: 3 MB, two requests, each naming 200,000 blocks they share.
    "mooncake: more hash_ids than input blocks": (
        lambda t: [
            "--trace",
            str(_write(t / "m.jsonl", _mooncake_lines(list(range(200_000)), 1_000_000))),
            "--trace-format",
            "mooncake",
        ],
        2,
        "200000 hash_ids for input_length=1000000, which has 1954 blocks of 512 tokens",
    ),
    # The most a line may ask for: 1,000,000 tokens in 1954 shared blocks, built for the two warm-up requests.
    "mooncake: the largest input, every block shared": (
        lambda t: [
            "--trace",
            str(_write(t / "m.jsonl", _mooncake_lines(list(range(1954)), 1_000_000))),
            "--trace-format",
            "mooncake",
            "--warmup",
            "2",
        ],
        1,
        None,
    ),
    "native trace: 20,001 prefix groups": (
        lambda t: [
            "--trace",
            str(
                _write(
                    t / "g.jsonl",
                    "".join(
                        json.dumps({"timestamp": 0, "input_tokens": 9, "output_tokens": 1, "prefix_group": i}) + "\n"
                        for i in range(20_001)
                    ),
                )
            ),
        ],
        2,
        "20,001 prefix groups of 256 tokens: over the limits of 10,000 groups",
    ),
    "trace: over 1,000,000 lines": (
        lambda t: ["--trace", str(_write(t / "n.jsonl", "\n" * 1_000_001))],
        2,
        "1,000,001 lines, over the limit of 1,000,000 requests",
    ),
    "azure: a field over csv's 128 KiB": (
        lambda t: ["--trace", str(_azure_huge_field(t)), "--trace-format", "azure"],
        2,
        "azure.csv:2: not a CSV row of the Azure trace (field larger than field limit",
    ),
    "dataset over --max-file-mb": (
        lambda t: ["--concurrency", "1", "--dataset", str(_sparse(t / "big.json", 2)), "--max-file-mb", "1"],
        2,
        "2097152 bytes is over the 1048576-byte limit for a dataset file",
    ),
    "--prefix-tokens 10^9": (
        lambda t: ["--concurrency", "1", "--prefix-tokens", "1000000000"],
        2,
        "--prefix-tokens: invalid value '1000000000': use a positive integer up to 1,000,000",
    ),
    "--prefix-tokens x --prefix-groups over 20M tokens": (
        lambda t: ["--concurrency", "1", "--prefix-tokens", "1000000", "--prefix-groups", "10000"],
        2,
        "10,000 groups of 1,000,000 tokens are over the limit of 20,000,000 prefix tokens",
    ),
    "--max-file-mb 10^9": (
        lambda t: ["--concurrency", "1", "--max-file-mb", "1e9"],
        2,
        "--max-file-mb: invalid value '1e9': use a positive number up to 4096",
    ),
    "--max-requests 10^12": (
        lambda t: ["--concurrency", "1", "--max-requests", "1000000000000"],
        2,
        "--max-requests: invalid value '1000000000000': use a positive integer up to 1,000,000",
    ),
}


@pytest.mark.timeout(HARD_TIMEOUT * 2)
@pytest.mark.parametrize("row", sorted(CAPS))
def test_expansion_caps(tmp_path, row):
    command, code, phrase = CAPS[row]
    done = run(
        ["-c", BUDGETED, "run", "--url", NO_SERVER, "--model", "m", "--quiet", "--warmup", "0", *command(tmp_path)]
    )
    out, _, usage = (done.stdout + done.stderr).rpartition("RUSAGE ")
    assert "Traceback" not in out and usage, out[-2000:]
    spent = json.loads(usage)
    assert done.returncode == code, out[-2000:]
    if phrase is not None:
        one_line_with(subprocess.CompletedProcess(done.args, code, out, ""), phrase, "")
    assert spent["cpu"] < CPU_BUDGET_S and spent["rss_mb"] < RSS_BUDGET_MB, spent


# ---------------------------------------------------------------- behind the stat check


def _swapped_for_a_fifo(tmp: Path, monkeypatch) -> Path:
    """`stat` saw a regular file; a FIFO is there by the open (the race O_NONBLOCK and fstat close)."""
    path, regular = tmp / "trace.jsonl", tmp / "regular"
    regular.write_text("{}\n")
    os.mkfifo(path)
    real = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **kw: real(regular) if Path(p) == path else real(p, *a, **kw))
    return path


def _device_that_got_through(tmp: Path, monkeypatch) -> Path:
    """/dev/zero passing both checks: only counting the bytes read stops it."""
    from benchmarks import inputs

    monkeypatch.setattr(inputs, "file_kind", lambda mode: None)
    return Path("/dev/zero")


GUARDS = {
    "swapped for a FIFO after the check": (_swapped_for_a_fifo, "is a FIFO (named pipe), not a regular file"),
    "/dev/zero past both checks": (_device_that_got_through, "more than the 4096-byte limit for a trace file"),
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("row", sorted(GUARDS))
def test_reader_guards_behind_the_stat_check(tmp_path, monkeypatch, row):
    from benchmarks import inputs

    make, phrase = GUARDS[row]
    path = make(tmp_path, monkeypatch)
    with pytest.raises(inputs.InputError) as err:
        inputs.read_text(path, max_bytes=4096, what="trace file", fix="give the trace file itself")
    assert str(err.value).startswith(f"{path}: ") and phrase in str(err.value)
