"""Bulk TCP source and sink for Scripts/bench (loopback only).

serve PORT [pattern|trickle]
                  accept connections; send zeros (or, with "pattern", the bytes
                  0, 1, ... 250, 0, 1, ...: a lost or repeated byte shifts the
                  cycle, so a reader can check every byte; "trickle" sends that
                  cycle 1000 bytes at a time with a pause after each, so that a
                  relay reads small pieces) until the peer closes
read HOST:PORT MB read MB mebibytes, print the rate in Gbit/s
slowread HOST:PORT BYTES_PER_SECOND
                  read at that rate (in 0.1 s ticks) until SIGTERM; then print
                  the bytes received, the rate and whether the peer closed
"""
import signal
import socket
import sys
import threading
import time

CHUNK = bytes(256 * 1024)
PATTERN_CYCLE = 251
# A whole number of cycles, so that chunk after chunk continues the cycle.
PATTERN_CHUNK = bytes(i % PATTERN_CYCLE for i in range(PATTERN_CYCLE * 1024))


def serve(port, chunk=CHUNK, piece=None):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    print("listening", server.getsockname()[1], flush=True)

    def pump(conn):
        try:
            while True:
                if piece is None:
                    conn.sendall(chunk)
                    continue
                for at in range(0, len(chunk), piece):
                    conn.sendall(chunk[at:at + piece])
                    time.sleep(0.0002)
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


def slowread(address, per_second):
    host, _, port = address.rstrip("/").rpartition(":")
    conn = socket.create_connection((host, int(port)), timeout=30)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    per_tick = max(1, per_second // 10)
    got = 0
    closed = False
    longest_wait = 0.0
    start = next_tick = time.monotonic()
    while not stopping and not closed:
        began = time.monotonic()
        need = per_tick
        while need > 0 and not stopping:
            try:
                data = conn.recv(need)
            except (InterruptedError, socket.timeout):
                continue
            if not data:
                closed = True
                break
            got += len(data)
            need -= len(data)
        longest_wait = max(longest_wait, time.monotonic() - began)
        next_tick = max(next_tick + 0.1, time.monotonic())
        time.sleep(max(0.0, next_tick - time.monotonic()))
    elapsed = time.monotonic() - start
    state = "peer CLOSED the tunnel" if closed else "still open"
    print(f"{got} bytes in {elapsed:.1f} s ({got / elapsed / 1000:.1f} kB/s, longest wait {longest_wait:.2f} s, {state})",
          flush=True)
    conn.close()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        mode = sys.argv[3] if len(sys.argv) > 3 else "zeros"
        serve(int(sys.argv[2]), CHUNK if mode == "zeros" else PATTERN_CHUNK, 1000 if mode == "trickle" else None)
    elif sys.argv[1] == "slowread":
        slowread(sys.argv[2], int(sys.argv[3]))
    else:
        read(sys.argv[2], int(sys.argv[3]))
