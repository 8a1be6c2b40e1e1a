"""wandb.Graph: a model's layers as nodes and edges → `media/graph/….graph.json` + a `graph-file`
reference. `watch(model, log_graph=True)` builds one from a torch model's first forward pass."""

from __future__ import annotations

from typing import Any

from ._util import file_ref, json_bytes
from .base import BindContext, Media

_FIELDS = ("id", "name", "class_name", "size", "parameters", "output_shape", "is_output", "num_parameters")


class Node:
    """One layer (or tensor) of a Graph; its JSON is the attributes that were set, as in wandb."""

    def __init__(
        self,
        id: Any = None,  # noqa: A002 - wandb's keyword
        name: str | None = None,
        class_name: str | None = None,
        size: Any = None,
        parameters: Any = None,
        output_shape: Any = None,
        is_output: bool | None = None,
        num_parameters: Any = None,
        node: Node | None = None,
    ) -> None:
        self._attributes: dict[str, Any] = {"name": None}
        if node is not None:
            self._attributes.update(node._attributes)
            self._attributes.pop("id", None)
        given = dict(
            id=id,
            name=name,
            class_name=class_name,
            size=None if size is None else tuple(size),
            parameters=parameters,
            output_shape=output_shape,
            is_output=is_output,
            num_parameters=num_parameters,
        )
        self._attributes.update({k: v for k, v in given.items() if v is not None})

    def __getattr__(self, key: str) -> Any:
        if key in _FIELDS:
            return self.__dict__["_attributes"].get(key)
        raise AttributeError(key)

    def __setattr__(self, key: str, value: Any) -> None:
        if key in _FIELDS:
            self._attributes[key] = tuple(value) if key == "size" else value
        else:
            object.__setattr__(self, key, value)

    def to_json(self) -> dict[str, Any]:
        return self._attributes

    def __repr__(self) -> str:
        return f"Node({self._attributes!r})"


class Edge:
    """A directed edge between two nodes of a Graph; stored as `[from_id, to_id]`."""

    def __init__(self, from_node: Node, to_node: Node) -> None:
        self.from_node = from_node
        self.to_node = to_node

    def to_json(self) -> list[Any]:
        return [self.from_node.id, self.to_node.id]

    def __repr__(self) -> str:
        return f"Edge({self.from_node.id!r} -> {self.to_node.id!r})"


class Graph(Media):
    """`Graph(format="keras")`, then `add_node(...)`/`add_edge(a, b)`; log it or put it in the summary."""

    _log_type = "graph-file"

    def __init__(self, format: str = "keras") -> None:  # noqa: A002 - wandb's keyword
        if not isinstance(format, str):
            raise TypeError(f"Graph(format=...) must be a str such as 'torch' or 'keras', not {format!r}")
        self.format = format
        self.nodes: list[Node] = []
        self.nodes_by_id: dict[Any, Node] = {}
        self.edges: list[Edge] = []

    def add_node(self, node: Node | None = None, **node_kwargs: Any) -> Node:
        if node is None:
            node = Node(**node_kwargs)
        elif node_kwargs:
            raise ValueError("Graph.add_node takes either a Node or the keyword arguments of one, not both")
        self.nodes.append(node)
        self.nodes_by_id[node.id] = node
        return node

    def add_edge(self, from_node: Node, to_node: Node) -> Edge:
        if not isinstance(from_node, Node) or not isinstance(to_node, Node):
            raise TypeError("Graph.add_edge takes two Nodes (from add_node)")
        edge = Edge(from_node, to_node)
        self.edges.append(edge)
        return edge

    def __getitem__(self, nid: Any) -> Node:
        return self.nodes_by_id[nid]

    def _to_graph_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [e.to_json() for e in self.edges],
        }

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        data = json_bytes(self._to_graph_json())
        return file_ref(ctx, self._log_type, "graph", key, step, data, "graph.json")
