import ast
from pathlib import Path

import oci


def test_the_oci_library_never_imports_django():
    offenders = []
    for path in Path(oci.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("django", "rest_framework")]
    assert offenders == []
