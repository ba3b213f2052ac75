"""Follow Tessera's revocation feed and keep a deny-list for local verification.

Usage: TESSERA_URL=https://auth.example.com TESSERA_CLIENT_ID=... TESSERA_CLIENT_SECRET=... \
       python3 feed_subscriber.py        (standard library only)
"""
import base64, json, os, time, urllib.request

URL = os.environ["TESSERA_URL"] + "/token/revocations"
AUTH = base64.b64encode(f"{os.environ['TESSERA_CLIENT_ID']}:{os.environ['TESSERA_CLIENT_SECRET']}".encode()).decode()
MAX_STALENESS = float(os.environ.get("MAX_STALENESS_SECS", "15"))
denied = {"token": {}, "session": {}, "user": {}}  # jti / sid / sub -> event
last_id, last_heard = None, 0.0  # refuse every token while now - last_heard > MAX_STALENESS


def is_revoked(claims):
    """Call after the JWT checks; True when the feed says no (or is stale)."""
    user = denied["user"].get(claims["sub"])
    return (time.monotonic() - last_heard > MAX_STALENESS
            or claims["jti"] in denied["token"] or claims.get("sid") in denied["session"]
            or (user is not None and claims["iat"] * 1000 < user["before"]))


def follow():
    global last_id, last_heard
    req = urllib.request.Request(URL, headers={"Authorization": "Basic " + AUTH})
    if last_id:
        req.add_header("Last-Event-ID", last_id)
    with urllib.request.urlopen(req, timeout=MAX_STALENESS) as stream:
        event = {}
        for raw in stream:
            line = raw.decode().rstrip("\n")
            if line:
                field, _, value = line.partition(": ")
                event[field] = value
                continue
            name, data = event.get("event"), json.loads(event.get("data", "{}"))
            if name == "reset":
                denied.update(token={}, session={}, user={})
            elif name in denied:
                denied[name][data.get("jti") or data.get("sid") or data["sub"]] = data
                last_id = event["id"]
            last_heard, event = time.monotonic(), {}
            print(name, json.dumps(data), flush=True)


while True:
    try:
        follow()
    except OSError as e:  # a dead or ended feed: reconnect with the last id
        print("reconnecting:", e, flush=True)
        time.sleep(1)
