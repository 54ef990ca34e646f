"""No module of components/, stacks/, benchmarks/, policies/ or tests/ grows past 24 KB: past that a file holds more
than one concern (the tuning grid was 29 KB of schema, checks and expansion; it is now stacks/tuning/grid_spec.py,
grid_checks.py, grid_points.py and grid.py; the HyperPod backend's rules were 36.6 KB of object, checks and fixes).
Split by concern, not by line count."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 24 * 1024
FOLDERS = ("components", "stacks", "benchmarks", "policies", "tests")


def oversized(root: Path = ROOT) -> dict[str, int]:
    return {
        p.relative_to(root).as_posix(): p.stat().st_size
        for folder in FOLDERS
        for p in (root / folder).rglob("*.py")
        if "__pycache__" not in p.parts and p.stat().st_size > MAX_BYTES
    }


def test_no_module_is_over_24_kb():
    assert len(list((ROOT / "tests").rglob("*.py"))) > 50 and len(list((ROOT / "components").rglob("*.py"))) > 50
    big = oversized()
    assert big == {}, f"split these by concern: {big}"


def test_size_check_catches_a_big_module_in_each_folder_and_lets_24_kb_pass(tmp_path):
    for folder in FOLDERS:
        (tmp_path / folder / "sub").mkdir(parents=True)
        (tmp_path / folder / "sub" / "big.py").write_text("#" * (MAX_BYTES + 1))
        (tmp_path / folder / "ok.py").write_text("#" * MAX_BYTES)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "big.py").write_text("#" * (MAX_BYTES + 1))  # outside the folders checked
    assert oversized(tmp_path) == {f"{folder}/sub/big.py": MAX_BYTES + 1 for folder in FOLDERS}
