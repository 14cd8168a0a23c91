"""The package's layout holds: imports go one way (the import-linter contract in pyproject.toml), no
module imports itself back through others, lazy imports included, and modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
from conftest import REPO
from importlinter.cli import lint_imports

import ollm_recall

PACKAGE = Path(ollm_recall.__file__).parent


def test_the_layers_contract_holds() -> None:
    assert lint_imports(config_filename=str(REPO / "pyproject.toml")) == 0


def test_no_import_cycle_between_modules() -> None:
    graph = grimp.build_graph("ollm_recall")
    modules = sorted(graph.modules)
    cycles = []
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain is not None and imported != module:
                cycles.append((module, *chain))
    assert cycles == []


def test_modules_stay_small_and_few_stay_at_the_top() -> None:
    lengths = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: length for name, length in lengths.items() if length > 550} == {}
    top_level = [name for name in lengths if "/" not in name]
    assert len(top_level) <= 10, sorted(top_level)


def _trees() -> dict[str, ast.Module]:
    return {
        path.relative_to(PACKAGE).as_posix(): ast.parse(path.read_text()) for path in PACKAGE.rglob("*.py")
    }


def test_no_private_name_is_imported_from_another_module() -> None:
    crossing = [
        f"{name}: {alias.name}"
        for name, tree in _trees().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("ollm_recall"))
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert crossing == []


def test_only_the_cli_prints() -> None:
    """The library raises its errors and warns through ``warnings``; printing is the CLI's job."""
    printing = [
        f"{name}:{node.lineno}"
        for name, tree in _trees().items()
        if not name.startswith("cli/")
        for node in ast.walk(tree)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print")
        or (
            isinstance(node, ast.Attribute)
            and node.attr in ("stdout", "stderr")
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        )
    ]
    assert printing == []


def test_an_index_written_before_the_regrouping_still_opens(tmp_path: Path) -> None:
    """Its pickled schema names the full-text module by its old path, ``ollm_recall.textsearch``."""
    import pickle

    from ollm_recall.index import textsearch

    old_reference = b"c" + textsearch.SCHEMA_MODULE_BEFORE_REGROUPING.encode() + b"\nstem_plain_word\n."
    assert pickle.loads(old_reference) is textsearch.stem_plain_word
