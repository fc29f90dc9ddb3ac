"""docs/_ext/stomp_docs.py: the generated state diagram, API pages and the examples check."""

from __future__ import annotations

import enum
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser as RstParser
from docutils.utils import new_document

import stomp_commands
import stomp_core
import stomp_frame
from docs._ext import stomp_docs
from stomp_session import REMOTE_INPUTS, TRANSITIONS, Input, State

SVG = "{http://www.w3.org/2000/svg}"


class TestStateDiagram:
    def test_states_read_in_the_order_of_a_connection(self) -> None:
        order = stomp_docs.state_order(TRANSITIONS, State.DISCONNECTED)
        assert order == [
            State.DISCONNECTED,
            State.CONNECTING,
            State.CONNECTED,
            State.DISCONNECTING,
            State.CLOSED,
        ]

    def test_every_transition_is_an_arrow_or_a_state_kept(self) -> None:
        edges, stays = stomp_docs.transition_edges(TRANSITIONS, REMOTE_INPUTS)
        drawn = sum(len(edge.inputs) for edge in edges)
        kept = sum(len(inputs) for inputs in stays.values())
        assert drawn + kept == len(TRANSITIONS)
        pairs = {(edge.source, edge.target) for edge in edges}
        assert ("CONNECTING", "CONNECTED") in pairs
        assert all(source != target for source, target in pairs)
        (connect,) = (edge for edge in edges if edge.source == "DISCONNECTED")
        assert connect.inputs == ("connect()",)  # the caller's calls end in ()

    def test_the_table_lists_every_entry_of_transitions(self) -> None:
        _, rows = stomp_docs.session_diagram()
        listed = sum(len(inputs) for _, inputs, _ in rows)
        assert listed == len(TRANSITIONS)
        labels = {label for _, inputs, _ in rows for label in inputs}
        for event in Input:
            name = event.value if event in REMOTE_INPUTS else f"{event.value}()"
            assert name in labels

    def test_the_svg_is_well_formed_and_draws_every_state_and_arrow(self) -> None:
        svg, _ = stomp_docs.session_diagram()
        root = ET.fromstring(svg)
        texts = [text for element in root.iter() if (text := (element.text or "").strip())]
        for state in State:
            assert state.name in texts
        edges, _ = stomp_docs.transition_edges(TRANSITIONS, REMOTE_INPUTS)
        for edge in edges:
            for label in edge.inputs:
                assert label in texts, label
        arrows = [e for e in root.iter(f"{SVG}line") if e.get("marker-end")]
        order = stomp_docs.state_order(TRANSITIONS, State.DISCONNECTED)
        diagram = stomp_docs.StateDiagram([s.name for s in order], edges)
        assert len(arrows) == len(diagram.straight) + len(diagram.brackets)
        # connection_lost() from every other state shares one bracket, drawn on the left.
        (lost,) = (b for b in diagram.brackets if b.inputs == ("connection_lost()",))
        assert lost.side == -1
        assert sorted(lost.rows) == list(range(len(State)))

    def test_any_small_table_is_drawn(self) -> None:
        class S(enum.Enum):
            A = "a"
            B = "b"
            C = "c"

        class I(enum.Enum):  # noqa: E742
            GO = "go"
            BACK = "back"
            JUMP = "jump"

        table = {
            (S.A, I.GO): S.B,
            (S.B, I.GO): S.C,
            (S.C, I.BACK): S.A,
            (S.A, I.JUMP): S.C,
        }
        order = stomp_docs.state_order(table, S.A)
        assert order == [S.A, S.B, S.C]
        edges, stays = stomp_docs.transition_edges(table, {I.BACK})
        assert stays == {}
        diagram = stomp_docs.StateDiagram([s.name for s in order], edges)
        assert [b.side for b in diagram.brackets] == [-1, 1]  # back on the left, jump right
        root = ET.fromstring(diagram.render())
        assert {"go()", "back", "jump()"} <= {e.text for e in root.iter(f"{SVG}tspan")}


class TestReference:
    def test_packages_are_discovered_bottom_layer_first(self) -> None:
        order = [package.dist for package in stomp_docs.discover_packages()]
        for lower, upper in [
            ("stomp-frame", "stomp-commands"),
            ("stomp-commands", "stomp-session"),
        ]:
            assert order.index(lower) < order.index(upper)
        assert "stomp-failover" in order

    def test_a_dynamic_version_is_the_installed_one(self) -> None:
        (frame,) = (p for p in stomp_docs.discover_packages() if p.dist == "stomp-frame")
        assert frame.version == stomp_frame.__version__

    def test_public_names_are_sorted_into_kinds(self) -> None:
        kinds = {m.name: m for m in stomp_docs.public_members(stomp_frame)}
        assert kinds["Frame"].kind == "class"
        assert kinds["ParseError"].kind == "exception"
        assert kinds["serialize"].kind == "function"
        assert kinds["Version"].enum
        heartbeat = kinds["HEARTBEAT"]
        assert heartbeat.kind == "data"
        assert heartbeat.doc, "the docstring is found in the private module"
        aliases = {m.name: m for m in stomp_docs.public_members(stomp_commands)}
        assert aliases["Headers"].kind == "type"
        assert aliases["Headers"].value == "Mapping[str, str] | Iterable[tuple[str, str]]"

    def test_a_page_documents_each_public_name_once(self) -> None:
        (frame,) = (p for p in stomp_docs.discover_packages() if p.dist == "stomp-frame")
        page = stomp_docs.reference_page(frame, stomp_docs.public_modules("stomp_frame"))
        assert page.count(".. autoclass:: stomp_frame.Frame\n") == 1
        assert ".. autofunction:: stomp_frame.serialize" in page
        assert ".. py:data:: stomp_frame.HEARTBEAT" in page
        assert ".. automodule:: stomp_frame\n   :no-members:" in page
        assert "   from stomp_frame import *" in page  # docstring doctests' namespace

    def test_objects_of_other_modules_are_linked_not_documented_again(self) -> None:
        fake = types.ModuleType("stomp_fake")
        fake.__all__ = ["Frame", "Local"]  # type: ignore[attr-defined]
        fake.Frame = stomp_frame.Frame  # type: ignore[attr-defined]
        local = type("Local", (), {"__module__": "stomp_fake._impl"})
        fake.Local = local  # type: ignore[attr-defined]
        members = {m.name: m for m in stomp_docs.public_members(fake)}
        assert members["Frame"].kind == "reexport"
        assert members["Frame"].value == "stomp_frame.Frame"
        assert members["Local"].kind == "class"

    def test_members_of_private_bases_are_documented_as_the_class_own(self) -> None:
        members = {m.name: m for m in stomp_docs.public_members(stomp_core)}
        assert members["ClientCore"].inherits  # ClientCore(Requests(Outbound)), both private
        assert not members["ClientSettings"].inherits
        assert not members["ConnectionLost"].inherits  # its base ClientError is public
        (core,) = (p for p in stomp_docs.discover_packages() if p.dist == "stomp-core")
        page = stomp_docs.reference_page(core, stomp_docs.public_modules("stomp_core"))
        assert ".. autoclass:: stomp_core.ClientCore\n   :inherited-members:\n" in page
        assert ".. autoclass:: stomp_core.ClientSettings\n\n" in page

    def test_private_bases_give_way_to_their_public_bases(self) -> None:
        assert stomp_docs.public_bases(stomp_core.ClientCore.__bases__) == [object]
        error = stomp_core.ConnectionLost
        assert stomp_docs.public_bases(error.__bases__) == [stomp_core.ClientError]
        hidden = type("Hidden", (stomp_core.ClientError,), {"__module__": "stomp_core._x"})
        assert stomp_docs.public_bases([hidden, stomp_core.ClientError]) == [stomp_core.ClientError]

    def test_an_inherited_member_names_what_its_own_module_binds(self) -> None:
        # Requests.subscribe (stomp_core._requests) returns a Subscription that stomp_core
        # does not export: stomp_twisted has another, so the bare name is ambiguous.
        named = stomp_docs._bound_name("stomp_core", "Subscription", "ClientCore")
        assert named == "stomp_session.Subscription"
        assert stomp_docs._bound_name("stomp_core", "Subscription") == "Subscription"

    def test_a_package_without_code_gets_a_page_without_api(self) -> None:
        meta = stomp_docs.PackageDoc(
            dist="stomp-suite",
            version="1.0.0",
            description="Everything.",
            import_name=None,
            dependencies=("stomp-frame>=0.1,<1",),
            siblings=("stomp-frame",),
        )
        page = stomp_docs.reference_page(meta, [])
        assert "ships no import package" in page
        assert "automodule" not in page

    @pytest.mark.parametrize(
        ("target", "public"),
        [
            ("stomp_frame._frame.Frame", "stomp_frame.Frame"),
            ("stomp_session._events.Output.close", "stomp_session.Output.close"),
            ("stomp_frame.Frame", "stomp_frame.Frame"),
        ],
    )
    def test_private_module_paths_map_to_public_names(self, target: str, public: str) -> None:
        assert stomp_docs.public_name(target) == public


def parse(text: str) -> nodes.document:
    settings = get_default_settings(RstParser)
    settings.report_level = 5
    document = new_document("test.rst", settings)
    RstParser().parse(text, document)
    return document


class TestExamplesCheck:
    def reasons(self, document: nodes.document, tested: str = "") -> list[str]:
        return [reason for _, reason in stomp_docs.untested_examples(document, tested)]

    def test_doctest_blocks_and_prose_blocks_pass(self) -> None:
        document = parse(">>> 1 + 1\n2\n\nA diagram::\n\n   a -> b\n")
        assert self.reasons(document) == []

    def test_a_python_block_is_reported(self) -> None:
        document = parse("text\n")
        block = nodes.literal_block("print(1)", "print(1)", language="python")
        document += block
        assert self.reasons(document) == ["a python block no test runs: use >>> or testcode"]

    def test_a_session_in_a_literal_block_is_reported(self) -> None:
        document = parse("Example::\n\n   >>> 1 + 1\n   2\n")
        assert self.reasons(document) == [
            "a >>> session in a literal block is not run: drop the ::"
        ]

    def test_python_in_a_plain_literal_block_is_reported(self) -> None:
        document = parse("Example::\n\n   from stomp_sync import Client\n   client = Client()\n")
        for block in document.findall(nodes.literal_block):
            block["language"] = "none"  # what Sphinx gives a plain :: block here
        assert self.reasons(document) == ["Python code in a literal block is not run: use testcode"]

    @pytest.mark.parametrize(
        "text", ["a -> b", "failover:(tcp://a:61613,tcp://b:61613)", "$ pip install x", "x"]
    )
    def test_diagrams_uris_and_commands_are_not_python(self, text: str) -> None:
        document = parse(f"Example::\n\n   {text}\n")
        for block in document.findall(nodes.literal_block):
            block["language"] = "none"
        assert self.reasons(document) == []

    def test_an_included_file_must_be_named_by_a_test(self) -> None:
        source = str(stomp_docs.REPO_ROOT / "examples" / "asyncio_client.py")
        document = parse("text\n")
        document += nodes.literal_block("code", "code", language="python", source=source)
        assert self.reasons(document, tested="examples/asyncio_client.py") == []
        (reason,) = self.reasons(document, tested="")
        assert "examples/asyncio_client.py is included, but no test" in reason

    def test_testcode_blocks_pass(self) -> None:
        document = parse("text\n")
        document += nodes.literal_block("x = 1", "x = 1", language="python", testnodetype="test")
        assert self.reasons(document) == []

    def test_the_asyncio_example_is_run_by_the_integration_tests(self) -> None:
        tests = Path(stomp_docs.TESTS_DIR / "integration" / "test_examples.py")
        assert "examples/asyncio_client.py" in tests.read_text(encoding="utf-8")
