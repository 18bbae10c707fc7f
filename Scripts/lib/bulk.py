"""Bulk TCP source and sink for Scripts/bench (loopback only).

serve PORT        accept connections; send zeros until the peer closes
read HOST:PORT MB read MB mebibytes, print the rate in Gbit/s
"""
import socket
import sys
import threading
import time

CHUNK = bytes(256 * 1024)


def serve(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    print("listening", server.getsockname()[1], flush=True)

    def pump(conn):
        try:
            while True:
                conn.sendall(CHUNK)
        except OSError:
            pass
        finally:
            conn.close()

    while True:
        conn, _ = server.accept()
        threading.Thread(target=pump, args=(conn,), daemon=True).start()


def read(address, mebibytes):
    host, _, port = address.rstrip("/").rpartition(":")
    want = mebibytes * 1024 * 1024
    conn = socket.create_connection((host, int(port)), timeout=30)
    got = 0
    start = time.monotonic()
    while got < want:
        data = conn.recv(1 << 20)
        if not data:
            break
        got += len(data)
    elapsed = time.monotonic() - start
    conn.close()
    if got < want:
        print(f"short read: {got} of {want} bytes")
        return
    print(f"{got * 8 / elapsed / 1e9:.2f} Gbit/s")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        read(sys.argv[2], int(sys.argv[3]))
