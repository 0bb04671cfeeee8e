"""The language policy: RestrictedPython compilation plus the guards the compiled code calls.

Only what is listed here is reachable from a snippet: a whitelist of builtins, safe wrapper modules (never real
modules), an attribute guard that refuses every name starting with ``_`` and a deny list of introspection
attributes, a write guard that only lets the snippet change its own lists/dicts/sets/objects, and a print
collector shared by the whole run (prints inside functions are kept). This module runs inside the sandbox
child; it never touches files or the network.
"""

from __future__ import annotations

import _string  # type: ignore[import-not-found]  # the C helper behind str.format's field parsing
import ast
import builtins
import collections
import functools
import itertools
import json
import math
import operator
import re
import statistics
import string
import types
from collections.abc import Callable, Iterable
from typing import Any

from RestrictedPython import compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import IOPERATOR_TO_STR, RestrictingNodeTransformer

FILENAME = "<execute>"


class SecurityError(Exception):
    """A snippet tried something the sandbox does not allow."""


# --------------------------------------------------------------------------------------------------- compiling


class _Transformer(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus guarded ``a[k] += v`` and ``obj.attr += v`` (LLM code uses them a lot)."""

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        """``x: T = v`` runs as ``x = v`` (the annotation is dropped); a bare ``x: T`` does nothing."""
        if node.value is None:
            return ast.copy_location(ast.Pass(), node)
        assign = ast.Assign(targets=[node.target], value=node.value)
        ast.copy_location(assign, node)
        return self.visit(ast.fix_missing_locations(assign))

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        target = node.target
        if isinstance(target, ast.Subscript) and not isinstance(target.slice, ast.Slice):
            helper, args = "_inplaceitem_", [self.visit(target.value), self.visit(target.slice)]
        elif isinstance(target, ast.Attribute):
            if target.attr.startswith("_"):
                self.error(node, f'"{target.attr}" is an invalid attribute name because it starts with "_".')
                return node
            helper, args = "_inplaceattr_", [self.visit(target.value), ast.Constant(target.attr)]
        else:
            return super().visit_AugAssign(node)
        call = ast.Call(
            func=ast.Name(helper, ast.Load()),
            args=[*args, ast.Constant(IOPERATOR_TO_STR[type(node.op)]), self.visit(node.value)],
            keywords=[],
        )
        new = ast.Expr(value=call)
        ast.copy_location(new, node)
        ast.copy_location(call, node)
        ast.copy_location(call.func, node)
        return ast.fix_missing_locations(new)


def compile_snippet(source: str) -> tuple[types.CodeType | None, str | None, str | None]:
    """Compile under the restricted policy: (code, None, None) or (None, error_type, message)."""
    try:
        result = compile_restricted_exec(source, filename=FILENAME, policy=_Transformer)
    except SyntaxError as exc:  # raised for some malformed sources instead of being listed in errors
        return None, "SyntaxError", f"line {exc.lineno}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurdly nested expressions
        return None, "SyntaxError", f"cannot compile: {exc}"
    if result.errors or result.code is None:
        errors = list(result.errors) or ["cannot compile"]
        kind = "SyntaxError" if any("SyntaxError" in e for e in errors) else "CompileError"
        return None, kind, "\n".join(errors)
    return result.code, None, None


# ------------------------------------------------------------------------------------------------- attributes

# Introspection attributes that lead from a value to frames, code, globals or the class hierarchy.
DENIED_ATTRIBUTES = frozenset(
    {
        "mro",
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "gi_running",
        "gi_suspended",
        "cr_frame",
        "cr_code",
        "cr_await",
        "cr_origin",
        "cr_running",
        "ag_frame",
        "ag_code",
        "ag_await",
        "ag_running",
        "f_back",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_code",
        "f_trace",
        "f_lasti",
        "tb_frame",
        "tb_next",
        "co_code",
        "co_consts",
        "co_names",
        "func_globals",
        "func_code",
        "func_closure",
        "im_func",
        "im_self",
        "im_class",
        "cell_contents",
        "load_module",
        "exec_module",
        "get_code",
        "get_source",
        "get_data",
    }
)
# Values whose attributes are all refused (they only ever leak from a bug; refusing them is defence in depth).
_OPAQUE_TYPES = (
    types.FrameType,
    types.TracebackType,
    types.CodeType,
    types.ModuleType,
    types.CellType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
)
_GENERATOR_OK = frozenset({"send", "throw", "close"})
_MISSING = object()


def _check_name(name: object) -> str:
    if type(name) is not str:
        raise TypeError(f"attribute name must be a string, not {type(name).__name__}")
    if name.startswith("_") or name in DENIED_ATTRIBUTES:
        raise SecurityError(f"access to attribute {name!r} is not allowed in the sandbox")
    return name


def guarded_getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
    """``getattr`` for snippets: raises AttributeError for missing names (the stock guard returns None)."""
    _check_name(name)
    if name == "obj" and isinstance(obj, BaseException):  # AttributeError.obj may be an object a guard refused
        raise SecurityError("access to attribute 'obj' of exceptions is not allowed in the sandbox")
    if isinstance(obj, _OPAQUE_TYPES) and not (isinstance(obj, types.GeneratorType) and name in _GENERATOR_OK):
        raise SecurityError(f"attributes of {type(obj).__name__} objects are not available in the sandbox")
    if name in ("format", "format_map") and (
        isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
    ):
        return _safe_format_method(obj, name)
    if default is _MISSING:
        return getattr(obj, name)
    try:
        return getattr(obj, name)
    except AttributeError:
        return default


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except (AttributeError, SecurityError):
        return False
    return True


def guarded_dir(obj: Any) -> list[str]:
    """``dir(obj)`` without private names."""
    return [n for n in dir(obj) if not n.startswith("_") and n not in DENIED_ATTRIBUTES]


def guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


class _SafeFormatter(string.Formatter):
    """``str.format`` whose ``{0.attr}`` / ``{0[key]}`` fields go through the guards."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        first, rest = _string.formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attr, key in rest:
            obj = guarded_getattr(obj, key) if is_attr else guarded_getitem(obj, key)
        return obj, first


_FORMATTER = _SafeFormatter()


def _safe_format_method(obj: Any, name: str) -> Callable[..., str]:
    if isinstance(obj, str):
        if name == "format":
            return lambda *args, **kwargs: _FORMATTER.vformat(obj, args, kwargs)
        return lambda mapping: _FORMATTER.vformat(obj, (), mapping)

    def unbound(fmt: str, *args: Any, **kwargs: Any) -> str:
        if not isinstance(fmt, str):
            raise TypeError("str.format needs a str")
        return _FORMATTER.vformat(fmt, args, kwargs if name == "format" else (args[0] if args else {}))

    return unbound


# ------------------------------------------------------------------------------------------------------ writes

_WRITABLE_TYPES = (
    list,
    dict,
    set,
    bytearray,
    collections.Counter,
    collections.defaultdict,
    collections.OrderedDict,
    collections.deque,
)


class _ReadOnly:
    """What ``_write_`` hands back for objects the snippet does not own: every write raises."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        object.__setattr__(self, "_what", what)

    def _deny(self, *_: Any) -> None:
        raise SecurityError(
            f"cannot modify {self._what} objects in the sandbox (twin data is read-only; copy it with dict() "
            "or list() first)"
        )

    __setattr__ = __delattr__ = __setitem__ = __delitem__ = _deny  # type: ignore[assignment]


class Policy:
    """Per-run guard state: which classes the snippet created (their instances may be written to)."""

    def __init__(self) -> None:
        self.own_classes: set[type] = set()

    def metaclass(self, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
        cls = type(name, bases, namespace)
        self.own_classes.add(cls)
        return cls

    def write(self, obj: Any) -> Any:
        if type(obj) in _WRITABLE_TYPES or type(obj) in self.own_classes:
            return obj
        return _ReadOnly(type(obj).__name__)

    def inplaceitem(self, obj: Any, key: Any, op: str, value: Any) -> None:
        target = self.write(obj)
        target[key] = inplacevar(op, guarded_getitem(obj, key), value)

    def inplaceattr(self, obj: Any, name: str, op: str, value: Any) -> None:
        target = self.write(obj)
        setattr(target, _check_name(name), inplacevar(op, guarded_getattr(obj, name), value))


_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "^=": operator.ixor,
    "&=": operator.iand,
    "@=": operator.imatmul,
}


def inplacevar(op: str, x: Any, y: Any) -> Any:
    return _INPLACE[op](x, y)


def apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


# ------------------------------------------------------------------------------------------------------ output


class OutputCollector:
    """One collector per run (RestrictedPython's stock one is per function and loses prints in functions)."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.parts: list[str] = []
        self.kept = 0
        self.truncated = False

    def __call__(self, *getattr_: Any) -> Any:
        """``_print_(_getattr_)`` at the top of every scope returns this collector; ``printed`` is ``_print()``."""
        return self if getattr_ else self.text()

    def text(self) -> str:
        return "".join(self.parts)

    def write(self, text: str) -> None:
        room = self.max_chars - self.kept
        if len(text) > room:
            self.truncated = True
            text = text[: max(room, 0)]
        if text:
            self.parts.append(text)
            self.kept += len(text)

    def _call_print(
        self, *objects: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
    ) -> None:
        if file is not None:
            raise SecurityError("print(file=...) is not available in the sandbox")
        if sep is not None and not isinstance(sep, str):
            raise TypeError("sep must be None or a string")
        if end is not None and not isinstance(end, str):
            raise TypeError("end must be None or a string")
        if self.kept >= self.max_chars:  # skip building strings nobody will see
            self.truncated = True
            return
        self.write((" " if sep is None else sep).join(map(str, objects)) + ("\n" if end is None else end))


# ----------------------------------------------------------------------------------------------------- modules


class SafeModule:
    """An immutable stand-in for an allowed module: only the listed names, never the real module."""

    __slots__ = ("_attrs", "_name")

    def __init__(self, name: str, attrs: dict[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_attrs", types.MappingProxyType(dict(attrs)))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._attrs[name]
        except KeyError:
            raise AttributeError(f"module {self._name!r} has no attribute {name!r} in the sandbox") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise SecurityError("modules are read-only in the sandbox")

    def __dir__(self) -> Iterable[str]:
        return sorted(self._attrs)

    def __repr__(self) -> str:
        return f"<sandbox module {self._name!r}>"


def _pick(module: Any, names: str) -> dict[str, Any]:
    return {n: getattr(module, n) for n in names.split() if hasattr(module, n)}


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "keys") and hasattr(obj, "items"):
        return dict(obj.items())
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _json_dumps(obj: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    return json.dumps(obj, indent=indent, sort_keys=sort_keys, default=_json_default)


def _json_loads(text: str) -> Any:
    return json.loads(text)


def _namedtuple(typename: str, field_names: Any, *, defaults: Any = None) -> type:
    return collections.namedtuple(typename, field_names, defaults=defaults)


def _build_modules() -> dict[str, SafeModule]:
    math_names = " ".join(n for n in dir(math) if not n.startswith("_"))
    mods = {
        "math": _pick(math, math_names),
        "statistics": _pick(
            statistics,
            "mean fmean median median_low median_high median_grouped mode multimode stdev pstdev variance "
            "pvariance geometric_mean harmonic_mean quantiles correlation covariance linear_regression "
            "StatisticsError",
        ),
        "itertools": _pick(
            itertools,
            "accumulate chain combinations combinations_with_replacement compress count cycle dropwhile "
            "filterfalse groupby islice pairwise permutations product repeat starmap takewhile tee zip_longest",
        ),
        "collections": {
            **_pick(collections, "Counter defaultdict deque OrderedDict"),
            "namedtuple": _namedtuple,
        },
        "functools": _pick(functools, "reduce partial cmp_to_key lru_cache cache"),
        "operator": _pick(
            operator,
            "add sub mul truediv floordiv mod neg pos abs lt le eq ne ge gt not_ and_ or_ xor itemgetter",
        ),
        "json": {"dumps": _json_dumps, "loads": _json_loads, "JSONDecodeError": json.JSONDecodeError},
        "re": _pick(
            re,
            "search match fullmatch findall finditer sub subn split compile escape IGNORECASE I MULTILINE M "
            "DOTALL S error",
        ),
    }
    return {name: SafeModule(name, attrs) for name, attrs in mods.items()}


SAFE_MODULES = _build_modules()
ALLOWED_MODULES = tuple(sorted(SAFE_MODULES))


def guarded_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
    if level != 0:
        raise SecurityError("relative imports are not allowed in the sandbox")
    if name not in SAFE_MODULES:
        raise SecurityError(
            f"import of {name!r} is not allowed in the sandbox; allowed: {', '.join(ALLOWED_MODULES)}"
        )
    return SAFE_MODULES[name]


# ---------------------------------------------------------------------------------------------------- builtins


def _unavailable(name: str) -> Callable[..., Any]:
    def deny(*_: Any, **__: Any) -> Any:
        raise SecurityError(f"{name}() is not available in the sandbox")

    deny.__name__ = name
    return deny


def _type(*args: Any) -> Any:
    """``type(x)``; metaclasses (``type`` itself, ABCMeta, ...) come back as this function, so snippets cannot
    build classes with arbitrary ``__dunder__`` methods from a dict."""
    if len(args) != 1:
        raise SecurityError("type() takes exactly one argument in the sandbox (use a class statement)")
    cls = type(args[0])
    return _type if issubclass(cls, type) else cls


_SAFE_BUILTIN_NAMES = (
    "abs all any ascii bin bool bytearray bytes callable chr complex dict divmod enumerate filter float format "
    "frozenset "
    "hash hex id int isinstance issubclass iter len list map max min next object oct ord pow property range "
    "repr reversed round set slice sorted staticmethod classmethod str sum tuple zip True False None "
    "NotImplemented Ellipsis ArithmeticError AssertionError AttributeError EOFError Exception IndexError "
    "KeyError LookupError NameError NotImplementedError OverflowError RecursionError RuntimeError "
    "StopIteration TypeError UnboundLocalError ValueError ZeroDivisionError"
)
_DENIED_BUILTINS = (
    "open compile eval exec globals locals vars input help exit quit setattr delattr memoryview super breakpoint"
)


def _build_builtins() -> dict[str, Any]:
    table: dict[str, Any] = {n: getattr(builtins, n) for n in _SAFE_BUILTIN_NAMES.split()}
    table.update({n: _unavailable(n) for n in _DENIED_BUILTINS.split()})
    table.update(
        {
            "__build_class__": builtins.__build_class__,
            "__import__": guarded_import,
            "getattr": guarded_getattr,
            "hasattr": guarded_hasattr,
            "dir": guarded_dir,
            "type": _type,
            "SecurityError": SecurityError,
        }
    )
    return table


SAFE_BUILTINS = types.MappingProxyType(_build_builtins())


def make_globals(api: dict[str, Any], output: OutputCollector) -> dict[str, Any]:
    """A fresh global namespace for one run: builtins, guards, the print collector and the twin API."""
    policy = Policy()
    glb: dict[str, Any] = dict(api)
    glb.update(
        {
            "__builtins__": dict(SAFE_BUILTINS),
            "__name__": "sandbox",
            "__metaclass__": policy.metaclass,
            "_getattr_": guarded_getattr,
            "_getitem_": guarded_getitem,
            "_getiter_": iter,
            "_write_": policy.write,
            "_inplacevar_": inplacevar,
            "_inplaceitem_": policy.inplaceitem,
            "_inplaceattr_": policy.inplaceattr,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_apply_": apply,
            "_print_": output,
        }
    )
    return glb
