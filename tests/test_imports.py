"""The import graph of the gameserver package: no module imports itself back through others,
and the transport does not import the server object it serves."""

from __future__ import annotations

import grimp

TRANSPORT = ("gameserver.wsframes", "gameserver.wsconnection", "gameserver.transport", "gameserver.webapp")


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One cycle through each strongly connected set of modules that has one (Tarjan's)."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1 or module in graph.find_modules_directly_imported_by(module):
                found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_module_of_the_package_imports_itself_back() -> None:
    graph = grimp.build_graph("gameserver", exclude_type_checking_imports=True, cache_dir=None)
    assert "gameserver.transport" in graph.modules
    assert cycles(graph) == []
    with_annotations = grimp.build_graph("gameserver", cache_dir=None)
    assert cycles(with_annotations) == []


def test_the_transport_never_reaches_the_server_not_even_for_type_checking() -> None:
    graph = grimp.build_graph("gameserver", cache_dir=None)  # with the imports under TYPE_CHECKING
    for module in TRANSPORT:
        assert not graph.chain_exists(importer=module, imported="gameserver.server"), module
    # the framing and the connection's protocol are pure: no eventlet, no sockets
    for module in ("gameserver.wsframes", "gameserver.wsconnection"):
        assert not graph.chain_exists(importer=module, imported="gameserver.transport"), module


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("p.a", "p.b", "p.c"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    assert cycles(graph) == []
    graph.add_import(importer="p.c", imported="p.a")
    assert cycles(graph) == [["p.a", "p.b", "p.c"]]
