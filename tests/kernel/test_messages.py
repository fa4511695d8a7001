"""Every error code a module of app/ can raise has its text in Japanese and in English.

The codes are found statically: string constants given as the `code` argument of any callable of
`app` that takes one (ProblemError and its subclasses, FieldError, field_errors, problem_response,
message, the validated types' rules and `_error`), of PydanticCustomError and of
dataclasses.replace, the `default_code` of error classes, and what a local name given as a code
was assigned (`code = "a" if x else "b"`, `codes.get(status, "c")`). Each package registers its
messages when it is imported; importing app.main imports them all.
"""

import ast
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from pydantic import BaseModel

import app
from app.text.messages import VALUE_LABELS

APP = Path(app.__file__).resolve().parent

# Callables of other libraries whose argument is a code: name -> position (None: keyword only).
_FOREIGN: dict[str, int | None] = {"PydanticCustomError": 0, "replace": None}


def _app_modules() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages([str(APP)], "app.")]
    for name in names:
        importlib.import_module(name)
    return names


def code_parameters() -> dict[str, set[int | None]]:
    """Name of each callable of `app` with a `code` parameter -> that parameter's position."""
    found: dict[str, set[int | None]] = {name: {position} for name, position in _FOREIGN.items()}
    for module_name in _app_modules():
        for name, value in vars(sys.modules[module_name]).items():
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            if not getattr(value, "__module__", "").startswith("app."):
                continue
            if inspect.isclass(value) and (issubclass(value, BaseModel) or hasattr(value, "__tablename__")):
                continue  # schemas and tables: their `code` is a resource's field, not an error code
            try:
                parameters = list(inspect.signature(value).parameters.values())
            except (TypeError, ValueError):
                continue
            for position, parameter in enumerate(parameters):
                if parameter.name == "code":
                    keyword_only = parameter.kind is inspect.Parameter.KEYWORD_ONLY
                    found.setdefault(name, set()).add(None if keyword_only else position)
    return found


class _Scope:
    """What a function (or a module) assigns to its names, and the module's functions."""

    def __init__(
        self,
        node: ast.AST,
        functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
        module: "_Scope | None" = None,
    ) -> None:
        self.functions = functions
        # A function sees the module's names too.
        self.assigned: dict[str, list[ast.expr]] = {
            name: list(values) for name, values in (module.assigned if module else {}).items()
        }
        self.module = module or self
        for child in ast.walk(node):
            if isinstance(child, ast.Assign):
                for target in child.targets:
                    self._assign(target, child.value)
            elif isinstance(child, ast.AnnAssign) and child.value is not None:
                self._assign(child.target, child.value)

    def _assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.assigned.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Tuple):  # `a, b = f()`: b is f()[1]
            for index, element in enumerate(target.elts):
                self._assign(element, ast.Subscript(value=value, slice=ast.Constant(index), ctx=ast.Load()))

    def strings(self, expression: ast.expr, seen: frozenset[str] = frozenset()) -> set[str]:
        """The string constants an expression can evaluate to, as far as they can be told statically."""
        match expression:
            case ast.Constant(value=str(value)):
                return {value}
            case ast.IfExp(body=body, orelse=orelse):
                return self.strings(body, seen) | self.strings(orelse, seen)
            case ast.BoolOp(values=values) | ast.Dict(values=values) | ast.Tuple(elts=values):
                return set().union(*(self.strings(value, seen) for value in values if value is not None))
            case ast.Name(id=name) if name not in seen:
                return set().union(
                    *(self.strings(value, seen | {name}) for value in self.assigned.get(name, []))
                )
            case ast.Subscript(value=ast.Tuple(elts=elements), slice=ast.Constant(value=int(index))):
                return self.strings(elements[index], seen) if index < len(elements) else set()
            case ast.Subscript(value=ast.Call(func=ast.Name(id=name)), slice=ast.Constant(value=int(index))):
                # An element of what a function of this module returns.
                return self._returned(name, seen, index)
            case ast.Subscript(value=mapping):  # `REFUSALS[outcome]`: any of the mapping's values
                return self.strings(mapping, seen)
            case ast.Call(func=ast.Attribute(attr="get", value=mapping), args=[_, *default]):
                # `codes.get(status, "default")`: the mapping's values and the default.
                return self.strings(mapping, seen).union(*(self.strings(value, seen) for value in default))
            case ast.Call(func=ast.Name(id=name)):
                return self._returned(name, seen, None)
        return set()

    def _returned(self, name: str, seen: frozenset[str], index: int | None) -> set[str]:
        """What a function of the module returns (its `index`th element, when given)."""
        function = self.functions.get(name)
        if function is None or f"{name}()" in seen:
            return set()
        callee = _Scope(function, self.functions, self.module)
        found: set[str] = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Return) and node.value is not None:
                value = node.value
                if index is not None:
                    value = ast.Subscript(value=value, slice=ast.Constant(index), ctx=ast.Load())
                found |= callee.strings(value, seen | {f"{name}()"})
        return found


def _scopes(tree: ast.Module) -> Iterator[ast.AST]:
    yield tree
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield node


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


@cache
def raised_codes() -> dict[str, set[str]]:
    """Every code found in app/ -> the files it is found in."""
    parameters = code_parameters()
    found: dict[str, set[str]] = {}
    for path in sorted(APP.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(APP.parent))
        functions = {
            node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        module = _Scope(tree, functions)
        for node in _scopes(tree):
            scope = module if node is tree else _Scope(node, functions, module)
            for child in ast.walk(node):
                given: list[ast.expr] = []
                if isinstance(child, ast.Call) and (positions := parameters.get(_callee(child) or "")):
                    given += [child.args[p] for p in positions if p is not None and p < len(child.args)]
                    given += [keyword.value for keyword in child.keywords if keyword.arg == "code"]
                if isinstance(child, ast.Call):  # `codes={(field, pydantic_code): "code"}`, a sheet's
                    given += [keyword.value for keyword in child.keywords if keyword.arg == "codes"]
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):  # `code: str = "..."`
                    arguments = child.args
                    positional = [*arguments.posonlyargs, *arguments.args]
                    pairs = [
                        *zip(
                            positional[len(positional) - len(arguments.defaults) :],
                            arguments.defaults,
                            strict=True,
                        ),
                        *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True),
                    ]
                    given += [
                        default
                        for argument, default in pairs
                        if argument.arg == "code" and default is not None
                    ]
                elif isinstance(child, ast.ClassDef):
                    given += [
                        statement.value
                        for statement in child.body
                        if isinstance(statement, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "default_code" for t in statement.targets)
                    ]
                for expression in given:
                    for code in scope.strings(expression):
                        found.setdefault(code, set()).add(where)
    return found


def registered_by_the_app() -> dict[str, list[str]]:
    """The messages registered once app.main is imported, in a fresh interpreter (this one has
    imported every module of app/ to find the codes)."""
    script = "import json, app.main; from app.text.messages import MESSAGES; print(json.dumps(MESSAGES))"
    result = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", script], capture_output=True, check=True, cwd=APP.parent
    )
    registered: dict[str, list[str]] = json.loads(result.stdout)
    return registered


def test_every_code_that_can_be_raised_has_japanese_and_english_text() -> None:
    registered = registered_by_the_app()
    missing = {
        code: sorted(files)
        for code, files in raised_codes().items()
        if len(registered.get(code, [])) != 2 or not all(text.strip() for text in registered[code])
    }
    assert not missing, f"codes without a Japanese and an English message (register them): {missing}"


@pytest.mark.parametrize(
    "code",
    [
        "location_code_taken",  # Conflict("...") in a domain service
        "bad_request",  # default_code of ProblemError
        "method_not_allowed",  # codes = {...}; codes.get(...)
        "form_required",  # UnsupportedMediaType("...") in the kernel
        "multipart_required",
        "invalid_client",  # OAuthError(oauth_error, code): the second argument
        "account_locked",  # TooManyRequests(retry_after, code)
        "missing",  # field_errors(code, ...) and FieldError(field, code)
        "invalid_role",  # a sheet's codes={...}
        "invalid_login_id",  # a validated type's rule (code="...")
        "invalid_location_code",
        "datetime_out_of_range",  # _error("...", ...)
        "request_header_too_large",  # message("...", ...)
        "payload_too_large",  # problem_response(request, 413, "...")
        "csv_missing_column",
        "certificate_key_too_weak",  # returned by a function, then given as a code
        "certificate_unreadable",  # REFUSALS[outcome]
        "invalid_credentials",  # a `code` parameter's default
        "invalid_cursor",
        "idempotency_key_reused",
        "server_busy",
    ],
)
def test_the_finder_sees_each_way_a_code_is_given(code: str) -> None:
    assert code in raised_codes()


def test_the_finder_ignores_field_values_named_code() -> None:
    # `invalid(LocationCreate, code="TKY001", ...)`: a location's code, not an error code.
    assert "TKY001" not in raised_codes()


def test_every_organization_role_has_labels() -> None:
    from app.auth.principals import ORGANIZATION_ROLES

    assert all(VALUE_LABELS.get(role.value) for role in ORGANIZATION_ROLES)
