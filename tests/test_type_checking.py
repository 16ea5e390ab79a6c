"""mypy's configuration (pyproject.toml) names real modules, and the pure modules it checks strictly stay pure.

mypy says nothing of a per-module section that matches no module (only a note, and only without its cache): a module
renamed or moved would drop out of the strict list silently."""

import re
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ROOTS = (REPO, REPO / "services")  # mypy_path: services/<package>/ is imported as <package>
# What a pure module never imports: the domain rules are plain functions over models, free of Kafka, SQL and HTTP.
IMPURE = re.compile(r"^\s*(?:import|from)\s+(asyncpg|aiokafka|faststream|fastapi|starlette)\b", re.M)


def overrides() -> list[dict[str, Any]]:
    sections: list[dict[str, Any]] = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    return sections


def own_patterns() -> list[str]:
    """The module patterns of every section about our code (not the third-party libraries without types)."""
    return [m for s in overrides() if not s.get("ignore_missing_imports") for m in s["module"]]


def strict_patterns() -> list[str]:
    return next(s["module"] for s in overrides() if s.get("disallow_untyped_defs"))


def files_of(pattern: str) -> list[Path]:
    parts = pattern.removesuffix(".*").split(".")
    for root in ROOTS:
        path = root.joinpath(*parts)
        if pattern.endswith(".*"):
            found = [f for f in path.rglob("*.py") if "tests" not in f.relative_to(path).parts] if path.is_dir() else []
        else:
            found = [f for f in (path.with_suffix(".py"), path / "__init__.py") if f.is_file()]
        if found:
            return found
    return []


def test_every_module_the_type_checker_is_told_of_exists() -> None:
    missing = [p for p in own_patterns() if not files_of(p)]
    assert not missing, f"pyproject.toml's [tool.mypy] names modules that do not exist: {missing}"


def test_the_modules_checked_strictly_outside_shared_import_no_kafka_sql_or_http() -> None:
    impure = {str(f.relative_to(REPO)): IMPURE.findall(f.read_text(encoding="utf-8"))
              for p in strict_patterns() if not p.startswith("shared") for f in files_of(p)}
    assert {f: found for f, found in impure.items() if found} == {}


def test_the_strict_list_holds_each_services_pure_rules() -> None:
    strict = set(strict_patterns())
    for module in ("validation.decide", "validation.matching", "validation.rules.*", "projector.folding",
                   "board_router.routing", "board_sim.judging", "notifier.rejections", "notifier.digests"):
        assert module in strict, module
