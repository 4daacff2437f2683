"""Sets of syscall arguments as reduced ordered binary decision diagrams (BDDs), and read back
as libseccomp comparisons.

The decompiler needs exact set algebra on the six 64-bit arguments: a filter's path is an AND of
comparisons of 32-bit words (masked ==, >, >=, bit tests), a verdict's region is an OR of paths,
stacked filters intersect regions, and two regions must compare equal whenever they are the same
set, whatever instructions built them. A reduced ordered BDD is canonical: equal sets are the
same node, so a profile and a running filter that mean the same print the same rules.

Bit b (63 = most significant) of argument i is variable i * 64 + (63 - b): an argument is decided
high bits first, so the values reaching a node are cubes that read back as intervals.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from learn.errors import LearnError
from learn.profile import MAX_ARGS, Arg, Op

FALSE, TRUE = 0, 1
ARG_BITS = 64
_TERMINAL = MAX_ARGS * ARG_BITS  # a terminal's "variable": after every real one
MAX_PIECES = 256  # cubes or intervals read back from one argument's set


class TooComplex(LearnError):
    """A filter's decisions on an argument need more comparisons than a profile should hold."""

    hint = "the filter branches on arguments in ways no profile rule can say compactly"


class Cmp(Enum):
    EQ = "eq"
    GT = "gt"
    GE = "ge"


class Cube(NamedTuple):
    mask: int
    value: int  # inside mask


Cover = tuple[list[Cube], int]  # cubes, and the set they cover


class Sets:
    """One table of BDD nodes; every set built from it can be combined with every other."""

    def __init__(self) -> None:
        self._nodes: list[tuple[int, int, int]] = [(_TERMINAL, 0, 0), (_TERMINAL, 1, 1)]
        self._unique: dict[tuple[int, int, int], int] = {}
        self._and: dict[tuple[int, int], int] = {}
        self._not: dict[int, int] = {FALSE: TRUE, TRUE: FALSE}
        self._compare: dict[tuple[int, int, int, int, int, Cmp], int] = {}

    def var(self, n: int) -> int:
        return self._nodes[n][0]

    def node(self, var: int, lo: int, hi: int) -> int:
        """The set: `lo` where the variable is 0, `hi` where it is 1."""
        if lo == hi:
            return lo
        key = (var, lo, hi)
        found = self._unique.get(key)
        if found is None:
            found = self._unique[key] = len(self._nodes)
            self._nodes.append(key)
        return found

    def neg(self, n: int) -> int:
        found = self._not.get(n)
        if found is None:
            var, lo, hi = self._nodes[n]
            found = self._not[n] = self.node(var, self.neg(lo), self.neg(hi))
        return found

    def both(self, a: int, b: int) -> int:
        if a == FALSE or b == FALSE:
            return FALSE
        if a in (TRUE, b):
            return b
        if b == TRUE:
            return a
        key = (a, b) if a < b else (b, a)
        found = self._and.get(key)
        if found is None:
            (va, a0, a1), (vb, b0, b1) = self._nodes[a], self._nodes[b]
            var = min(va, vb)
            lo = self.both(a0 if va == var else a, b0 if vb == var else b)
            hi = self.both(a1 if va == var else a, b1 if vb == var else b)
            found = self._and[key] = self.node(var, lo, hi)
        return found

    def either(self, a: int, b: int) -> int:
        return self.neg(self.both(self.neg(a), self.neg(b)))

    def minus(self, a: int, b: int) -> int:
        return self.both(a, self.neg(b))

    def compare(self, index: int, shift: int, width: int, mask: int, k: int, cmp: Cmp) -> int:
        """{args: ((args[index] >> shift) & mask) CMP k}, the value `width` bits wide."""
        key = (index, shift, width, mask, k, cmp)
        found = self._compare.get(key)
        if found is not None:
            return found
        if k >> width:  # beyond every value: never equal, never reached
            return FALSE
        # Built from the least significant bit up: `rest` is the verdict when the bits above
        # are equal to k's, and each bit above decides unless it is equal too.
        rest = FALSE if cmp is Cmp.GT else TRUE
        for b in range(width):
            kb = k >> b & 1
            var = index * ARG_BITS + ARG_BITS - 1 - (shift + b)

            def outcome(xb: int, kb: int = kb, rest: int = rest) -> int:
                if xb == kb:
                    return rest
                return FALSE if cmp is Cmp.EQ or xb < kb else TRUE

            rest = self.node(var, outcome(0), outcome(1)) if mask >> b & 1 else outcome(0)
        self._compare[key] = rest
        return rest

    def of_arg(self, arg: Arg, width: int) -> int:
        """The calls whose argument meets `arg`, comparing its low `width` bits as libseccomp does."""
        full = (1 << width) - 1
        v = arg.value & full

        def cmp(c: Cmp, k: int, mask: int = full) -> int:
            return self.compare(arg.index, 0, width, mask, k, c)

        match arg.op:
            case Op.EQ:
                return cmp(Cmp.EQ, v)
            case Op.NE:
                return self.neg(cmp(Cmp.EQ, v))
            case Op.GT:
                return cmp(Cmp.GT, v)
            case Op.GE:
                return cmp(Cmp.GE, v)
            case Op.LT:
                return self.neg(cmp(Cmp.GE, v))
            case Op.LE:
                return self.neg(cmp(Cmp.GT, v))
        return cmp(Cmp.EQ, arg.value2 & v, v)

    # --- reading sets back ----------------------------------------------------------------------

    def terms(self, n: int) -> list[dict[int, tuple[int, int]]]:
        """The set as a union of products: each term maps argument indexes to the values of that
        argument it needs and those it may take as well (lower, upper: nodes on that argument's
        variables alone); arguments not named are free."""
        if n == FALSE:
            return []
        if n == TRUE:
            return [{}]
        index = self.var(n) // ARG_BITS
        limit = (index + 1) * ARG_BITS
        exits: dict[int, None] = {}
        seen: set[int] = set()
        stack = [n]
        while stack:  # the first nodes past this argument, in a structural order
            m = stack.pop()
            if m in seen:
                continue
            seen.add(m)
            if self.var(m) >= limit:
                exits[m] = None
            else:
                _, lo, hi = self._nodes[m]
                stack += [hi, lo]
        reaching = {target: self._select(n, target, limit, {}) for target in exits if target != FALSE}
        out = []
        for target, values in reaching.items():
            # Values whose rest is a superset of this one's may join this term: the calls they
            # add are in the set anyway, and the term may then need fewer comparisons.
            upper = values
            for other, more in reaching.items():
                if other != target and self.minus(target, other) == FALSE:
                    upper = self.either(upper, more)
            out += [{index: (values, upper), **rest} for rest in self.terms(target)]
        return out

    def _select(self, n: int, target: int, limit: int, memo: dict[int, int]) -> int:
        if self.var(n) >= limit:
            return TRUE if n == target else FALSE
        found = memo.get(n)
        if found is None:
            var, lo, hi = self._nodes[n]
            found = memo[n] = self.node(
                var, self._select(lo, target, limit, memo), self._select(hi, target, limit, memo)
            )
        return found

    def _cofactors(self, n: int, var: int) -> tuple[int, int]:
        v, lo, hi = self._nodes[n]
        return (lo, hi) if v == var else (n, n)

    def _isop(self, lower: int, upper: int, index: int, memo: dict[tuple[int, int], Cover]) -> Cover:
        """Cubes covering at least `lower` and at most `upper`, and the set they cover: an
        irredundant cover (Minato-Morreale), which a BDD's paths are not ({0} or odd values are
        two cubes, against one path per bit)."""
        if lower == FALSE:
            return [], FALSE
        if upper == TRUE:
            return [Cube(0, 0)], TRUE
        found = memo.get((lower, upper))
        if found is not None:
            return found
        var = min(self.var(lower), self.var(upper))
        l0, l1 = self._cofactors(lower, var)
        u0, u1 = self._cofactors(upper, var)
        c0, f0 = self._isop(self.minus(l0, u1), u0, index, memo)
        c1, f1 = self._isop(self.minus(l1, u0), u1, index, memo)
        rest = self.either(self.minus(l0, f0), self.minus(l1, f1))
        cs, fs = self._isop(rest, self.both(u0, u1), index, memo)
        bit = 1 << (ARG_BITS - 1 - (var - index * ARG_BITS))
        cubes = [Cube(c.mask | bit, c.value) for c in c0] + [Cube(c.mask | bit, c.value | bit) for c in c1] + cs
        covered = self.either(self.either(self.node(var, f0, FALSE), self.node(var, FALSE, f1)), fs)
        memo[lower, upper] = found = (cubes[: MAX_PIECES + 1], covered)
        return found

    def intervals(self, n: int, index: int, width: int) -> list[tuple[int, int]] | None:
        """n, a set of argument `index`'s low `width` bits, as sorted disjoint intervals (None:
        too many). Read high bit first, so they come out in order."""
        out: list[tuple[int, int]] = []
        top = index * ARG_BITS + ARG_BITS - width  # the variable of the highest bit compared

        def walk(m: int, pos: int, prefix: int) -> bool:
            if m == FALSE:
                return True
            if m == TRUE:
                lo, hi = prefix, prefix | ((1 << (width - pos)) - 1)
                if out and out[-1][1] + 1 == lo:
                    out[-1] = (out[-1][0], hi)
                else:
                    out.append((lo, hi))
                return len(out) <= MAX_PIECES
            var, lo_node, hi_node = self._nodes[m]
            bit = 1 << (width - 1 - pos)
            if var - top > pos:  # this bit is free here: both halves, in order
                return walk(m, pos + 1, prefix) and walk(m, pos + 1, prefix | bit)
            return walk(lo_node, pos + 1, prefix) and walk(hi_node, pos + 1, prefix | bit)

        return out if walk(n, 0, 0) else None

    def conditions(self, lower: int, upper: int, index: int, width: int) -> list[tuple[Arg, ...]]:
        """A set of argument `index`'s values between lower and upper, as alternatives of at most
        one comparison each (() is "any value"): the fewest of intervals (EQ, LE, GE, NE) of
        either bound and an irredundant cover by cubes (EQ, MASKED_EQ)."""
        full = (1 << width) - 1
        if upper == TRUE:
            return [()]
        options: list[list[tuple[Arg, ...]]] = []
        for bound in dict.fromkeys((upper, lower)):
            spans = self.intervals(bound, index, width)
            if spans is None:
                continue
            if len(spans) == 2 and spans[0][0] == 0 and spans[1][1] == full and spans[0][1] + 2 == spans[1][0]:
                return [(Arg(index, Op.NE, spans[0][1] + 1),)]
            options.append([(arg,) for lo, hi in spans for arg in _interval_args(index, lo, hi, full)])
        cover, _ = self._isop(lower, upper, index, {})
        if len(cover) <= MAX_PIECES:
            options.append([(_cube_arg(index, c, full),) for c in cover])
        mixed = self._ends_and_cubes(lower, upper, index, width)
        if mixed is not None:
            options.append(mixed)
        if not options:
            raise TooComplex(f"a condition on argument {index} needs over {MAX_PIECES} comparisons")
        return min(options, key=len)

    def _ends_and_cubes(self, lower: int, upper: int, index: int, width: int) -> list[tuple[Arg, ...]] | None:
        """The widest `<= b` and `>= a` inside upper, and cubes for what they leave of lower:
        "a1 >= 21523 or a1 & 2 == 2" is two rules, where cubes alone take fifty."""
        full = (1 << width) - 1
        out: list[tuple[Arg, ...]] = []
        rest = lower
        for cmp, op in ((Cmp.GE, Op.GE), (Cmp.GT, Op.LE)):
            # the range [a, full] (GE) or [0, b] (LE, the complement of > b) grows monotonically
            # with a falling (b rising): binary search for the widest one inside upper
            def span(v: int, cmp: Cmp = cmp) -> int:
                found = self.compare(index, 0, width, full, v, cmp)
                return found if cmp is Cmp.GE else self.neg(found)

            lo, hi = 0, full
            best = None
            while lo <= hi:
                mid = (lo + hi) // 2
                inside = self.minus(span(mid), upper) == FALSE
                if inside:
                    best = mid
                if inside == (cmp is Cmp.GE):
                    hi = mid - 1
                else:
                    lo = mid + 1
            if best is not None and self.both(rest, span(best)) != FALSE:
                out.append((Arg(index, op, best),))
                rest = self.minus(rest, span(best))
        if not out:
            return None
        cover, _ = self._isop(rest, upper, index, {})
        if len(cover) > MAX_PIECES:
            return None
        return out + [(_cube_arg(index, c, full),) for c in cover]


def _cube_arg(index: int, cube: Cube, full: int) -> Arg:
    if cube.mask == full:
        return Arg(index, Op.EQ, cube.value)
    return Arg(index, Op.MASKED_EQ, cube.mask, cube.value)


def _interval_args(index: int, lo: int, hi: int, full: int) -> list[Arg]:
    if lo == hi:
        return [Arg(index, Op.EQ, lo)]
    if lo == 0:
        return [Arg(index, Op.LE, hi)]
    if hi == full:
        return [Arg(index, Op.GE, lo)]
    out = []
    while lo <= hi:  # aligned blocks, each one MASKED_EQ
        size = lo & -lo
        while lo + size - 1 > hi:
            size >>= 1
        out.append(_cube_arg(index, Cube(full & ~(size - 1), lo), full))
        lo += size
    return out
