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


def test_every_alert_names_only_series_the_shop_exports_and_says_how_urgent_it_is():
    import yaml

    exported = set(re.findall(r'"(shop_[a-z_]+)"', (ROOT / "shop" / "metrics.py").read_text()))
    exported |= {f"{name}_{suffix}" for name in exported for suffix in ("count", "bucket", "sum", "total")}
    rules = yaml.safe_load((DEPLOY / "prometheus" / "shop-alerts.yml").read_text())["groups"][0]["rules"]
    names = {rule["alert"] for rule in rules}
    assert {"ShopNotReady", "ShopServerErrors", "ShopSlowResponses", "ShopMailsNeedAPerson"} <= names
    for rule in rules:
        used = set(re.findall(r"\bshop_[a-z_]+", rule["expr"]))
        assert used and used <= exported, (rule["alert"], used - exported)
        assert rule["labels"]["severity"] in ("page", "ticket") and rule["annotations"]["summary"]
        assert rule["expr"].count("(") == rule["expr"].count(")")
    not_ready = next(rule for rule in rules if rule["alert"] == "ShopNotReady")
    assert "shop_ready" in not_ready["expr"]


def test_every_service_is_sandboxed_to_an_exposure_of_4_or_less_and_gets_its_secrets_as_credentials():
    assert shutil.which("systemd-analyze"), "scripts/ensure-system-packages.sh installs systemd"
    for unit in ("shop.service", "shop-backup.service", "shop-restore-drill.service"):
        path = DEPLOY / "systemd" / unit
        rated = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(path)],
                               capture_output=True, text=True)
        exposure = re.search(r"Overall exposure level for \S+: (\d+\.\d)", rated.stdout + rated.stderr)
        assert exposure and float(exposure.group(1)) <= 4.0, (unit, rated.stdout[-2000:], rated.stderr[-2000:])
        text = path.read_text()
        assert "User=shop" in text and "LoadCredential=DATABASE_URL:" in text
        assert not re.search(r"^Environment=.*(PASSWORD|SECRET|TOKEN|_URL)", text, re.M)  # secrets are credentials


def test_the_alert_rules_pass_promtool_and_fire_when_they_should():
    assert shutil.which("promtool"), "scripts/ensure-system-packages.sh installs prometheus (for promtool)"
    checked = subprocess.run(["promtool", "check", "rules", str(DEPLOY / "prometheus" / "shop-alerts.yml")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(["promtool", "test", "rules", str(ROOT / "tests" / "unit" / "shop-alerts-test.yml")],
                            capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
