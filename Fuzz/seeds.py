#!/usr/bin/env python3
"""Writes the committed seed corpora under Fuzz/corpus/ (deterministic; run from the repo root)."""
import base64, gzip, json, os, zlib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# SenML: the API.md example, every field, strings with escapes, unknown and nested values, errors.
api_example = ('[{"bn":"boiler/","bt":1764400000,"n":"temp","u":"Cel","v":71.5},\n'
               ' {"n":"pressure","u":"Pa","v":101325,"t":1},\n {"n":"door_open","vb":false}]\n')
senml = {
    "api-example.json": api_example,
    "all-fields.json": '[{"bn":"a/","bt":1.5e9,"bu":"W","bv":1,"bs":2,"bver":10,"n":"x","u":"V","t":-1,'
                       '"v":2.5,"s":3,"ut":1}]',
    "strings.json": r'[{"n":"s","vs":"tab\t \"q\" \\ \/ \u00e9 \ud83d\ude00 \b\f\n\r"},{"n":"d","vd":"AAEC"}]',
    "unknown.json": '[{"n":"x","v":1,"extra":{"a":[1,2,{"b":null}],"c":"d"},"e":[true,false,null,1e5]}]',
    "numbers.json": '[{"n":"x","v":-0.0},{"n":"y","v":1e-7},{"n":"z","v":12345678901234567890,"t":-1E+2}]',
    "relative.json": '[{"bn":"dev/","n":"a","v":1,"t":-5},{"n":"b","s":10},{"n":"c","vs":"on"}]',
    "empty-record.json": '[{}]',
    "must-understand.json": '[{"n":"x","v":1,"foo_":1}]',
}
for name, text in senml.items():
    write("senml", name, text)


# Tokens: Authorization header values around a structurally valid RS256 token.
def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(header, claims, signature=bytes(range(32))):
    return ".".join([b64(json.dumps(header, separators=(",", ":")).encode()),
                     b64(json.dumps(claims, separators=(",", ":")).encode()), b64(signature)])


claims = {"iss": "fleetgate", "sub": "dev-1", "aud": "fleetgate-ingest", "iat": 1764400000,
          "nbf": 1764400000, "exp": 1764403600, "jti": "j1", "fleet": "plant-a", "scope": "telemetry:write"}
tokens = {
    "device.txt": "Bearer " + token({"alg": "RS256", "kid": "k1", "typ": "JWT"}, claims),
    "operator.txt": "bearer " + token({"alg": "RS256", "kid": "k2"},
                                      {"sub": "admin", "aud": ["fleetgate-admin"], "exp": 1.7644e9, "role": "admin"}),
    "alg-none.txt": "Bearer " + token({"alg": "none", "kid": "k1"}, claims, b""),
    "crit.txt": "Bearer " + token({"alg": "RS256", "kid": "k1", "crit": ["exp"]}, claims),
    "no-kid.txt": "Bearer " + token({"alg": "RS256"}, claims),
    "two-parts.txt": "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0",
    "basic.txt": "Basic dXNlcjpwYXNz",
}
for name, text in tokens.items():
    write("token", name, text)


# Structured seeds: 0x01, header JSON, 0x00, claims JSON, 0x00, signature (fuzz-token encodes them).
def parts(header, claims, signature=b"sig"):
    return b"\x01" + json.dumps(header).encode() + b"\0" + json.dumps(claims).encode() + b"\0" + signature


write("token", "parts-device.bin", parts({"alg": "RS256", "kid": "k1", "typ": "JWT"}, claims))
write("token", "parts-minimal.bin", parts({"alg": "RS256", "kid": "k"}, {"sub": "d", "exp": 1}))
write("token", "parts-aud-array.bin", parts({"alg": "RS256", "kid": "k"},
                                            {"sub": "d", "exp": 1.5, "aud": ["a", "b"], "nbf": -1e11}))
write("token", "parts-jwk.bin", parts({"alg": "RS256", "kid": "k", "jwk": {"kty": "RSA"}, "x5u": "http://x"},
                                      {"sub": "d", "exp": 1, "iat": 1e12}))

# Inflate: zlib and gzip streams of a pack, empty input, a small bomb, truncated and trailing bytes.
pack = api_example.encode()
gz = gzip.compress(pack, mtime=0)
inflate = {
    "pack.zlib": zlib.compress(pack, 9),
    "pack.gz": gz,
    "empty.zlib": zlib.compress(b""),
    "bomb.zlib": zlib.compress(b"\0" * (2 << 20), 9),
    "truncated.gz": gz[:-6],
    "trailing.zlib": zlib.compress(pack) + b"xx",
    "stored.zlib": zlib.compress(pack, 0),
    "text.bin": pack,
}
for name, data in inflate.items():
    write("inflate", name, data)
