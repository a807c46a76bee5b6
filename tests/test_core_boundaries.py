"""The layout of the core: packages import each other only downward, the domain stays pure.

The order below is the architecture (``docs/architecture.md``): a package may import the
packages listed before it and never one after it, so there is no cycle between packages. The
domain packages import nothing from ``integrations`` nor any platform, source-API or database
library; only the composition root (``runtime`` for the server's parts that need no adapter,
``cli`` for the command) wires integrations in.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "triagebot"

#: Bottom to top. ``errors``, ``paths``, ``durations`` and ``lanes`` are the foundation every
#: package uses.
LAYERS = [
    "errors",
    "paths",
    "durations",
    "lanes",
    "cases",
    "sla",
    "config",
    "store",
    "routing",
    "actions",
    "ingest",
    "runtime",
    "reports",
    "cli",
]
DOMAIN = ["cases", "sla", "config", "store", "routing", "actions", "ingest", "reports"]
COMPOSITION_ROOT = ["cli"]
FORBIDDEN = [
    "slack_bolt",
    "slack_sdk",
    "botbuilder",
    "tinydb",
    "psycopg",
    "httpx",
    "feedparser",
    "inscriptis",
    "lxml",
]


def _package_of(path: Path) -> str:
    relative = path.relative_to(CORE)
    return relative.parts[0].removesuffix(".py")


def _type_checking_blocks(tree: ast.Module) -> set[int]:
    """Ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def _imports(path: Path, *, run_time_only: bool = False) -> set[str]:
    """Every module ``path`` imports (with ``run_time_only``, not those for type checking)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_blocks(tree) if run_time_only else set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _core_files() -> list[Path]:
    return [p for p in CORE.rglob("*.py") if p.parent != CORE or p.stem in LAYERS]


def test_every_core_module_belongs_to_a_layer() -> None:
    loose = {
        p.name
        for p in CORE.glob("*.py")
        if p.stem not in LAYERS and p.stem not in {"__init__", "__main__"}
    }
    packages = {p.parent.name for p in CORE.glob("*/__init__.py")}
    assert loose == set()
    assert packages <= set(LAYERS), packages - set(LAYERS)


def test_packages_import_only_downward() -> None:
    upward: list[str] = []
    for path in _core_files():
        own = _package_of(path)
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] != "triagebot" or len(parts) < 2:
                continue
            target = parts[1]
            if target != own and target in LAYERS and LAYERS.index(target) > LAYERS.index(own):
                upward.append(f"{path.relative_to(ROOT)} imports {module}")
    assert upward == []


def test_domain_imports_no_integrations() -> None:
    wired: list[str] = []
    for path in _core_files():
        if _package_of(path) not in DOMAIN:
            continue
        for module in _imports(path, run_time_only=True):
            top = module.split(".")[0]
            if top == "integrations" or top in FORBIDDEN:
                if top in {"tinydb", "psycopg"} and _package_of(path) == "store":
                    continue
                wired.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wired == []


def test_only_the_composition_root_imports_integrations() -> None:
    wired = {
        _package_of(path)
        for path in _core_files()
        if any(m.split(".")[0] == "integrations" for m in _imports(path))
    }
    assert wired <= set(COMPOSITION_ROOT)


def test_integrations_never_import_the_command_line() -> None:
    offending = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "integrations").rglob("*.py")
        if any(m.startswith("triagebot.cli") for m in _imports(path))
    ]
    assert offending == []


def test_domain_packages_load_no_platform_modules() -> None:
    """Importing every domain module loads no platform, source-API or database library."""
    modules = sorted(
        "triagebot." + ".".join(p.relative_to(CORE).with_suffix("").parts).removesuffix(".__init__")
        for p in _core_files()
        if _package_of(p) in DOMAIN and _package_of(p) != "store"
    )
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in modules)
        + f"print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
