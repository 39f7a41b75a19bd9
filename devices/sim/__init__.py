"""Simulated twins of every device, speaking the real protocols.

`sim://` URLs put one of these behind an in-process link; the tests put the same peers behind a
real TCP socket (`servers.TcpPeerServer`) or the far end of a socat pseudo-terminal pair
(`servers.SerialPeerThread`), and the virtual ID card behind pcscd's vpcd reader (`card`).
"""
