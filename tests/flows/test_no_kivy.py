"""The view-models run without Kivy: a fresh interpreter that imports every kiosk.flows module
has loaded no kivy module. What they import lazily, inside functions, lives in kiosk/ below the
UI edge, which tests/test_shell_core.py::test_core_modules_import_no_kivy checks module by module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_flows_import_no_kivy():
    names = sorted(f"kiosk.flows.{path.stem}" for path in (ROOT / "kiosk" / "flows").glob("*.py")
                   if path.stem != "__init__")
    assert {"kiosk.flows.payment", "kiosk.flows.staff_desk", "kiosk.flows.procedure_page",
            "kiosk.flows.journey"} <= set(names)
    script = ("import importlib, sys\n"
              f"for name in {names!r}:\n"
              "    importlib.import_module(name)\n"
              "print(sorted(m for m in sys.modules if m == 'kivy' or m.startswith('kivy.')))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"kivy was imported: {result.stdout}"
