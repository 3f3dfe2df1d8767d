#!/usr/bin/python3
"""Echo server on Python websockets (Debian's python3-websockets 10.4), for
rake bench's permessage-deflate scenario: every message comes back with the
same type (text as text, binary as binary).

    /usr/bin/python3 bench/apps/echo_python.py [PORT]   (PORT also from $PORT, default 8080)

Listens on $HOST (127.0.0.1 unless set; loopback only) with websockets'
defaults, so permessage-deflate is on (server_max_window_bits=12,
client_max_window_bits=12 when the client offers it, memLevel 5) and
max_size 1 MiB. Prints a ready line once listening; stops on INT or TERM.
"""

import asyncio
import ipaddress
import os
import signal
import sys

import websockets


async def echo(ws, _path=None):
    # A message is str for text and bytes for binary; send() keeps the type.
    async for message in ws:
        await ws.send(message)


async def main():
    host = os.environ.get("HOST", "127.0.0.1")
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        sys.exit(f"echo_python.py: refusing to listen on non-loopback {host}")
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8080"))
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with websockets.serve(echo, host, port, max_size=1 << 20):
        print(f"python websockets {websockets.version.version} echo server listening on ws://{host}:{port}/",
              flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
