"""Run a simulated device on a pseudo-terminal or a loopback TCP port, for trying a real config.

    socat pty,raw,echo=0,link=/tmp/kiosk-cash pty,raw,echo=0,link=/tmp/sim-cash &
    python -m devices.sim cctalk --device /tmp/sim-cash --lifetime 600 hopper=3
    # then in the config: url = "serial:///tmp/kiosk-cash?hopper=3"

    python -m devices.sim printer --tcp 9100 paper=low

It prints READY once its end is open (pyserial flushes input when the host opens its end, so
the host must wait for that line), and exits after --lifetime seconds or on SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Mapping

from ..links import Peer
from .cctalk import CcTalkBus
from .printer import SimPrinter
from .scanner import SimScanner
from .servers import SerialPeerThread, TcpPeerServer
from .transbank import TransbankPeer

PEERS: dict[str, Callable[[Mapping[str, str]], Peer]] = {
    "cctalk": CcTalkBus.from_options,
    "transbank": TransbankPeer.from_options,
    "printer": SimPrinter.from_options,
    "scanner": lambda options: SimScanner(),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devices.sim", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=sorted(PEERS))
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--device", metavar="PATH", help="the simulator's end of a pty pair")
    where.add_argument("--tcp", type=int, metavar="PORT", help="listen on 127.0.0.1:PORT")
    parser.add_argument("--lifetime", type=float, default=300.0, help="seconds before exiting (default 300)")
    parser.add_argument("options", nargs="*", metavar="KEY=VALUE", help="faults, as in sim:// URLs")
    args = parser.parse_intermixed_args(argv)
    options = dict(option.split("=", 1) for option in args.options if "=" in option)
    peer = PEERS[args.kind](options)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    server: TcpPeerServer | SerialPeerThread
    if args.tcp is not None:
        server = TcpPeerServer(peer, lifetime_s=args.lifetime, port=args.tcp).__enter__()
    else:
        server = SerialPeerThread(peer, args.device, lifetime_s=args.lifetime).__enter__()
    print("READY", flush=True)
    done.wait(args.lifetime)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
