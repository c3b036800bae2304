# Cross-node send-to-deliver latency: alice on node A sends, bob on node B receives. Usage: probe.py PORT_A PORT_B KEY N
import asyncio, json, sys, time, statistics, urllib.request
import websockets
pa, pb, key, n = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def http(port, method, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read() or b"{}")
tag = str(int(time.time()))
a, b = "xa" + tag, "xb" + tag
for u in (a, b): http(pa, "PUT", f"/v1/users/{u}", {"name": u})
ta = http(pa, "POST", "/v1/tokens", {"user_id": a})["token"]
tb = http(pb, "POST", "/v1/tokens", {"user_id": b})["token"]
conv = http(pa, "POST", "/v1/conversations", {"type": "direct", "members": [a, b]})
cid = conv.get("id") or conv.get("conversation", {}).get("id")
async def main():
    wa = await websockets.connect(f"ws://127.0.0.1:{pa}/v1/ws", additional_headers={"Authorization": f"Bearer {ta}"})
    wb = await websockets.connect(f"ws://127.0.0.1:{pb}/v1/ws", additional_headers={"Authorization": f"Bearer {tb}"})
    for w in (wa, wb):
        await w.send(json.dumps({"type": "hello", "id": 1}))
        while json.loads(await w.recv()).get("type") != "hello_ok": pass
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        await wa.send(json.dumps({"type": "send", "id": i + 10, "conversation_id": cid, "kind": "text", "client_msg_id": f"x{i}", "body": {"text": f"probe {i}"}}))
        while True:
            f = json.loads(await wb.recv())
            if f.get("type") == "message" and (f.get("message") or f).get("client_msg_id", "") == f"x{i}" or json.dumps(f).find(f'"x{i}"') >= 0:
                break
        lat.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.02)
    lat.sort()
    print(f"n={n} p50={statistics.median(lat):.2f} ms p90={lat[int(n*0.9)]:.2f} p99={lat[int(n*0.99)]:.2f} max={lat[-1]:.2f}")
asyncio.run(main())
