"""Joins stdin/stdout to 127.0.0.1:<port>: kwok runs it inside a pod's network namespace for port-forward.

Standalone on purpose (run with ``python -I``): it starts once per forwarded connection.
"""

import os
import socket
import sys
import threading


def main(port: int) -> None:
    conn = socket.create_connection(("127.0.0.1", port))

    def upstream() -> None:
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)

    threading.Thread(target=upstream, daemon=True).start()
    while True:
        data = conn.recv(65536)
        if not data:
            break
        os.write(1, data)


if __name__ == "__main__":
    main(int(sys.argv[1]))
