"""gameserver: an authoritative multiplayer game server over WebSockets."""

__version__ = "0.1.0"
