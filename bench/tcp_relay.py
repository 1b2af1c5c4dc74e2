"""A TCP relay that adds a fixed one-way delay to every byte, both directions.

Stands in for a network link between two processes on one machine (where
`tc netem` is not available): every chunk read on one side is written to the
other side `delay_s` after it was read, in order. The delay can be changed
while connections are open. Only the Python standard library is used.

    relay = TcpRelay(("127.0.0.1", upstream_port), delay_s=0.002)
    relay.start()           # listens on 127.0.0.1:relay.port
    relay.delay_s = 0.0     # takes effect for chunks read from now on
    relay.stop()
"""
import collections
import socket
import threading
import time


class TcpRelay:
    def __init__(self, upstream, delay_s=0.0, host="127.0.0.1"):
        self.upstream = upstream
        self.delay_s = delay_s
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._sockets = []
        self._lock = threading.Lock()

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self._stop.set()
        with self._lock:
            for s in [self._listener] + self._sockets:
                try:
                    s.close()
                except OSError:
                    pass

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, server]
            self._pipe(client, server)
            self._pipe(server, client)

    def _pipe(self, src, dst):
        """Reader thread: chunks with their due time; writer thread: sends each when due."""
        queue = collections.deque()
        ready = threading.Condition()

        def read():
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                with ready:
                    queue.append((time.monotonic() + self.delay_s, data))
                    ready.notify()
                if not data:
                    return

        def write():
            while True:
                with ready:
                    while not queue:
                        ready.wait()
                    due, data = queue.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if not data:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                try:
                    dst.sendall(data)
                except OSError:
                    return

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=write, daemon=True).start()
