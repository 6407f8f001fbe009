"""Who each virtual user logs in as: disjoint slices per process, from the pool or a CSV."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.accounts import credentials, read_identities, set_config
from loadtests.config import LoadConfig


def test_processes_log_in_as_disjoint_slices_of_the_pool() -> None:
    cfg = LoadConfig(pool_size=5, processes=2, user_prefix="u", password="pw")
    by_worker = {w: [credentials(cfg, w, local)[0] for local in range(6)] for w in (0, 1)}
    assert by_worker[0] == ["u0", "u2", "u4", "u0", "u2", "u4"], by_worker
    assert by_worker[1] == ["u1", "u3", "u1", "u3", "u1", "u3"], by_worker
    assert credentials(cfg, 1, 0)[1] == "pw"


def test_a_csv_is_sliced_the_same_way_and_read_once(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("username,password\n# a comment\na,1\nb,2\nc,3\n")
    cfg = LoadConfig(users_csv=str(path), processes=2)
    set_config(cfg)  # forgets the rows read for an earlier configuration
    assert [credentials(cfg, 0, i) for i in range(3)] == [("a", "1"), ("c", "3"), ("a", "1")]
    path.write_text("username,password\nz,9\n")  # read once per configuration
    assert credentials(cfg, 1, 0) == ("b", "2")
    set_config(cfg)
    assert credentials(cfg, 0, 0) == ("z", "9")


@pytest.mark.parametrize(
    ("content", "message"),
    [("a,1\nb\n", "users.csv:2: expected username,password"), ("# none\n", "no username,password")],
)
def test_a_bad_csv_names_its_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "users.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_identities(str(path))


def test_the_run_plan_checks_a_csv_without_importing_locust(tmp_path: Path) -> None:
    """gevent monkey-patches the standard library: the CLI process must not import it."""
    users = tmp_path / "users.csv"
    users.write_text("a,1\nb,2\n")
    code = (
        "import sys\n"
        "from loadtests.plan import RunPlan, build_parser\n"
        f"plan = RunPlan.from_args(build_parser().parse_args(['--users-csv', {str(users)!r}]))\n"
        "assert plan.users_csv is not None, plan\n"
        "print(sorted(m for m in ('gevent', 'locust') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
