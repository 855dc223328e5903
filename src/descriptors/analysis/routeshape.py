"""What the network analysis of routes.py derives from a network's structure alone, worked out once
per network and kept in ``Network.memo``: the reaction order of a route's steps, the parts of a
route that do not depend on the energies, and the shape of the selectivity walk over a set of
evaluated steps.  A screen analyses a dozen catalysts and a product map 625 grid points with the
same few sets of steps; the energies change, these do not."""

from __future__ import annotations

from collections.abc import Mapping

from descriptors.analysis.netdata import Network

__all__ = ["MEMO_MAX", "order_ids", "route_shape", "walk_shape"]

MEMO_MAX = 4096  # structure entries kept per network (a screen has a few sets of evaluated steps)


def _remember(net: Network, key: tuple, value):
    if len(net.memo) >= MEMO_MAX:
        net.memo.clear()
    net.memo[key] = value
    return value


def order_ids(net: Network, todo: tuple[str, ...]) -> tuple[str, ...]:
    """The reaction order of a route's steps (given in data order): a step once its initial species
    are made.  It depends on the step ids alone, so it is worked out once per network and route."""
    key = ("order", todo)
    if (found := net.memo.get(key)) is not None:
        return found
    by_id = net.step_by_id
    have = set(net.reservoir) | {net.reactant}
    todo_l, out = list(todo), []
    while todo_l:
        nxt = next((i for i in todo_l if set(by_id[i].initial) <= have), todo_l[0])
        todo_l.remove(nxt)
        out.append(nxt)
        have |= set(by_id[nxt].final)
    return _remember(net, key, tuple(out))


def route_shape(net: Network, S: frozenset[str], steps: Mapping) -> tuple:
    """What a route takes from the network's structure: its ordered step ids, the branch text, and
    which steps are branch-labelled, averaged (split_via), chemical/coupling (cached per route)."""
    key = ("route", S, tuple(steps))
    if (found := net.memo.get(key)) is not None:
        return found
    by_id = net.step_by_id
    ids = order_ids(net, tuple(i for i in steps if i in S))
    branch = "+".join(by_id[i].branch for i in ids if by_id[i].branch)
    averaged = tuple(steps[i].label for i in ids if by_id[i].split_via)
    first_branch = next((i for i in ids if by_id[i].branch), None)
    return _remember(net, key, (ids, branch, averaged, first_branch))


def walk_shape(net: Network, steps: list) -> tuple[frozenset[str], dict[str, tuple[int, ...]]]:
    """What the selectivity walk takes from the evaluated steps' ids alone (cached per network and
    set of steps): the species from which the evaluated steps lead on to a product (an exit into a
    dead end, e.g. an intermediate whose next state was not computed, is not taken while another
    exit leads on), and per species the positions in ``steps`` of the steps consuming it."""
    key = ("walk", tuple(s.id for s in steps))
    if (found := net.memo.get(key)) is not None:
        return found
    by_id = net.step_by_id
    free = net.reservoir
    live = {x for x, spx in net.species.items() if spx.group}
    grown = True
    while grown:
        grown = False
        for s in steps:
            for x in by_id[s.id].initial:
                if x not in live and x not in free and net.followed[s.id] in live:
                    live.add(x)
                    grown = True
    consumers: dict[str, list[int]] = {}
    for k, s in enumerate(steps):
        for x in dict.fromkeys(by_id[s.id].initial):
            consumers.setdefault(x, []).append(k)
    return _remember(net, key, (frozenset(live), {x: tuple(v) for x, v in consumers.items()}))
