"""The public surface: lazy imports (PEP 562), sorted ``__all__``, and one error tree that cannot drift."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys

import pytest

import streamer
import streamer.errors as errors

HEAVY = ["httpx", "anyio", "streamer.openai"]


def modules_loaded_by(statement: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has in sys.modules after ``statement``."""
    probe = f"import json, sys\n{statement}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize(
    "statement",
    [
        "import streamer.sse",
        "import streamer",
        "import streamer.errors",
        "import streamer.scanner",
        "import streamer.reader",
        "from streamer import Scanner, StreamError, TextReader, __version__",
    ],
)
def test_importing_the_parser_and_the_package_loads_no_http_or_openai_module(statement: str) -> None:
    assert modules_loaded_by(statement) == []


def test_the_heavy_modules_do_load_on_first_use_of_an_openai_name() -> None:
    # The probe can see them: this is what the test above would catch.
    assert modules_loaded_by("from streamer import ChatStream") == HEAVY


def test_every_public_name_can_be_imported_from_the_package() -> None:
    for name in streamer.__all__:
        assert getattr(streamer, name) is not None, name
    namespace: dict[str, object] = {}
    exec(f"from streamer import {', '.join(streamer.__all__)}", namespace)
    assert set(streamer.__all__) <= set(namespace)


def test_a_lazy_name_is_the_object_its_module_defines() -> None:
    from streamer.openai import ChatStream, RunStream
    from streamer.scanner import Scanner

    assert streamer.ChatStream is ChatStream
    assert streamer.RunStream is RunStream
    assert streamer.Scanner is Scanner


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = streamer.NoSuchThing  # type: ignore[attr-defined]


def test_dir_lists_every_public_name_before_first_use() -> None:
    assert set(streamer.__all__) <= set(dir(streamer))


def test_all_of_the_package_is_sorted_and_holds_every_error() -> None:
    assert streamer.__all__ == sorted(streamer.__all__)
    assert len(set(streamer.__all__)) == len(streamer.__all__)
    assert set(errors.__all__) <= set(streamer.__all__)


def test_all_of_errors_is_sorted_and_names_every_error_class() -> None:
    assert errors.__all__ == sorted(errors.__all__)
    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == errors.__name__
    }
    assert set(errors.__all__) == defined


def error_classes() -> list[type[BaseException]]:
    return [getattr(errors, name) for name in errors.__all__]


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_is_a_stream_error_or_a_usage_error_never_both(cls: type[BaseException]) -> None:
    assert issubclass(cls, errors.StreamError) != issubclass(cls, errors.UsageError)


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_has_a_one_line_docstring(cls: type[BaseException]) -> None:
    assert cls.__doc__ and cls.__doc__.strip().splitlines()[0]


def drawn_tree() -> dict[str, str | None]:
    """The tree in errors' docstring: each class named there and the class drawn as its parent."""
    doc = errors.__doc__ or ""
    tree = doc[doc.index("::") + 2 :]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []  # (column of the name, name)
    for line in tree.splitlines():
        match = re.match(r"^([ |+-]*?)([A-Z][A-Za-z]+)\b", line)
        if not match:
            continue
        column = len(match.group(1))
        while stack and stack[-1][0] >= column:
            stack.pop()
        parents[match.group(2)] = stack[-1][1] if stack else None
        stack.append((column, match.group(2)))
    return parents


def test_the_docstring_tree_names_every_error_class() -> None:
    assert set(drawn_tree()) == set(errors.__all__)


@pytest.mark.parametrize("name", sorted(drawn_tree()))
def test_the_docstring_tree_draws_each_class_under_its_real_parent(name: str) -> None:
    parent = drawn_tree()[name]
    cls = getattr(errors, name)
    if parent is None:
        assert name in {"StreamError", "UsageError"}
    else:
        assert getattr(errors, parent) in cls.__bases__, f"{name} is drawn under {parent}"


def run_without_the_swim_extra(statement: str) -> subprocess.CompletedProcess[str]:
    """Run ``statement`` in a fresh interpreter where swimos, websockets and RestrictedPython are absent."""
    block = "import sys\nfor name in ('swimos', 'websockets', 'RestrictedPython'):\n    sys.modules[name] = None\n"
    return subprocess.run(
        [sys.executable, "-c", block + statement], capture_output=True, text=True, timeout=120, check=False
    )


def test_importing_swim_without_the_extra_names_the_pip_command() -> None:
    result = run_without_the_swim_extra("import streamer.swim.downlink")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: streamer.swim needs the 'swim' extra")
    assert "pip install 'streamer[swim]'" in last
    assert "swimos, websockets, RestrictedPython" in last


def test_the_core_works_without_the_swim_extra() -> None:
    result = run_without_the_swim_extra(
        "import streamer, streamer.sse\n"
        "from streamer import Client, ChatStream, RunStream, ResponseStream, Scanner\n"
        "print('ok')"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_swim_imports_with_the_extra_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import streamer.swim.downlink"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_a_subpackage_is_reachable_as_an_attribute_after_import_streamer() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import streamer\nprint(streamer.openai.RunStream.__name__)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "RunStream"
