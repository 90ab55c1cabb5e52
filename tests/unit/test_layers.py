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
