"""Layers unpacked once per zip and shared; several layers still merge into one /opt."""

from __future__ import annotations

import zipfile
from pathlib import Path

from localcloud.layers import materialize


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in files.items():
            zipped.writestr(name, text)
    return path


def test_functions_with_the_same_layer_share_one_unpacked_copy(tmp_path: Path) -> None:
    layer = _zip(tmp_path / "deps.zip", {"python/dep.py": "VALUE = 1\n"})
    cache = tmp_path / "layers"
    materialize([layer], tmp_path / "a" / "opt", cache)
    materialize([layer], tmp_path / "b" / "opt", cache)
    assert (tmp_path / "a" / "opt").resolve() == (tmp_path / "b" / "opt").resolve()
    assert (tmp_path / "b" / "opt" / "python" / "dep.py").read_text() == "VALUE = 1\n"
    assert len(list(cache.iterdir())) == 1


def test_a_changed_layer_zip_is_unpacked_again(tmp_path: Path) -> None:
    cache = tmp_path / "layers"
    materialize([_zip(tmp_path / "deps.zip", {"python/dep.py": "VALUE = 1\n"})], tmp_path / "a" / "opt", cache)
    materialize([_zip(tmp_path / "deps.zip", {"python/dep.py": "VALUE = 22\n"})], tmp_path / "b" / "opt", cache)
    assert (tmp_path / "a" / "opt" / "python" / "dep.py").read_text() == "VALUE = 1\n"
    assert (tmp_path / "b" / "opt" / "python" / "dep.py").read_text() == "VALUE = 22\n"


def test_several_layers_merge_into_the_function_s_own_opt(tmp_path: Path) -> None:
    first = _zip(tmp_path / "one.zip", {"python/one.py": ""})
    second = _zip(tmp_path / "two.zip", {"python/two.py": ""})
    materialize([first, second], tmp_path / "fn" / "opt", tmp_path / "layers")
    assert not (tmp_path / "fn" / "opt").is_symlink()
    assert sorted(p.name for p in (tmp_path / "fn" / "opt" / "python").iterdir()) == ["one.py", "two.py"]
