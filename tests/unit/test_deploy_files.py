"""The deployment files the project ships parse with their own tools, and say what they must."""

from __future__ import annotations

import re
import shutil
import subprocess

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def test_the_windows_backup_task_is_well_formed_utf16_xml_with_a_principal():
    task = DEPLOY / "windows" / "ShopBackup.xml"
    assert task.read_bytes()[:2] == b"\xff\xfe"  # stored as the UTF-16 its declaration says
    assert shutil.which("xmllint"), "scripts/ensure-system-packages.sh installs libxml2-utils"
    checked = subprocess.run(["xmllint", "--noout", str(task)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    text = task.read_text(encoding="utf-16")
    assert "<Principals>" in text and "<UserId>shop-backup</UserId>" in text


def test_units_that_wait_for_the_network_also_ask_for_it():
    for unit in (DEPLOY / "systemd").glob("*.service"):
        text = unit.read_text()
        if "After=network-online.target" in text:
            assert "Wants=network-online.target" in text, unit.name


def test_the_cron_file_runs_the_backup_and_the_weekly_drill_as_the_shop_user():
    lines = [line.split() for line in (DEPLOY / "cron" / "shop-backup").read_text().splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(lines) == 2
    for fields in lines:
        assert len(fields) >= 7 and fields[5] == "shop"
        assert all(re.fullmatch(r"[\d*/,-]+", f) for f in fields[:5])
    assert "--verify" in " ".join(lines[1])


def test_the_haproxy_config_is_valid_and_drains_without_cutting_requests():
    assert shutil.which("haproxy"), "scripts/ensure-system-packages.sh installs haproxy"
    settings = [line.split("#")[0] for line in (DEPLOY / "haproxy" / "shop.cfg").read_text().splitlines()]
    config = "\n".join(settings)
    assert "shutdown-sessions" not in config
    assert "http-request deny deny_status 400 unless shop_host" in config
    checked = subprocess.run(["haproxy", "-c", "-f", str(DEPLOY / "haproxy" / "shop.cfg")], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
