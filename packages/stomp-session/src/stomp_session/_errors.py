"""The exceptions of stomp-session: one base class, a local and a remote branch."""

from __future__ import annotations

__all__ = ["LocalProtocolError", "RemoteProtocolError", "SessionError"]


class SessionError(Exception):
    """Base class of every error raised by stomp-session."""


class LocalProtocolError(SessionError):
    """The caller used the session wrongly (a *local* error); nothing was sent.

    Raised for an action the current state does not allow (a SEND before CONNECTED),
    an ACK of a message from an earlier connection, an unknown transaction or
    subscription, a receipt id already pending, and for every frame the negotiated
    version cannot express (translated from
    :class:`stomp_commands.LocalCommandError`, kept as ``__cause__``). The session
    is unchanged. Messages never contain the passcode.
    """


class RemoteProtocolError(SessionError):
    """The broker broke the protocol (a *remote* error); the connection is unusable.

    Wraps :class:`stomp_frame.ParseError` (bytes that are not STOMP) and
    :class:`stomp_commands.RemoteCommandError` (a frame missing what the spec
    requires), kept as ``__cause__``, and reports frames that are not allowed in the
    session's state (a MESSAGE before CONNECTED). The session does not raise it
    from :meth:`~stomp_session.Session.receive_data`: it is delivered in a
    :class:`~stomp_session.ProtocolFailure` event, after the events that came
    before it in the same bytes.
    """
