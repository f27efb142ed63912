#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/, from the captured frames and tokens of
# shared/vectors (beside this repository) plus a few hand-written edge cases. Idempotent: files are named by a
# hash of their content. Usage: fuzz/seed.sh [path/to/shared/vectors]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vectors="${1:-$here/../../shared/vectors}"
exec python3 - "$vectors" "$here/corpus" <<'PY'
import base64, hashlib, json, os, sys

vectors, out = sys.argv[1], sys.argv[2]
frames = json.load(open(os.path.join(vectors, "frames.json")))
tokens = json.load(open(os.path.join(vectors, "phoenix_token.json")))
seeds = {t: set() for t in ["v1", "v2", "binary", "longpoll_body", "pattern", "connect_params", "token", "origin"]}

def texts(section):
    for entry in frames[section]:
        if "sent" in entry:
            yield entry["sent"]
        for received in entry.get("received", []):
            if "text" in received:
                yield received["text"]

v1_texts = list(texts("v1")) + list(texts("v1_no_vsn"))
v2_texts = list(texts("v2")) + [t for t in texts("binary")]
binary = [bytes.fromhex(e["sent_hex"]) for e in frames["binary"] if "sent_hex" in e]
binary += [b"\x00\x02\x03\x05\x0512123topicevent\x65\x66\x67", b"\x00\x00\x00\x00\x00"]
binary += [b"\x00\x00\x00\x06\x03" + "tópic".encode() + "évt"[:1].encode() + b"x\xff"]

seeds["v1"] |= {t.encode() for t in v1_texts}
seeds["v2"] |= {t.encode() for t in v2_texts}
seeds["v2"] |= {b'[null,null,"a\\"b","e\\u00e9",[1],"extra",3]', b'["1","2","t","e",{"a":[1,2.5e3,null,true]}]'}
seeds["binary"] |= set(binary)

# longpoll_body: a flags byte (bit 0 ndjson, bit 1 vsn 2.0.0), then the body.
for t in v1_texts[:8]:
    seeds["longpoll_body"].add(b"\x00" + t.encode())
for t in v2_texts[:8]:
    seeds["longpoll_body"].add(b"\x02" + t.encode())
lines = [t.encode() for t in v2_texts[:4]] + [base64.b64encode(b) for b in binary[:3]]
seeds["longpoll_body"].add(b"\x03" + b"\n".join(lines))
seeds["longpoll_body"].add(b"\x03" + b"\r\n".join(lines) + b"\r\n")
seeds["longpoll_body"].add(b"\x01" + b"\n".join(t.encode() for t in v1_texts[:3]))

topics = sorted({json.loads(t)[2] for t in v2_texts if t.startswith("[")})
for pattern in ["rooms:*", "test:*", "presence:*", "*", "rooms:lobby", "a*b", ""]:
    for topic in topics[:6] + [""]:
        seeds["pattern"].add(f"{pattern}\0{topic}".encode())

token_strings = [t["token"] for t in tokens["tokens"]] + [t["token"] for t in tokens["negative"]]
seeds["connect_params"] |= {
    b"token=a%20b&user[name]=jo&user[tags][]=x&user[tags][]=y&vsn=2.0.0",
    b"a=1&b=%7B%22x%22%7D&c&d=x+y&e=%zz&f=%4&g[a][b]=1&g[c]=2&h[]=1&h[]=2&i=1&i[x]=2",
    b"d" + b"[x]" * 20 + b"=v",
    b"[a]=1&%E2%9C%93=%F0%9F%98%80&bad=%C3",
}
seeds["connect_params"] |= {f"token={t}&vsn=2.0.0".encode() for t in token_strings}

# token: a mode byte, then 0 a token string, 1 raw ETF payload bytes, 2 JSON data.
for t in tokens["tokens"] + tokens["negative"]:
    seeds["token"].add(b"\x00" + t["token"].encode())
    if "payload_etf_hex" in t:
        seeds["token"].add(b"\x01" + bytes.fromhex(t["payload_etf_hex"]))
    if "data" in t:
        seeds["token"].add(b"\x02" + json.dumps(t["data"]).encode())

for origin in ["https://example.com", "http://localhost:4000", "http://[::1]:4000", "null", "file://", "HTTPS://A.Example.ORG/x?y"]:
    for host in ["example.com", "localhost:4000", "[::1]:4000", "a.example.org"]:
        pats = ["https://example.com", "//*.example.org", "//localhost:4000"]
        seeds["origin"].add("\0".join([origin, host] + pats).encode())

total = 0
for target, items in seeds.items():
    directory = os.path.join(out, target)
    os.makedirs(directory, exist_ok=True)
    for item in items:
        with open(os.path.join(directory, hashlib.sha1(item).hexdigest()), "wb") as f:
            f.write(item)
    total += len(items)
    print(f"{target}: {len(items)} seeds")
print(f"{total} seeds in {out}")
PY
