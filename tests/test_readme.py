"""The README's first two commands are what a fresh machine runs; CI must run the second verbatim."""
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_readme_starts_with_install_and_run_then_install_and_test():
    blocks = _bash_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 2, "README.md must open with two bash blocks: main job, then tests"
    main_cmd, test_cmd = blocks[0], blocks[1]
    assert "pip install" in main_cmd and "pdistill reproduce" in main_cmd
    assert "pip install" in test_cmd and "pytest" in test_cmd


def test_ci_runs_exactly_the_readme_test_command():
    test_cmd = _bash_blocks((ROOT / "README.md").read_text())[1]
    ci = (ROOT / ".ci" / "run").read_text()
    m = re.search(r'^TEST_CMD="(.*)"$', ci, flags=re.M)
    assert m, ".ci/run must define TEST_CMD=\"...\""
    assert shlex.split(m.group(1)) == shlex.split(test_cmd)
    assert 'eval "$TEST_CMD"' in ci


def test_console_script_points_at_the_dispatcher():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'pdistill = "pdistill.cli:main"' in text


def test_readme_python_tour_runs():
    """The README's Python tour is executable as written (no torch needed)."""
    block = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)[0]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert abs(namespace["b"].evaluate(d=100, rho=0.1, delta=0.01, j=1) - 7922.79) < 0.01
