"""The layers hold: business rules import neither Flask nor a database driver."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

FORBIDDEN = ("flask", "werkzeug", "psycopg2", "pymongo", "bson")


@pytest.mark.parametrize("module", ["shop.domain.orders", "shop.domain.catalog", "shop.domain.listing",
                                    "shop.domain.accounts", "shop.domain.audit", "shop.domain.money"])
def test_importing_a_domain_module_loads_no_framework_or_driver(module):
    probe = f"import sys, {module}; print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


def test_the_bootstrap_is_shared_without_an_import_cycle():
    """runner → web factory → cli used to import the runner back; both now use shop.bootstrap,
    which knows nothing of the web layer."""
    probe = ("import sys, shop.bootstrap; print(','.join(m for m in sys.modules if m.startswith('shop.web') "
             "or m in ('flask', 'shop.runner')))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
    assert "shop.runner" not in (ROOT / "shop" / "web" / "cli.py").read_text()
    assert "shop.runner" not in (ROOT / "ops" / "backup_script.py").read_text()


def _module_imports(path, name: str, modules: set[str]) -> set[str]:
    """The shop modules `path` imports when it is loaded (not inside functions, not for type checking)."""
    import ast

    tree = ast.parse(path.read_text())
    nodes = [node for top in tree.body if not (isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test))
             for node in ast.walk(top) if isinstance(node, (ast.Import, ast.ImportFrom))
             and not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    imported = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names if alias.name in modules}
            continue
        base = node.module or ""
        if node.level:
            package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
            package = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            base = f"{package}.{base}" if base else package
        for alias in node.names:
            target = f"{base}.{alias.name}"
            imported.add(target if target in modules else base)
    return (imported & modules) - {name}


def test_no_import_cycle_anywhere_in_the_shop():
    paths = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (ROOT / "shop").rglob("*.py")}
    graph = {name: _module_imports(path, name, set(paths)) for name, path in paths.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        for target in sorted(graph[name]):
            assert target not in trail, " → ".join([*trail[trail.index(target):], target])
            if target not in done:
                visit(target, [*trail, target])
        done.add(name)

    for name in sorted(graph):
        visit(name, [name])
    assert graph["shop.runner"] and graph["shop.web.factory"]  # the graph was read, not empty
