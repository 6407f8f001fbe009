"""Audit the installed dependencies for known vulnerabilities, and say what was not audited.

Runs ``pip-audit`` on this environment. Where pip-audit could not look a package up
(it asks PyPI's per-version JSON API, which some mirrors and proxies do not serve),
the package's project page on PyPI is asked instead: it lists the vulnerabilities of
the latest release, which is the installed one for most packages here. Anything left
is reported as *not audited*, by name, never as clean.

Exit status: 0 when no vulnerability was found, 1 when one was (or, with
``--strict``, when a package could not be audited), 2 when the audit could not run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import distributions
from typing import Any

PYPI = "https://pypi.org/pypi/{name}/json"


def run_pip_audit(timeout_s: float) -> list[dict[str, Any]]:
    cmd = [sys.executable, "-m", "pip_audit", "--skip-editable", "-f", "json"]
    cmd += ["--progress-spinner", "off", "--timeout", str(int(timeout_s))]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)  # noqa: S603
    try:
        return list(json.loads(done.stdout)["dependencies"])
    except (ValueError, KeyError):
        lines = (done.stderr.strip() or "no output").splitlines()
        raise RuntimeError(f"pip-audit failed (exit {done.returncode}): {lines[-1]}") from None


def latest_release_vulns(name: str, version: str, timeout_s: float) -> list[dict[str, Any]] | None:
    """The vulnerabilities PyPI lists for ``name``, or None when ``version`` is not the latest."""
    url = PYPI.format(name=name)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310  # nosec B310
            page = json.load(resp)
    except (OSError, ValueError):
        return None
    if page.get("info", {}).get("version") != version:
        return None
    return [v for v in page.get("vulnerabilities") or [] if not v.get("withdrawn")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="audit_deps", description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="fail when a package is unaudited")
    parser.add_argument("--timeout", type=float, default=15.0, help="network timeout, seconds")
    args = parser.parse_args(argv)
    try:
        deps = run_pip_audit(args.timeout)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        print(f"audit_deps: error: {exc}", file=sys.stderr)
        return 2
    installed = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in distributions()}
    found: list[str] = []
    by_pip_audit, skipped = 0, []
    deps = [d for d in deps if "editable" not in d.get("skip_reason", "")]  # this project
    for dep in deps:
        if dep.get("skip_reason"):
            skipped.append(dep["name"])
            continue
        by_pip_audit += 1
        for vuln in dep.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none"
            found.append(f"{dep['name']} {dep.get('version')}: {vuln['id']} (fixed in {fixes})")

    def look_up(name: str) -> tuple[str, list[dict[str, Any]] | None]:
        version = installed.get(name.lower(), "")
        return name, latest_release_vulns(name, version, args.timeout)

    by_project_page, unaudited = 0, []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for name, vulns in pool.map(look_up, skipped):
            if vulns is None:
                unaudited.append(name)
                continue
            by_project_page += 1
            for vuln in vulns:
                fixes = ", ".join(vuln.get("fixed_in") or []) or "none"
                version = installed.get(name.lower())
                found.append(f"{name} {version}: {vuln['id']} (fixed in {fixes})")
    for line in found:
        print(f"VULNERABLE {line}")
    print(
        f"audit_deps: {len(deps)} packages: {by_pip_audit} audited by pip-audit, "
        f"{by_project_page} by PyPI's latest-release data, {len(unaudited)} not audited; "
        f"{len(found)} known vulnerabilities"
    )
    if unaudited:
        print(f"audit_deps: not audited (not their latest release): {', '.join(sorted(unaudited))}")
    if found:
        return 1
    return 1 if args.strict and unaudited else 0


if __name__ == "__main__":
    sys.exit(main())
