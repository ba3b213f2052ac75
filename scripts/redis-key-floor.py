#!/usr/bin/env python3
"""What a session's structure costs in Redis before it holds anything
(BENCHMARKS.md, "Redis bytes per session"): `used_memory` before and after
100,000 writes of each shape, over 10,000 users, on a private redis-server
this script starts on a free loopback port (redis-server and redis-cli
from Debian's redis packages; scripts/bench.sh installs them).

  scripts/redis-key-floor.py > benches/results/<dir>/redis-key-floor.txt
"""
import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

N = 100_000
USERS = 10_000
EXPIRY_MS = 4_102_444_800_000  # 2100-01-01, far enough for any run


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = str(free_port())
    work = tempfile.mkdtemp()
    server = subprocess.Popen(
        ["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", work],
        stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", port, "ping"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                 text=True).stdout.strip()
        print(f"# {version}; {N} writes of each shape over {USERS} users, "
              "used_memory delta per write, fresh server each time (FLUSHALL)")

        def used():
            info = subprocess.run(["redis-cli", "-p", port, "info", "memory"],
                                  capture_output=True, text=True).stdout
            return int(next(l for l in info.splitlines()
                            if l.startswith("used_memory:")).split(":")[1])

        def measure(name, write):
            subprocess.run(["redis-cli", "-p", port, "flushall"], capture_output=True)
            before = used()
            data = b"".join(write(i) for i in range(N))
            subprocess.run(["redis-cli", "-p", port, "--pipe"], input=data,
                           capture_output=True, check=True)
            print(f"{name}\t{(used() - before) / N:.1f}")

        def session_key(i, sid):
            return f"mem:{{user-{i % USERS:05d}}}:fam:{sid}"

        def hash_with_ttl(i):
            key = session_key(i, uuid.uuid4())
            return resp("HSET", key, "a", 1) + resp("PEXPIREAT", key, EXPIRY_MS)

        measure("hash key (36-character sid), one tiny field, TTL", hash_with_ttl)

        def short_hash_with_ttl(i):
            key = session_key(i, b64(uuid.uuid4().bytes))
            return resp("HSET", key, "a", 1) + resp("PEXPIREAT", key, EXPIRY_MS)

        measure("hash key (22-character sid), one tiny field, TTL", short_hash_with_ttl)
        measure("sessions index entry (36-character sid), 10 per user",
                lambda i: resp("ZADD", f"mem:{{user-{i % USERS:05d}}}:sessions",
                               EXPIRY_MS + i, str(uuid.uuid4())))
        measure("sessions index entry (22-character sid), 10 per user",
                lambda i: resp("ZADD", f"mem:{{user-{i % USERS:05d}}}:sessions",
                               EXPIRY_MS + i, b64(uuid.uuid4().bytes)))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
