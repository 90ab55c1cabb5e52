"""Windows and macOS: nothing POSIX-only on the import path of the shop or the backup
script. Proven on Linux by importing every module with those standard modules made unavailable."""

import subprocess
import sys

import pytest

from shop.config import ConfigError
from shop.config_fields import as_web_server
from tests.conftest import ROOT

_IMPORT_EVERYTHING = """
import importlib, importlib.util, pkgutil, sys, warnings
BLOCKED = {"fcntl", "pwd", "grp", "resource", "termios"}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name in BLOCKED:
            raise ImportError(f"No module named {name!r} (POSIX-only, blocked by the test)")
for name in BLOCKED:
    sys.modules.pop(name, None)
sys.meta_path.insert(0, Block())
warnings.simplefilter("ignore")  # filelock says it falls back to a soft lock here; Windows has msvcrt
import shop
failed = []
for module in pkgutil.walk_packages(shop.__path__, "shop."):
    try:
        importlib.import_module(module.name)
    except Exception as error:
        failed.append(f"{module.name}: {error!r}")
for path in ("ops/backup_script.py", "app/app.py"):
    spec = importlib.util.spec_from_file_location(path.replace("/", "_")[:-3], path)
    try:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    except Exception as error:
        failed.append(f"{path}: {error!r}")
print("\\n".join(failed) or "OK")
"""


def test_every_module_imports_without_fcntl_pwd_grp_resource_termios():
    run = subprocess.run([sys.executable, "-c", _IMPORT_EVERYTHING], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.stdout.strip() == "OK", run.stdout + run.stderr


def test_the_web_server_is_gunicorn_on_posix_and_waitress_when_asked():
    assert as_web_server(None) == "gunicorn"
    assert as_web_server("Waitress") == "waitress"
    with pytest.raises(ConfigError, match="WEB_SERVER"):
        as_web_server("uwsgi")
