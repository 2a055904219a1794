"""The fabric report: table, JSON, metrics, and the HTML page in a real headless Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aiinfra.cli import main
from aiinfra.net.fabric.localise import LocaliseConfig, localise
from aiinfra.net.fabric.report import FabricReport
from aiinfra.net.fabric.simulate import FLOOR, Fabric

CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")


def _report(scenario: str, seed: int = 2) -> FabricReport:
    fabric = Fabric.scenario(scenario, 16, 4, seed)
    loc = localise(fabric.nodes, fabric.rails, fabric.measure, LocaliseConfig(FLOOR * fabric.line, seed=seed))
    return FabricReport.from_localisation(loc, fabric.line)


def test_findings_become_table_json_and_metrics() -> None:
    report = _report("slow_rail")
    assert report.exit_code == 1 and "FAILED" in report.table()
    doc = json.loads(report.to_json())
    assert doc["passed"] is False and len(doc["faults"]) == 1 and doc["rounds"]
    bad = next(f for f in report.findings if f.code == "slow-rail")
    node, rail = bad.device.split(":")
    metrics = report.metrics()
    assert f'aiinfra_fabric_test_fault{{kind="rail",node="{node}",rail="{rail}",peer=""}} 1' in metrics
    ratio = next(line for line in metrics.splitlines() if line.startswith(
        f'aiinfra_fabric_test_rail_busbw_ratio{{node="{node}",rail="{rail}"}}'))
    assert float(ratio.split()[-1]) < 0.85
    assert "aiinfra_fabric_test_passed 0" in metrics


def test_healthy_fabric_passes() -> None:
    report = _report("none")
    assert report.exit_code == 0 and report.table().endswith("PASSED")
    assert "aiinfra_fabric_test_passed 1" in report.metrics()


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["net", "test", "--simulate", "16", "--rails", "2", "--scenario", "none"]) == 0
    out = tmp_path / "f.prom"
    assert main(["net", "test", "--simulate", "16", "--scenario", "slow_node", "--metrics", str(out)]) == 1
    assert 'kind="node"' in out.read_text()
    assert main(["net", "test", "--simulate", "16", "--screen", "zero"]) == 2
    assert "--screen" in capsys.readouterr().err


@pytest.mark.skipif(not CHROMEDRIVER.exists() or not shutil.which("chromium"),
                    reason="needs Debian's chromium and chromium-driver (make fabric-browser)")
def test_html_page_in_headless_chromium(tmp_path: Path) -> None:
    selenium = pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    page = tmp_path / "fabric.html"
    page.write_text(_report("slow_node").html(), encoding="utf-8")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.get(page.as_uri())
        assert "FAILED" in driver.find_element(By.ID, "verdict").text
        img = driver.find_element(By.ID, "heatmap")
        assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 100
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
        shot = tmp_path / "heatmap.png"
        assert img.screenshot(str(shot)) and shot.stat().st_size > 1000
        driver.save_screenshot(str(tmp_path / "page.png"))
        assert "cordon" in driver.page_source and len(driver.find_elements(By.CSS_SELECTOR, "#rounds li")) >= 2
    finally:
        driver.quit()
    assert selenium.__version__
