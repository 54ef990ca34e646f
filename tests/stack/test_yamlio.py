"""stacks/yamlio.py: the one YAML loader. Ordinary YAML loads as PyYAML's safe loader would; duplicate
keys, alias bombs, recursive aliases, binary and oversized input are YamlInputError naming the file."""

from __future__ import annotations

import pytest

from stacks import yamlio
from stacks.yamlio import YamlInputError


def test_ordinary_yaml_loads_with_anchors_and_merge_keys():
    text = "base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3\nlist: [*b, *b]\n"
    doc = yamlio.load_text(text, "x.yaml")
    assert doc["derived"] == {"a": 1, "b": 3}
    assert doc["list"] == [{"a": 1, "b": 2}, {"a": 1, "b": 2}]


def test_multi_document_and_empty_documents():
    assert list(yamlio.load_all_text("a: 1\n---\n---\nb: 2\n", "m.yaml")) == [{"a": 1}, None, {"b": 2}]
    assert yamlio.load_text("", "empty.yaml") is None


def test_duplicate_key_names_the_key_and_both_lines():
    with pytest.raises(YamlInputError) as err:
        yamlio.load_text("config:\n  a: 1\n  b: 2\n  a: 3\n", "Pulumi.dev.yaml")
    assert str(err.value) == (
        "Pulumi.dev.yaml: line 4, column 3: not valid YAML: duplicate key 'a' (first at line 2); "
        "YAML keeps only the last, so one of them would be dropped silently"
    )


def test_duplicate_key_in_a_later_document_is_found():
    with pytest.raises(YamlInputError, match=r"m.yaml: line 4, column 1: .*duplicate key 'k' \(first at line 3\)"):
        list(yamlio.load_all_text("a: 1\n---\nk: 1\nk: 2\n", "m.yaml"))


def test_alias_bomb_is_refused_by_expanded_size():
    levels = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    with pytest.raises(YamlInputError, match=r"^bomb.yaml: expands to more than 1,000,000 nodes through aliases"):
        yamlio.load_text("\n".join(levels), "bomb.yaml")


def test_max_nodes_is_the_bound():
    text = "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n"  # 1 + 2 keys + 4 (a) + 1 + 3*4 (b) = 20 nodes
    assert yamlio.load_text(text, "s.yaml", max_nodes=20)["b"][2] == [1, 2, 3]
    with pytest.raises(YamlInputError, match="more than 19 nodes"):
        yamlio.load_text(text, "s.yaml", max_nodes=19)


def test_recursive_alias_is_refused():
    with pytest.raises(YamlInputError, match=r"^r.yaml: a recursive alias"):
        yamlio.load_text("a: &a [1, *a]\n", "r.yaml")


def test_binary_and_non_utf8_files_are_named(tmp_path):
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"a: 1\n\x00")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("a: caf\xe9\n".encode("latin-1"))
    with pytest.raises(YamlInputError, match=r"nul.yaml: binary data \(a NUL byte at offset 5\)"):
        yamlio.load_file(nul)
    with pytest.raises(YamlInputError, match=r"latin.yaml: not UTF-8 text \(byte 0xe9 at offset 6\)"):
        yamlio.load_file(latin)


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert yamlio.load_file(path) == {"a": 1}


def test_size_limit_directory_and_missing_file(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("".join(f"k{i}: {i}\n" for i in range(10)))  # 60 bytes
    with pytest.raises(YamlInputError, match=r"big.yaml: 60 bytes is over the 59-byte limit"):
        yamlio.load_file(big, max_bytes=59)
    assert yamlio.load_file(big, max_bytes=60)["k9"] == 9
    with pytest.raises(YamlInputError, match="is a directory"):
        yamlio.load_file(tmp_path)
    with pytest.raises(YamlInputError, match=r"missing.yaml: cannot read \(No such file or directory\)"):
        yamlio.load_file(tmp_path / "missing.yaml")


def test_several_documents_where_one_was_expected():
    with pytest.raises(YamlInputError, match=r"two.yaml: 2 YAML documents where one was expected"):
        yamlio.load_text("a: 1\n---\nb: 2\n", "two.yaml")


def test_syntax_error_names_line_and_column():
    with pytest.raises(YamlInputError, match=r"^bad.yaml: line 2, column 1: not valid YAML"):
        yamlio.load_text("kind: [\n", "bad.yaml")
