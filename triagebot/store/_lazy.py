"""Cases listed from packed documents, decoded when a field beyond the head is first read.

Listing 50,000 active cases decoded each one whole (~15 µs: its JSON, a dozen timestamps, the
mention, the assignments), though most readers of a list look at a few fields of most cases: the
SLA watcher skips a case whose version it already checked, a filter reads the state and the
department. A ``LazyCase`` is a ``Case`` built from what the store knows without the document
(the packed head's id, version, state, department and priority; the columns of a PostgreSQL
row) whose other fields are decoded from the document's bytes on first read, all at once; it
compares and hashes as the ``Case`` it stands for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

from triagebot.cases.records import Case, CaseState, Priority
from triagebot.store._packed import DEPARTMENT, ID, PRIORITY, STATE, Packed

_FIELDS = tuple(f.name for f in fields(Case))
_RAW = "_packed"
_STATES = {state.value: state for state in CaseState}
_PRIORITIES = {priority.value: priority for priority in Priority}
_DECODE = "_decode"
_T = TypeVar("_T")


class LazyCase(Case):
    """A ``Case`` whose fields beyond the head are decoded on first read (``_Decoded``;
    thread-safe: two first reads may decode twice and keep equal values)."""

    @classmethod
    def of(cls, packed: Packed, decode: Callable[[Packed], Case]) -> LazyCase:
        """The case of ``packed``; ``decode`` builds the whole case (raising ``StoreError``
        for a malformed document)."""
        facts = packed.head[1]
        case = object.__new__(cls)
        object.__setattr__(  # of_fields, inlined: a cold open lists every active case
            case,
            "__dict__",
            {
                "id": facts[ID],
                "version": packed.head[2],
                "state": _STATES[facts[STATE]],
                "department": facts[DEPARTMENT],
                "priority": _PRIORITIES[facts[PRIORITY]],
                _RAW: packed,
                _DECODE: decode,
            },
        )
        return case

    @classmethod
    def of_fields(cls, head: dict[str, Any], source: _T, decode: Callable[[_T], Case]) -> LazyCase:
        """The case whose fields in ``head`` are known (``head`` becomes its own); the others
        come from ``decode(source)`` on first read."""
        case = object.__new__(cls)
        head[_RAW] = source
        head[_DECODE] = decode
        object.__setattr__(case, "__dict__", head)
        return case

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Case):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in _FIELDS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, f) for f in _FIELDS))

    def __repr__(self) -> str:
        return Case.__repr__(self).replace(type(self).__qualname__, Case.__qualname__, 1)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Case, tuple(getattr(self, f) for f in _FIELDS))


class _Decoded:
    """A field of ``LazyCase`` not set yet: reading it decodes the whole case once. A
    non-data descriptor, so a field that is set (in the instance's ``__dict__``) is read
    directly; it also hides the defaults ``Case`` keeps as class attributes."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, case: LazyCase | None, owner: type | None = None) -> Any:
        if case is None:
            return self
        state = case.__dict__
        packed = state.get(_RAW)
        if packed is not None:
            whole = state[_DECODE](packed)
            for field in _FIELDS:
                state.setdefault(field, getattr(whole, field))
            state.pop(_RAW, None)
            state.pop(_DECODE, None)
        return state[self.name]  # set by another thread's decoding if not by this one


for _name in _FIELDS:
    setattr(LazyCase, _name, _Decoded(_name))
