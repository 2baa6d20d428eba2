"""Graph algorithms over node ids, kept apart from the rules about layers.

``children`` maps every node id to the ids its outgoing edges reach (one entry per edge);
``rank`` gives each node its position in the document, used to break ties.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping


def cycles(children: Mapping[str, list[str]]) -> list[list[str]]:
    """Every strongly connected component that holds a cycle (self-loops included), found with
    Tarjan's algorithm iteratively so deep graphs can't hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in children:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(children[root]))]
        while work:
            node, pending = work[-1]
            child = next(pending, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(children[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] != index[node]:
                continue
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in children[node]:
                found.append(component)
    return found


def topological_order(children: Mapping[str, list[str]], rank: Mapping[str, int]) -> list[str]:
    """Kahn's algorithm, ties broken by ``rank``. Nodes on a cycle, and everything downstream
    of one, are left out."""
    indegree = dict.fromkeys(children, 0)
    for targets in children.values():
        for target in targets:
            indegree[target] += 1
    ready = [(rank[node], node) for node, degree in indegree.items() if degree == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for target in children[node]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, (rank[target], target))
    return order


def upstream(starts: Iterable[str], parents: Mapping[str, Iterable[str]]) -> set[str]:
    """``starts`` and every node with a path to one of them."""
    reached: set[str] = set()
    todo = list(starts)
    while todo:
        node = todo.pop()
        if node not in reached:
            reached.add(node)
            todo.extend(parents[node])
    return reached
