#!/usr/bin/env python3
"""Cross-node send-to-deliver latency: alice, connected to node A, sends to bob, connected to node B, one message at a
time (20 ms apart); prints p50/p90/p99/max in ms. Exits 1 when a message does not arrive within 10 seconds.

Usage: probe.py PORT_A PORT_B ADMIN_KEY N        (needs the `websockets` package; bench/crossnode/run.sh runs it)
"""
import asyncio
import json
import statistics
import sys
import time
import urllib.request

import websockets

port_a, port_b, key, count = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])


def http(port, method, path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request).read() or b"{}")


async def connect(port, token):
    socket = await websockets.connect(f"ws://127.0.0.1:{port}/v1/ws", additional_headers={"Authorization": f"Bearer {token}"})
    await socket.send(json.dumps({"type": "hello", "id": 1}))
    while json.loads(await socket.recv()).get("type") != "hello_ok":
        pass
    return socket


async def main():
    tag = str(time.time_ns())
    alice, bob = "xa" + tag, "xb" + tag
    for user in (alice, bob):
        http(port_a, "PUT", f"/v1/users/{user}", {"name": user})
    conversation = http(port_a, "POST", "/v1/conversations", {"type": "direct", "members": [alice, bob]})
    conversation_id = conversation.get("id") or conversation.get("conversation", {}).get("id")
    sender = await connect(port_a, http(port_a, "POST", "/v1/tokens", {"user_id": alice})["token"])
    receiver = await connect(port_b, http(port_b, "POST", "/v1/tokens", {"user_id": bob})["token"])
    latencies = []
    for index in range(count):
        client_id = f"x{tag}.{index}"
        started = time.perf_counter()
        await sender.send(json.dumps({"type": "send", "id": index + 10, "conversation_id": conversation_id, "kind": "text",
                                      "client_msg_id": client_id, "body": {"text": f"probe {index}"}}))

        async def arrival():
            while f'"{client_id}"' not in await receiver.recv():
                pass

        try:
            await asyncio.wait_for(arrival(), timeout=10)
        except asyncio.TimeoutError:
            print(f"message {index} did not reach the other node within 10 s", file=sys.stderr)
            sys.exit(1)
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.02)
    latencies.sort()
    print(f"n={count} p50={statistics.median(latencies):.2f} ms p90={latencies[int(count * 0.9)]:.2f} "
          f"p99={latencies[int(count * 0.99)]:.2f} max={latencies[-1]:.2f}")


asyncio.run(main())
