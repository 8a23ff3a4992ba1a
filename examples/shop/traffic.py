#!/usr/bin/env python3
"""Shop traffic generator: realistic API exchanges for examples/shop/openapi.yaml.

Creates customers and orders, reads, updates (shipping), patches, deletes, plus failures
(422 invalid orders, 404 unknown orders, 500s) and calls to unannotated paths, and sends them
as canonical exchanges (contract section 1) to the ingest endpoint at a chosen rate.

  examples/shop/traffic.py --rate 50 --duration 30            # 50 exchanges/s for 30 s
  examples/shop/traffic.py --count 1000 --batch 100            # as fast as possible, NDJSON batches
  examples/shop/traffic.py --count 100000 --out shop.ndjson    # write NDJSON instead of sending
Only the Python standard library is used.
"""
import argparse
import datetime
import gzip
import json
import random
import sys
import time
import urllib.error
import urllib.request

API = "https://shop.example.com/api"
SKUS = [("A1", 12.5), ("B2", 3.99), ("C3", 149.0), ("D4", 0.5), ("E5", 620.0), ("F6", 24.0)]
TIERS = ["Gold", "Silver", "Bronze"]
CARRIERS = ["dhl", "ups", "fedex", "postnl"]


class LiveIds:
    """The ids of live orders in creation order, as a sequence for rng.choice: the k-th live id
    is found in a Fenwick tree of live flags (O(log n)), where list(dict) per pick made a long
    run quadratic (800,000 exchanges took ~15 minutes). The picks, and so the output, are the
    same as choosing from the dict's keys."""

    def __init__(self):
        self.ids = []
        self.position = {}
        self.tree = [0]  # 1-based Fenwick tree over self.ids' live flags
        self.live = 0

    def _add(self, i, delta):
        while i < len(self.tree):
            self.tree[i] += delta
            i += i & -i

    def append(self, oid):
        self.ids.append(oid)
        self.position[oid] = len(self.ids)
        i = len(self.ids)  # the new node covers (i - lowbit(i), i]: sum of the live flags there
        below = i - (i & -i)
        total, j = 1, i - 1
        while j > below:
            total += self.tree[j]
            j -= j & -j
        self.tree.append(total)
        self.live += 1

    def remove(self, oid):
        self._add(self.position.pop(oid), -1)
        self.live -= 1

    def __len__(self):
        return self.live

    def __getitem__(self, k):  # the k-th live id (0-based)
        if not 0 <= k < self.live:
            raise IndexError(k)
        i, step = 0, 1 << (len(self.tree).bit_length())
        while step:
            if i + step < len(self.tree) and self.tree[i + step] <= k:
                i += step
                k -= self.tree[i]
            step >>= 1
        return self.ids[i]


class Shop:
    """Keeps enough state for reads, updates and deletes to refer to real orders."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.orders = {}
        self.live = LiveIds()  # self.orders' keys, in its order
        self.customers = []
        self.next_order = 1000
        self.next_customer = 1
        self.clock = time.time()

    def now(self):
        self.clock = max(self.clock + self.rng.random() * 0.01, time.time())
        return datetime.datetime.fromtimestamp(self.clock, datetime.timezone.utc).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")

    def exchange(self, method, path, status, req_body=None, resp_body=None, query=None):
        headers = {"user-agent": "shop-web/2.3", "authorization": "Bearer secret-token-%d" % self.rng.randint(1, 9)}
        if req_body is not None:
            headers["content-type"] = "application/json"
        resp_headers = {"content-type": "application/json"} if resp_body is not None else {}
        if status >= 500:
            resp_headers["retry-after"] = "1"
        return {
            "time": self.now(),
            "latency_ms": round(self.rng.uniform(2, 80), 1),
            "request": {"method": method, "url": API + path, "path": "/api" + path,
                        "query": query or {}, "headers": headers, "body": req_body},
            "response": {"status": status, "headers": resp_headers, "body": resp_body},
            "client": {"ip": "10.0.%d.%d" % (self.rng.randint(0, 9), self.rng.randint(1, 254)),
                       "consumer": self.rng.choice(["shop-web", "shop-ios", "shop-android"])},
            "gateway": {"kind": "kong", "route": path.split("/")[1], "service": "shop-svc"},
        }

    def new_customer(self):
        cid = "c-%d" % self.next_customer
        self.next_customer += 1
        self.customers.append(cid)
        body = {"email": "%s@example.com" % cid, "tier": self.rng.choice(TIERS), "password": "hunter2"}
        resp = {"id": cid, "email": body["email"], "tier": body["tier"]}
        return self.exchange("POST", "/customers", 201, body, resp)

    def new_order(self):
        if not self.customers:
            return self.new_customer()
        items = [{"sku": s, "price": p, "qty": self.rng.randint(1, 4)}
                 for s, p in self.rng.sample(SKUS, self.rng.randint(1, 3))]
        body = {"customer": {"id": self.rng.choice(self.customers)}, "items": items, "currency": "EUR"}
        if self.rng.random() < 0.05:  # an invalid order: 422, no event
            return self.exchange("POST", "/orders", 422, body, {"error": "out of stock"})
        oid = "o-%d" % self.next_order
        self.next_order += 1
        order = dict(body, id=oid, status="placed")
        self.orders[oid] = order
        self.live.append(oid)
        return self.exchange("POST", "/orders", 201, body, order)

    def existing(self):
        return self.rng.choice(self.live) if self.orders else None

    def next(self):
        r = self.rng.random()
        oid = self.existing()
        if r < 0.05 or not self.customers:
            return self.new_customer()
        if r < 0.35 or oid is None:
            return self.new_order()
        order = self.orders[oid]
        if r < 0.60:
            return self.exchange("GET", "/orders/" + oid, 200, None, order)
        if r < 0.70:
            order = dict(order, status="shipped", shipping={"carrier": self.rng.choice(CARRIERS),
                                                         "tracking": "T%08d" % self.rng.randint(0, 10**8)})
            self.orders[oid] = order
            return self.exchange("PUT", "/orders/" + oid, 200, order, order)
        if r < 0.78:
            patch = {"status": "paid"}
            self.orders[oid] = dict(order, **patch)
            return self.exchange("PATCH", "/orders/" + oid, 204, patch, None)
        if r < 0.83:
            del self.orders[oid]
            self.live.remove(oid)
            return self.exchange("DELETE", "/orders/" + oid, 204, None, None)
        if r < 0.88:
            return self.exchange("GET", "/orders/o-404404", 404, None, {"error": "not found"})
        if r < 0.92:
            return self.exchange("POST", "/orders", 500, {"customer": {"id": "c-1"}, "items": []},
                                 {"error": "database unavailable"})
        if r < 0.97:
            return self.exchange("GET", "/orders", 200, None, [self.orders[self.live[i]] for i in range(min(3, len(self.live)))],
                                 query={"limit": "3"})
        return self.exchange("GET", "/health", 200, None, {"ok": True})  # not in the spec: unmatched


def post(url, lines, use_gzip):
    data = ("\n".join(lines) + "\n").encode()
    headers = {"content-type": "application/x-ndjson"}
    if use_gzip:
        data = gzip.compress(data)
        headers["content-encoding"] = "gzip"
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    while True:
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            if e.code == 429:  # back-pressure: wait as told
                time.sleep(float(e.headers.get("retry-after", "1")))
                continue
            sys.exit("ingest answered %d: %s" % (e.code, e.read().decode(errors="replace")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080/v1/exchanges", help="ingest endpoint")
    ap.add_argument("--rate", type=float, default=0, help="exchanges per second (0 = as fast as possible)")
    ap.add_argument("--duration", type=float, default=0, help="seconds to run (0 = until --count)")
    ap.add_argument("--count", type=int, default=0, help="exchanges to send (0 = until --duration)")
    ap.add_argument("--batch", type=int, default=1, help="exchanges per request (NDJSON)")
    ap.add_argument("--gzip", action="store_true", help="gzip request bodies")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", help="write NDJSON to this file ('-' = stdout) instead of sending")
    args = ap.parse_args()
    if not args.count and not args.duration:
        args.count = 100
    shop = Shop(args.seed)
    out = None
    if args.out:
        out = sys.stdout if args.out == "-" else open(args.out, "w")
    sent = accepted = rejected = 0
    start = time.time()
    pending = []
    while True:
        if args.count and sent >= args.count:
            break
        if args.duration and time.time() - start >= args.duration:
            break
        line = json.dumps(shop.next(), separators=(",", ":"))
        sent += 1
        if out:
            out.write(line + "\n")
            continue
        pending.append(line)
        if len(pending) >= args.batch:
            res = post(args.url, pending, args.gzip)
            accepted += res["accepted"]
            rejected += len(res["rejected"])
            pending = []
        if args.rate:
            delay = start + sent / args.rate - time.time()
            if delay > 0:
                time.sleep(delay)
    if pending:
        res = post(args.url, pending, args.gzip)
        accepted += res["accepted"]
        rejected += len(res["rejected"])
    if out:
        if out is not sys.stdout:
            out.close()
        print("wrote %d exchanges to %s" % (sent, args.out), file=sys.stderr)
    else:
        took = time.time() - start
        print("sent %d exchanges in %.1f s (%.0f/s): %d accepted, %d rejected"
              % (sent, took, sent / took if took else 0, accepted, rejected), file=sys.stderr)


if __name__ == "__main__":
    main()
