#!/usr/bin/env python3
"""Runs the container image's exact command line without a container engine.

Reads the final stage of the Dockerfile (ENV, WORKDIR, USER, COPY into
/etc/tessera, ENTRYPOINT, CMD, HEALTHCHECK), mirrors its absolute paths
under a temp dir, adds what an operator mounts (a config with a key) and
passes (TESSERA__REDIS__URL to a private redis-server, TESSERA__ISSUER
an https URL: prod refuses http:// and loopback issuers), then checks
/healthz, /readyz, the HEALTHCHECK command, the logs (JSON lines on stdout
only: an issue's audit event and access line with the request's W3C trace
id, the ERROR line of a failed /readyz; no logs/ directory), fail-closed
readiness when Redis stops, and a clean exit on SIGTERM. Two deviations, both forced by
the rules of this machine: loopback on a free port instead of
0.0.0.0:8080, and a private redis-server instead of a `redis` host.

Usage: container_check.py PATH/TO/release/tessera
"""

import base64
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def final_stage(path):
    """Instructions of the last stage: a list of (KEYWORD, argument text)."""
    lines, buf = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            lines.append(buf + line)
            buf = ""
    stage = []
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        if word.upper() == "FROM":
            stage = []
        stage.append((word.upper(), rest.strip()))
    return stage


def exec_form(text):
    text = text.strip()
    return json.loads(text) if text.startswith("[") else ["/bin/sh", "-c", text]


def parse(stage):
    spec = {"env": {}, "workdir": "/", "user": None, "copies": [],
            "entrypoint": [], "cmd": [], "healthcheck": None, "expose": []}
    for word, rest in stage:
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                spec["env"][key] = value
        elif word == "WORKDIR":
            spec["workdir"] = rest
        elif word == "USER":
            spec["user"] = rest
        elif word == "COPY" and not rest.startswith("--from"):
            *sources, dest = rest.split()
            spec["copies"].append((sources, dest))
        elif word == "ENTRYPOINT":
            spec["entrypoint"] = exec_form(rest)
        elif word == "CMD":
            spec["cmd"] = exec_form(rest)
        elif word == "HEALTHCHECK":
            spec["healthcheck"] = exec_form(rest.split(" CMD ", 1)[1])
        elif word == "EXPOSE":
            spec["expose"] = [int(p.split("/")[0]) for p in rest.split()]
    return spec


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, headers=None, data=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


SECRET = "container-check-secret-0123456789"
TRACE_OK = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_DOWN = "0af7651916cd43dd8448eb211c80319c"


def traceparent(trace_id):
    return {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}


def stdout_json(path):
    """Every stdout line as JSON; fails on a line that is not an object."""
    lines = []
    with open(path) as f:
        for line in f:
            try:
                v = json.loads(line)
            except ValueError:
                sys.exit(f"container-check: FAILED: not a JSON line on stdout: {line!r}")
            if not isinstance(v, dict) or not all(k in v for k in ("time", "level", "target")):
                sys.exit(f"container-check: FAILED: not a log object: {line!r}")
            lines.append(v)
    return lines


def wait_json(path, what, pred):
    found = []
    wait(what, lambda: found.extend(v for v in stdout_json(path) if pred(v)) or found)
    return found[0]


def wait(what, pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"container-check: FAILED waiting for {what}")


def check(cond, what):
    if not cond:
        sys.exit(f"container-check: FAILED: {what}")
    print(f"container-check: ok: {what}")


def main():
    binary = os.path.abspath(sys.argv[1])
    spec = parse(final_stage(os.path.join(REPO, "Dockerfile")))
    root = tempfile.mkdtemp(prefix="tessera-container-")
    mirror = lambda p: os.path.join(root, p.lstrip("/")) if p.startswith("/") else p
    procs = []
    try:
        # The image's files: the COPY instructions of the final stage.
        for sources, dest in spec["copies"]:
            os.makedirs(mirror(dest), exist_ok=True)
            for src in sources:
                shutil.copy(os.path.join(REPO, src), mirror(dest))
        etc = mirror("/etc/tessera")
        # What the operator mounts: a key and a config naming it.
        os.makedirs(os.path.join(etc, "keys"))
        key = os.path.join(etc, "keys", "k1.pem")
        subprocess.run([binary, "keygen", "--out", key], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(REPO, "config.yaml")) as f:
            config = f.read()
        assert config.count("\nkeys: []\n") == 1, "config.yaml has no `keys: []` line"
        config = config.replace(
            "\nkeys: []\n",
            f'\nkeys:\n  - {{ kid: "k1", path: "{key}", alg: "EdDSA", status: "active" }}\n',
        )
        # ...and a client, to see an audit event.
        assert config.count("\nclients: []\n") == 1, "config.yaml has no `clients: []` line"
        secret_hash = subprocess.run([binary, "hash-secret"], input=SECRET, text=True,
                                     check=True, capture_output=True).stdout.strip()
        config = config.replace(
            "\nclients: []\n",
            f'\nclients:\n  - {{ id: "app", secret_hash: "{secret_hash}", grants: [issue] }}\n',
        )
        with open(os.path.join(etc, "config.yaml"), "w") as f:
            f.write(config)
        workdir = mirror(spec["workdir"])
        os.makedirs(workdir, exist_ok=True)

        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", root],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(redis)
        wait("redis-server", lambda: socket.create_connection(("127.0.0.1", redis_port), 0.2).close() or True)

        port = free_port()
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir}
        env.update({k: mirror(v) for k, v in spec["env"].items()})
        inner = spec["expose"][0] if spec["expose"] else 8080
        check(env.get("TESSERA__SERVER__LISTEN") == f"0.0.0.0:{inner}",
              f"the image listens on 0.0.0.0:{inner}")
        env["TESSERA__SERVER__LISTEN"] = f"127.0.0.1:{port}"
        env["TESSERA__REDIS__URL"] = f"redis://127.0.0.1:{redis_port}"
        # What the operator sets: prod refuses an http:// or loopback issuer.
        env["TESSERA__ISSUER"] = "https://tokens.example.com"
        argv = spec["entrypoint"] + spec["cmd"]
        check(argv[0] == "tessera", f"entrypoint + cmd: {argv}")
        argv = [binary] + argv[1:]
        user = spec["user"]
        check(user is not None and not user.startswith("0") and user.split(":")[0] != "root",
              f"runs as a non-root user ({user})")
        if os.geteuid() == 0 and shutil.which("setpriv"):
            uid, _, gid = user.partition(":")
            for d, _, files in os.walk(root):
                for p in [d] + [os.path.join(d, f) for f in files]:
                    os.chown(p, int(uid), int(gid or uid))
            argv = ["setpriv", f"--reuid={uid}", f"--regid={gid or uid}", "--clear-groups"] + argv
        print("container-check: running", " ".join(shlex.quote(a) for a in argv))
        print("container-check: with", " ".join(f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("TESSERA")))
        stdout = os.path.join(root, "stdout.log")
        stderr = os.path.join(root, "stderr.log")
        started = time.monotonic()
        app = subprocess.Popen(argv, cwd=workdir, env=env, stdout=open(stdout, "w"),
                               stderr=open(stderr, "w"))
        procs.append(app)
        def healthy():
            if app.poll() is not None:
                sys.exit(f"container-check: tessera exited with {app.returncode}:\n"
                         + open(stdout).read() + open(stderr).read())
            return get(port, "/healthz")[0] == 200
        wait("/healthz", healthy)
        print(f"container-check: up after {time.monotonic() - started:.2f} s")

        status, body = get(port, "/readyz")
        check(status == 200 and json.loads(body).get("store") == "redis", f"/readyz 200 on redis ({body})")
        # The HEALTHCHECK is the binary itself, run with the image's
        # environment: it must find the port from the configuration.
        hc = spec["healthcheck"]
        check(hc[0] == "tessera", f"the HEALTHCHECK is the tessera binary ({hc})")
        def probe(args):
            return subprocess.run([binary] + args, cwd=workdir, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        check(probe(hc[1:]) == 0, f"HEALTHCHECK passes: {' '.join(hc)}")
        check(probe(["healthcheck"]) == 0, "tessera healthcheck (readiness) passes with Redis up")
        # Logs: JSON lines on stdout, the request's trace id in them.
        basic = base64.b64encode(f"app:{SECRET}".encode()).decode()
        status, body = get(port, "/token/issue", data=b'{"sub":"container-check"}', headers={
            "Authorization": f"Basic {basic}", "Content-Type": "application/json",
            "X-Request-Id": "container-issue", **traceparent(TRACE_OK)})
        check(status == 200, f"POST /token/issue 200 ({status})")
        event = wait_json(stdout, "the token_issued audit line", lambda v: v["target"] == "audit"
                          and v.get("audit", {}).get("event") == "token_issued")["audit"]
        check(event.get("request_id") == "container-issue" and event.get("trace_id") == TRACE_OK,
              f"audit event on stdout as JSON with the request's trace id ({event})")
        access = wait_json(stdout, "the access line", lambda v: v["target"] == "tessera::access"
                           and "request_id=container-issue " in v.get("message", ""))
        check(access["level"] == "INFO" and access["message"].endswith(f" trace_id={TRACE_OK}"),
              f"access line at INFO in prod with the trace id ({access['message']})")

        redis.terminate()
        redis.wait()
        status, body = get(port, "/readyz")
        check(status == 503, f"/readyz 503 with Redis down ({body})")
        get(port, "/readyz", headers={"X-Request-Id": "container-down", **traceparent(TRACE_DOWN)})
        error = wait_json(stdout, "an ERROR line", lambda v: v["level"] == "ERROR"
                          and "request_id=container-down " in v.get("message", ""))
        check(f"trace_id={TRACE_DOWN}" in error["message"],
              f"the 503's ERROR line on stdout as JSON ({error['message'][:100]}…)")
        check(get(port, "/healthz")[0] == 200, "/healthz still 200 with Redis down")
        check(probe(hc[1:]) == 0, "HEALTHCHECK (liveness) still passes with Redis down")
        check(probe(["healthcheck"]) == 1, "tessera healthcheck (readiness) answers 1 with Redis down")

        app.send_signal(signal.SIGTERM)
        try:
            code = app.wait(timeout=15)
        except subprocess.TimeoutExpired:
            sys.exit("container-check: FAILED: no exit within 15 s of SIGTERM")
        check(code == 0, f"clean exit on SIGTERM (code {code})")
        lines = stdout_json(stdout)
        print(f"container-check: ok: all {len(lines)} stdout lines are JSON log objects")
        written = [os.path.join(d, f) for d, _, fs in os.walk(workdir) for f in fs]
        check(not os.path.exists(os.path.join(workdir, "logs")) and not written,
              f"no logs/ directory, no file under WORKDIR ({written})")
        print("container-check: passed")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
