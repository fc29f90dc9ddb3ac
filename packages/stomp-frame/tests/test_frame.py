"""The frame model: immutable, hashable frames; heart-beats; limits; versions and commands."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from types import MappingProxyType
from typing import NamedTuple

import pytest

from stomp_frame import (
    BODY_COMMANDS,
    CLIENT_COMMANDS,
    COMMANDS,
    HEARTBEAT,
    REDACTED_HEADERS,
    SERVER_COMMANDS,
    UNESCAPED_COMMANDS,
    Frame,
    FrameError,
    HeartBeat,
    InvalidFrame,
    LimitExceeded,
    Limits,
    ParseError,
    Parser,
    Version,
    serialize,
)


class Header(NamedTuple):
    name: str
    value: str


class TestFrameConstruction:
    def test_command_headers_and_body_are_kept(self) -> None:
        frame = Frame("SEND", {"destination": "/queue/a"}, b"hi")
        assert frame.command == "SEND"
        assert frame.headers == (("destination", "/queue/a"),)
        assert frame.body == b"hi"

    def test_defaults_are_no_headers_and_an_empty_body(self) -> None:
        frame = Frame("DISCONNECT")
        assert frame.headers == ()
        assert frame.body == b""

    @pytest.mark.parametrize("command", sorted(COMMANDS))
    def test_every_stomp_command_is_accepted(self, command: str) -> None:
        assert Frame(command).command == command

    @pytest.mark.parametrize("command", ["", "send", "Send", "FOO", " SEND", "SEND ", "SEND\n"])
    def test_unknown_command_is_invalid(self, command: str) -> None:
        with pytest.raises(InvalidFrame, match="command"):
            Frame(command)

    @pytest.mark.parametrize("command", [None, 1, b"SEND", ("SEND",), ["SEND"]])
    def test_command_that_is_not_a_str_is_invalid(self, command: object) -> None:
        with pytest.raises(InvalidFrame):
            Frame(command)  # type: ignore[arg-type]

    def test_mapping_headers_keep_their_order(self) -> None:
        frame = Frame("SEND", {"b": "1", "a": "2", "c": "3"})
        assert frame.headers == (("b", "1"), ("a", "2"), ("c", "3"))

    def test_pair_headers_keep_order_and_repeated_names(self) -> None:
        pairs = [("a", "1"), ("b", "2"), ("a", "3")]
        frame = Frame("MESSAGE", pairs)
        assert frame.headers == (("a", "1"), ("b", "2"), ("a", "3"))

    def test_headers_from_a_generator_are_accepted(self) -> None:
        frame = Frame("SEND", ((f"h{i}", str(i)) for i in range(3)))
        assert frame.headers == (("h0", "0"), ("h1", "1"), ("h2", "2"))

    def test_empty_header_value_is_allowed(self) -> None:
        assert Frame("SEND", {"a": ""}).get("a") == ""

    @pytest.mark.parametrize(
        "headers",
        [
            {"a": 1},
            {1: "a"},
            {"a": None},
            {"a": b"x"},
            [("a", "1", "2")],
            [("a",)],
            [("a", "1"), ("b", 2)],
            ["ab"],
            [b"ab"],
            [None],
            5,
        ],
        ids=repr,
    )
    def test_header_that_is_not_a_str_pair_is_invalid(self, headers: object) -> None:
        with pytest.raises(InvalidFrame, match="header"):
            Frame("SEND", headers)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "headers",
        [
            [("a\x00b",)],
            [("a",), ("b", "c", "d")],
            [("a", "x\x00y"), ("b",)],
            [("a", "x\x00"), ()],
            [["a"], ["b", "c", "d"]],
            [("a", "b", "c"), ("d", "e\x01f")],
        ],
        ids=repr,
    )
    def test_pairs_of_the_wrong_length_are_invalid_even_when_lengths_balance(
        self, headers: object
    ) -> None:
        with pytest.raises(InvalidFrame, match="header"):
            Frame("SEND", headers)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("headers", "said"),
        [
            ({"passcode": "s3cret", "n": 5}, "the value of header 'n' is an int"),
            ([("passcode", "s3cret"), ("n", 5)], "the value of header 'n' is an int"),
            ([("passcode", "s3cret"), (b"n", "s3cret")], "the name of header 1 is a bytes"),
            ([("passcode", "s3cret", "s3cret")], "header 0 has 3 items, not 2"),
            ((p for p in [("passcode", "s3cret"), ["s3cret"]]), "header 1 has 1 item, not 2"),
            ([("passcode", "s3cret"), "s3"], "header 1 is a str"),
            (5, "got an int"),
        ],
        ids=["dict", "pairs", "name", "triple", "generator", "string", "not iterable"],
    )
    def test_a_header_error_says_which_header_but_never_a_value(
        self, headers: object, said: str
    ) -> None:
        with pytest.raises(InvalidFrame) as refused:
            Frame("CONNECT", headers)  # type: ignore[arg-type]
        assert said in str(refused.value)
        assert "s3" not in str(refused.value)

    def test_named_tuple_pairs_are_accepted(self) -> None:
        frame = Frame("SEND", [Header("destination", "/queue/a"), Header("x", "1")])
        assert frame.headers == (("destination", "/queue/a"), ("x", "1"))
        assert frame.get("x") == "1"

    def test_list_pairs_items_views_and_zips_are_accepted(self) -> None:
        expected = (("a", "1"), ("b", "2"))
        assert Frame("SEND", [["a", "1"], ["b", "2"]]).headers == expected  # type: ignore[list-item]
        assert Frame("SEND", {"a": "1", "b": "2"}.items()).headers == expected
        assert Frame("SEND", zip(["a", "b"], ["1", "2"], strict=True)).headers == expected

    def test_named_tuple_and_list_pairs_are_stored_as_tuples(self) -> None:
        frame = Frame("SEND", [Header("a", "1"), ("b", "2")])
        assert [type(pair) for pair in frame.headers] == [tuple, tuple]
        frame = Frame("SEND", (["a", "1"], ("b", "2")))  # type: ignore[arg-type]
        assert [type(pair) for pair in frame.headers] == [tuple, tuple]

    def test_any_mapping_is_accepted_in_its_order(self) -> None:
        headers = MappingProxyType({"b": "1", "a": "2"})
        frame = Frame("SEND", headers)
        assert frame.headers == (("b", "1"), ("a", "2"))
        assert frame.get("a") == "2"

    @pytest.mark.parametrize("headers", [{"": "v"}, [("a", "1"), ("", "v")]], ids=repr)
    def test_empty_header_name_is_invalid(self, headers: object) -> None:
        with pytest.raises(InvalidFrame, match="empty"):
            Frame("SEND", headers)  # type: ignore[arg-type]

    @pytest.mark.parametrize("body", ["text", None, 1, [1, 2]], ids=repr)
    def test_body_that_is_not_bytes_like_is_invalid(self, body: object) -> None:
        with pytest.raises(InvalidFrame, match="body"):
            Frame("SEND", {}, body)  # type: ignore[arg-type]

    def test_bytearray_body_is_copied_to_bytes(self) -> None:
        source = bytearray(b"abc")
        frame = Frame("SEND", {}, source)
        source[0] = ord("X")
        assert frame.body == b"abc"
        assert type(frame.body) is bytes

    def test_bytes_subclass_body_is_kept(self) -> None:
        class Blob(bytes):
            pass

        frame = Frame("SEND", {}, Blob(b"abc"))
        assert frame.body == b"abc"
        assert isinstance(frame.body, bytes)

    def test_memoryview_body_is_copied_to_bytes(self) -> None:
        source = bytearray(b"abcdef")
        frame = Frame("SEND", {}, memoryview(source)[1:4])
        source[1] = ord("X")
        assert frame.body == b"bcd"
        assert type(frame.body) is bytes

    def test_invalid_frame_is_a_frame_error_and_a_value_error(self) -> None:
        with pytest.raises(FrameError):
            Frame("NOPE")
        with pytest.raises(ValueError, match="NOPE"):
            Frame("NOPE")


class TestFrameImmutability:
    def test_attributes_cannot_be_assigned(self) -> None:
        frame = Frame("SEND", {"a": "1"}, b"x")
        with pytest.raises(AttributeError, match="command"):
            frame.command = "ACK"  # type: ignore[misc]
        with pytest.raises(AttributeError, match="body"):
            frame.body = b"y"  # type: ignore[misc]
        with pytest.raises(AttributeError, match="headers"):
            frame.headers = ()  # type: ignore[misc]
        with pytest.raises(AttributeError, match="command"):
            del frame.command
        assert frame == Frame("SEND", {"a": "1"}, b"x")

    def test_new_attributes_cannot_be_added(self) -> None:
        frame = Frame("SEND")
        with pytest.raises((AttributeError, TypeError)):
            frame.extra = 1  # type: ignore[attr-defined]

    def test_header_dict_is_a_copy(self) -> None:
        frame = Frame("SEND", {"a": "1"})
        copy = frame.header_dict()
        copy["a"] = "changed"
        copy["b"] = "new"
        assert frame.get("a") == "1"
        assert not frame.has("b")

    def test_changing_the_source_mapping_does_not_change_the_frame(self) -> None:
        source = {"a": "1"}
        frame = Frame("SEND", source)
        source["a"] = "2"
        source["b"] = "3"
        assert frame.headers == (("a", "1"),)
        assert frame.get("a") == "1"


class TestFrameEqualityAndHashing:
    def test_equal_frames_are_equal_and_hash_alike(self) -> None:
        one = Frame("SEND", {"a": "1"}, b"x")
        two = Frame("SEND", [("a", "1")], bytearray(b"x"))
        assert one == two
        assert hash(one) == hash(two)
        assert len({one, two}) == 1

    @pytest.mark.parametrize(
        "other",
        [
            Frame("MESSAGE", {"a": "1"}, b"x"),
            Frame("SEND", {"a": "2"}, b"x"),
            Frame("SEND", {"b": "1"}, b"x"),
            Frame("SEND", {"a": "1"}, b"y"),
            Frame("SEND", [("a", "1"), ("a", "1")], b"x"),
        ],
        ids=repr,
    )
    def test_frames_differing_in_anything_are_unequal(self, other: Frame) -> None:
        assert Frame("SEND", {"a": "1"}, b"x") != other

    def test_header_order_matters_for_equality(self) -> None:
        assert Frame("SEND", [("a", "1"), ("b", "2")]) != Frame("SEND", [("b", "2"), ("a", "1")])

    def test_a_frame_is_not_equal_to_its_parts(self) -> None:
        frame = Frame("SEND", {"a": "1"}, b"x")
        assert frame != ("SEND", (("a", "1"),), b"x")
        assert frame.__eq__(("SEND", (("a", "1"),), b"x")) is NotImplemented

    def test_frames_match_class_patterns_by_position(self) -> None:
        match Frame("SEND", {"a": "1"}, b"x"):
            case Frame("SEND", headers, body):
                assert (headers, body) == ((("a", "1"),), b"x")
            case _:  # pragma: no cover - the test fails here
                pytest.fail("the frame did not match Frame(command, headers, body)")

    def test_frames_can_be_dict_keys(self) -> None:
        table = {Frame("SEND", {"a": "1"}): "first"}
        assert table[Frame("SEND", {"a": "1"})] == "first"

    @pytest.mark.parametrize(
        "frame",
        [
            Frame("SEND", [("a", "1"), ("a", "2"), ("b", "")], b"x"),
            Frame("SEND", {"a": "1", "b": ""}, b"x"),
            Parser(Version.V1_2).feed(b"MESSAGE\na:1\na:2\nb\\cc:d\n\nx\x00")[0],
        ],
        ids=["built", "built from a dict", "parsed"],
    )
    def test_frames_survive_pickle_and_copy(self, frame: Frame) -> None:
        for twin in (pickle.loads(pickle.dumps(frame)), copy.copy(frame), copy.deepcopy(frame)):
            assert twin == frame
            assert twin.get("a") == "1"
            assert twin.header_dict() == frame.header_dict()
            assert serialize(twin, Version.V1_2) == serialize(frame, Version.V1_2)


class TestHeaderLookup:
    frame = Frame(
        "MESSAGE",
        [("destination", "/queue/a"), ("x", "first"), ("y", ""), ("x", "second"), ("x", "third")],
    )

    def test_get_returns_the_first_occurrence(self) -> None:
        assert self.frame.get("x") == "first"

    def test_get_of_a_missing_header_is_none(self) -> None:
        assert self.frame.get("missing") is None

    def test_get_of_a_missing_header_returns_the_default(self) -> None:
        assert self.frame.get("missing", "fallback") == "fallback"

    def test_get_of_a_present_header_ignores_the_default(self) -> None:
        assert self.frame.get("x", "fallback") == "first"

    def test_get_of_an_empty_value_is_the_empty_string_not_the_default(self) -> None:
        assert self.frame.get("y", "fallback") == ""

    def test_get_is_case_sensitive(self) -> None:
        assert self.frame.get("X") is None
        assert self.frame.get("Destination") is None

    def test_get_all_returns_every_value_in_wire_order(self) -> None:
        assert self.frame.get_all("x") == ("first", "second", "third")

    def test_get_all_of_a_missing_header_is_empty(self) -> None:
        assert self.frame.get_all("missing") == ()

    def test_has(self) -> None:
        assert self.frame.has("x")
        assert self.frame.has("y")
        assert not self.frame.has("missing")

    def test_header_dict_keeps_the_first_occurrence(self) -> None:
        assert self.frame.header_dict() == {"destination": "/queue/a", "x": "first", "y": ""}

    def test_header_map_reads_the_first_occurrence_without_a_copy(self) -> None:
        assert self.frame.header_map == {"destination": "/queue/a", "x": "first", "y": ""}
        assert self.frame.header_map is self.frame.header_map
        assert self.frame.header_map.get("x") == "first"

    def test_header_map_of_a_parsed_frame_keeps_the_first_occurrence(self) -> None:
        (frame,) = Parser(Version.V1_2).feed(b"SEND\nx:1\nx:2\ndestination:/q\n\n\x00")
        assert isinstance(frame, Frame)
        assert dict(frame.header_map) == {"x": "1", "destination": "/q"}

    def test_header_dict_keeps_first_appearance_order(self) -> None:
        assert list(self.frame.header_dict()) == ["destination", "x", "y"]

    def test_headers_still_show_the_later_occurrences(self) -> None:
        assert self.frame.headers.count(("x", "second")) == 1


class TestFrameRepr:
    def test_repr_shows_command_headers_and_body(self) -> None:
        frame = Frame("SEND", {"destination": "/queue/a"}, b"hi")
        assert repr(frame) == "Frame('SEND', (('destination', '/queue/a'),), b'hi')"

    def test_repr_redacts_the_passcode(self) -> None:
        frame = Frame("CONNECT", [("login", "guest"), ("passcode", "s3cret-pass")])
        text = repr(frame)
        assert "s3cret-pass" not in text
        assert "'passcode'" in text
        assert "'guest'" in text

    def test_repr_redacts_every_repeated_passcode(self) -> None:
        frame = Frame("CONNECT", [("passcode", "one-secret"), ("passcode", "two-secret")])
        text = repr(frame)
        assert "one-secret" not in text
        assert "two-secret" not in text

    def test_redaction_does_not_change_the_frame(self) -> None:
        frame = Frame("CONNECT", {"passcode": "s3cret"})
        repr(frame)
        assert frame.get("passcode") == "s3cret"

    def test_passcode_is_the_redacted_header(self) -> None:
        assert "passcode" in REDACTED_HEADERS

    def test_repr_truncates_a_long_body_and_gives_its_length(self) -> None:
        body = b"a" * 60 + b"TAIL-MARKER" * 10
        text = repr(Frame("SEND", {}, body))
        assert "TAIL-MARKER" * 10 not in text
        assert f"{len(body)} bytes" in text
        assert len(text) < len(body)

    def test_repr_shows_a_short_body_whole(self) -> None:
        body = b"b" * 64
        text = repr(Frame("SEND", {}, body))
        assert repr(body) in text
        assert "bytes)" not in text


class TestHeartBeat:
    def test_every_heart_beat_equals_the_heartbeat_constant(self) -> None:
        assert HeartBeat() == HEARTBEAT
        assert hash(HeartBeat()) == hash(HEARTBEAT)

    def test_heart_beat_is_not_a_frame(self) -> None:
        assert not isinstance(HEARTBEAT, Frame)
        frames: list[object] = [Frame(command) for command in COMMANDS]
        assert HEARTBEAT not in frames

    def test_heart_beat_repr(self) -> None:
        assert repr(HEARTBEAT) == "HEARTBEAT"

    def test_heart_beat_is_immutable(self) -> None:
        with pytest.raises((AttributeError, TypeError)):
            HEARTBEAT.x = 1  # type: ignore[attr-defined]


class TestLimits:
    def test_defaults(self) -> None:
        limits = Limits()
        assert limits.max_frame_size == 100 * 1024 * 1024
        assert limits.max_headers == 1000
        assert limits.max_header_line == 64 * 1024

    def test_values_are_kept(self) -> None:
        limits = Limits(max_frame_size=10, max_headers=2, max_header_line=3)
        assert (limits.max_frame_size, limits.max_headers, limits.max_header_line) == (10, 2, 3)

    def test_the_smallest_limits_are_one(self) -> None:
        assert Limits(max_frame_size=1, max_headers=1, max_header_line=1).max_headers == 1

    @pytest.mark.parametrize("field", ["max_frame_size", "max_headers", "max_header_line"])
    @pytest.mark.parametrize("value", [0, -1, True, False, 1.5, 10.0, "10", None], ids=repr)
    def test_bad_limit_values_are_invalid(self, field: str, value: object) -> None:
        with pytest.raises(InvalidFrame, match=field):
            Limits(**{field: value})  # type: ignore[arg-type]

    def test_limits_are_keyword_only(self) -> None:
        with pytest.raises(TypeError):
            Limits(10)  # type: ignore[call-arg]

    def test_limits_are_immutable_and_comparable(self) -> None:
        limits = Limits(max_headers=5)
        with pytest.raises(dataclasses.FrozenInstanceError):
            limits.max_headers = 6  # type: ignore[misc]
        assert limits == Limits(max_headers=5)
        assert limits != Limits()


class TestVersionsAndCommands:
    @pytest.mark.parametrize("name", ["1.0", "1.1", "1.2"])
    def test_version_is_looked_up_by_its_wire_name(self, name: str) -> None:
        version = Version(name)
        assert version.value == name
        assert str(version) == name

    def test_unknown_version_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"2\.0"):
            Version("2.0")

    def test_only_1_0_does_not_escape_headers(self) -> None:
        assert not Version.V1_0.escapes_headers
        assert Version.V1_1.escapes_headers
        assert Version.V1_2.escapes_headers

    def test_client_and_server_commands_partition_the_commands(self) -> None:
        assert CLIENT_COMMANDS | SERVER_COMMANDS == COMMANDS
        assert not CLIENT_COMMANDS & SERVER_COMMANDS
        assert {"CONNECTED", "MESSAGE", "RECEIPT", "ERROR"} == SERVER_COMMANDS
        assert len(CLIENT_COMMANDS) == 11

    def test_only_send_message_and_error_may_have_a_body(self) -> None:
        assert {"SEND", "MESSAGE", "ERROR"} == BODY_COMMANDS

    def test_connect_stomp_and_connected_are_never_escaped(self) -> None:
        assert {"CONNECT", "STOMP", "CONNECTED"} == UNESCAPED_COMMANDS


class TestErrorHierarchy:
    def test_parse_error_carries_reason_and_offset(self) -> None:
        error = ParseError("something is wrong", 42)
        assert error.reason == "something is wrong"
        assert error.offset == 42
        assert "something is wrong" in str(error)
        assert "42" in str(error)

    def test_limit_exceeded_is_a_parse_error(self) -> None:
        assert issubclass(LimitExceeded, ParseError)
        assert issubclass(ParseError, FrameError)

    def test_invalid_frame_is_not_a_parse_error(self) -> None:
        assert issubclass(InvalidFrame, FrameError)
        assert not issubclass(InvalidFrame, ParseError)
