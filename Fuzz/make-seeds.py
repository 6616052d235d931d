#!/usr/bin/env python3
"""Writes the seed corpora in fixtures/fuzz/<target>/ from the project's own examples.

Seeds are small, valid inputs: the fuzzer mutates them, so each should reach deep into its parser.
Sources: recorded calls (fixtures/calls/*.jsonl), the example flow (config/flows/main.yaml), the
protocol docs' examples and the tests' literals (copied here as text), and tiny generated WAVs.
Run from the repository root: python3 Fuzz/make-seeds.py (it replaces fixtures/fuzz/, except the
`regression-*` files: the reproducers of fixed findings, which `scripts/fuzz smoke` replays).
"""
import base64, glob, hashlib, hmac, json, os, shutil, struct, sys, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "fuzz")
for path in glob.glob(os.path.join(OUT, "*", "*")):
    if not os.path.basename(path).startswith("regression-"):
        os.remove(path)


def write(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def recordings():
    for path in sorted(glob.glob(os.path.join(ROOT, "fixtures", "calls", "*.jsonl"))):
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        yield os.path.basename(path)[:-6], lines


def event_kind(message):
    try:
        value = json.loads(message)
    except ValueError:
        return "malformed"
    return value.get("event") or value.get("type") or "other"


# --- twilio: one frame per line, binary frames as NUL + bytes (no LF inside) ---------------------
seen_dialects = set()
for name, lines in recordings():
    dialect = lines[0].get("dialect", "twilio")
    malformed = any(event_kind(l["in"]) == "malformed" for l in lines if "in" in l)
    if dialect in seen_dialects and not malformed:
        continue
    seen_dialects.add(dialect)
    frames, kinds, media = [], set(), 0
    for line in lines[1:]:
        if "in" in line:
            kind = event_kind(line["in"])
            if kind == "media":
                media += 1
                if media > 2:
                    continue
            elif kind in kinds:
                continue
            kinds.add(kind)
            frames.append(line["in"].encode())
        elif "binary" in line:
            media += 1
            if media > 2:
                continue
            frames.append(b"\0" + base64.b64decode(line["binary"]).replace(b"\n", b"\x0b"))
    write("twilio", f"{dialect}-{name}", b"\n".join(frames))
# The bridge's own outbound messages, so the peer-side reader's shape is in the corpus too.
write("twilio", "twilio-outbound",
      '{"event":"media","streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0","media":{"payload":"/////w=="}}\n'
      '{"event":"mark","streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0","mark":{"name":"1.1"}}\n'
      '{"event":"clear","streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}')
# Escapes in ids and names: the encoder → peer round trip must carry them.
write("twilio", "twilio-escapes",
      '{"event":"connected","protocol":"Call","version":"1.0.0"}\n'
      '{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ\\"\\u00e9\\n","callSid":"CA\\u0001",'
      '"tracks":["inbound"],"customParameters":{"name":"a\\\\b\\/c\\ud83d\\ude00"},'
      '"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZ\\"\\u00e9\\n"}')

# --- base64 -----------------------------------------------------------------------------------------
payloads = []
for name, lines in recordings():
    for line in lines:
        if "in" in line and event_kind(line["in"]) == "media":
            payloads.append(json.loads(line["in"])["media"]["payload"])
            break
    if len(payloads) == 2:
        break
for index, payload in enumerate(payloads):
    write("base64", f"media-payload-{index}", payload)
for name, text in [("empty", ""), ("one-byte", "QQ=="), ("two-bytes", "QUI="), ("three-bytes", "QUJD"),
                   ("binary-test", "AAEC"), ("url-safe", "-_-_AQ"), ("basic-credentials", "YXN0ZXJpc2s6czNjcmV0")]:
    write("base64", name, text)

# --- form ---------------------------------------------------------------------------------------------
header = next(recordings())[1][0]
write("form", "twilio-voice-webhook", urllib.parse.urlencode(header["parameters"]))
write("form", "status-callback", "CallSid=CA123&CallStatus=completed&CallDuration=42&Timestamp=Thu%2C+04+Dec+2026+19%3A04%3A49+%2B0000")
write("form", "edge-cases", "a=1&a=2&&b&=c&d=%zz&e=%41%42+c&f=%E2%82%AC&g=%")

# --- twiml: TwiML, Plivo XML, TeXML (docs/carriers.md, docs/twilio-media-streams.md), Vonage NCCO --
write("twiml", "twilio-connect-stream", """<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Connect action="https://api.example.com/connect-action">
    <Stream url="wss://media.example.com/twilio/stream/9f1c" statusCallback="https://api.example.com/twilio/stream-status">
      <Parameter name="session" value="s-42"/>
      <Parameter name="token" value="opaque-one-time-token"/>
    </Stream>
  </Connect>
  <!-- nothing here => call ends when the server closes the socket -->
</Response>""")
write("twiml", "twilio-verbs", """<?xml version="1.0" encoding="UTF-8"?><Response>
<Say voice="alice" language="en-US">Hello &amp; welcome &#8212; &#x263A;<![CDATA[ <raw> ]]></Say>
<Play loop="2"> https://media.example.com/hold.wav </Play><Pause length="1"/>
<Dial callerId="+15005550006" timeout="20"><Number>+15551230002</Number></Dial>
<Dial>+15551230003</Dial><Redirect method="POST">https://api.example.com/next</Redirect><Hangup/></Response>""")
write("twiml", "telnyx-texml", """<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Connect>
    <Stream url="wss://media.example.com/telnyx/9f1c2a" track="inbound_track"
            bidirectionalMode="rtp" bidirectionalCodec="PCMU" bidirectionalSamplingRate="8000">
      <Parameter name="session" value="s-42"/>
    </Stream>
  </Connect>
  <Redirect method="POST">https://api.example.com/telnyx/after</Redirect>
</Response>""")
write("twiml", "plivo-xml", """<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Stream bidirectional="true" keepCallAlive="true"
          contentType="audio/x-mulaw;rate=8000"
          statusCallbackUrl="https://api.example.com/plivo/stream-status"
          extraHeaders="session=s42">wss://media.example.com/plivo/9f1c2a</Stream>
  <Redirect method="POST">https://api.example.com/plivo/after</Redirect>
</Response>""")
write("twiml", "vonage-ncco", """[{"action":"connect",
  "eventType":"synchronous",
  "eventUrl":["https://api.example.com/vonage/events"],
  "endpoint":[{"type":"websocket",
               "uri":"wss://media.example.com/vonage/9f1c2a",
               "content-type":"audio/l16;rate=16000",
               "headers":{"session":"s-42","caller":"447700900123"},
               "authorization":{"type":"vonage"}}]}]""")

# --- elevenlabs: server messages (docs/elevenlabs.md §1.5) --------------------------------------------
audio = base64.b64encode(bytes(range(0, 256, 3))).decode()
write("elevenlabs", "audio-with-alignment", json.dumps({
    "audio": audio, "isFinal": None,
    "normalizedAlignment": {"chars": [" ", "H", "i", " "], "charStartTimesMs": [0, 3, 58, 104], "charDurationsMs": [3, 55, 46, 35]},
    "alignment": {"chars": ["H", "i"], "charStartTimesMs": [0, 58], "charsDurationsMs": [58, 46]},
    "contextId": "turn-1"}))
write("elevenlabs", "final", '{"isFinal": true, "context_id": "turn-1"}')
write("elevenlabs", "final-snake", '{"is_final":true,"normalized_alignment":null,"audio":null}')
write("elevenlabs", "error", '{"message": "Maximum simultaneous contexts ...", "error": "max_active_conversations", "code": 1008}')

# --- relay: app -> bridge messages (docs/conversation-relay.md) --------------------------------------
for name, message in [
    ("text", '{"type":"text","token":"Your appointment","last":false}'),
    ("text-last", '{"type":"text","token":" is moved to Friday at 3 PM.","last":true,"lang":"en-US","interruptible":true,"preemptible":false}'),
    ("play", '{"type":"play","source":"https://media.example.com/hold-tone.mp3","loop":2,"interruptible":true}'),
    ("send-digits", '{"type":"sendDigits","digits":"w1234#"}'),
    ("language", '{"type":"language","ttsLanguage":"es-ES","transcriptionLanguage":"es-ES"}'),
    ("end", '{"type":"end","handoffData":"{\\"reason\\":\\"transfer\\",\\"queue\\":\\"billing\\"}"}'),
    ("escapes", '{"type":"text","token":"caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\/ \\b\\f\\n\\r\\t","last":true}'),
]:
    write("relay", name, message)

# --- flow: the example flow, every step type (FlowParserTests), webhook replies (WebhookStepTests) ---
with open(os.path.join(ROOT, "config", "flows", "main.yaml"), "rb") as f:
    write("flow", "main.yaml", f.read())
with open(os.path.join(ROOT, "config", "prompts.yaml"), "rb") as f:
    write("flow", "prompts-catalog.yaml", f.read())
write("flow", "every-step.yaml", """blocks:
  main:
    - say: "Hello {{From}}"
    - say: { text: Hi, voice: v1, interruptible: dtmf }
    - play: welcome
    - play: { file: beep.wav, interruptible: false }
    - tone: beep
    - tone: { dtmf: "12w3", duration: 80ms }
    - pause: 1.5s
    - set: { a: "1", b: two }
    - gather: { into: pin, max: 4, timeout: 3s, speech: true }
    - menu: { choices: { "1": other }, noinput: { say: nothing }, exhausted: hangup }
    - webhook: { url: "http://localhost/x", timeout: 2s, on_error: [ { say: oops } ] }
    - relay: { url: "ws://localhost:9000/app", welcomeGreeting: Hi, events: [speaker-events, tokens-played] }
    - goto: other
  other:
    - redirect: { dial: "+15550001" }
""")
write("flow", "webhook-reply.json", '{"variables": {"customer": "Ann"}, "steps": [{"say": "Your order {{order}} has shipped."}, {"set": {"order": "done"}}]}')
write("flow", "webhook-steps.json", '[{"say": "Your account {{account|digits}}"}, {"redirect": {"twiml": "<Say>Bye</Say>"}}, "hangup"]')

# --- recording: each recorded kind of line, cut short; the tests' hand-written calls -----------------
for name, lines in recordings():
    if name[:2] not in ("12", "14", "21", "26"):
        continue
    kept, seen = [lines[0]], set()
    for line in lines[1:]:
        key = tuple(sorted(k for k in line if k != "t")) + ((line.get("out") or line.get("tts") or line.get("flow") or ""),)
        if "in" in line:
            key += (event_kind(line["in"]),)
        if key in seen:
            continue
        seen.add(key)
        if "audio" in line:
            line = dict(line, audio=line["audio"][:44])
        if "payload" in line:
            line = dict(line, payload=line["payload"][:44])
        kept.append(line)
    write("recording", name + ".jsonl", "\n".join(json.dumps(l, separators=(",", ":"), ensure_ascii=False) for l in kept) + "\n")
write("recording", "hand-written-menu.jsonl", """{"recording":"voicebridge-call","version":1,"flow":"demo","carrier":"simulated"}
{"t":0,"start":{}}
{"t":2000,"dtmf":"1"}
{"t":2000,"speech":{"ms":700}}
{"t":2100,"noise":150}
{"t":2200,"out":"clear"}
{"t":4980,"out":"mark","name":"2.1"}
{"t":5000,"out":"close","code":1007,"reason":"bad"}
{"t":30000,"dtmf":"9","inband":true}
{"t":31000,"hangup":true}
""")

# --- wav: tiny files of every accepted shape --------------------------------------------------------
def wav(tag, channels, rate, bits, data, extensible=False, extra_chunks=b"", fact=False):
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * block, block, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
    elif tag != 1:
        fmt += struct.pack("<H", 0)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunks
    if fact:
        body += b"fact" + struct.pack("<II", 4, len(data) // block)
    body += b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body

tone = b"".join(struct.pack("<h", int(8000 * ((i % 20) - 10) / 10)) for i in range(80))
write("wav", "pcm16-8k-mono.wav", wav(1, 1, 8000, 16, tone))
write("wav", "pcm16-16k-stereo.wav", wav(1, 2, 16000, 16, tone))
write("wav", "pcm16-44k-list-chunk.wav", wav(1, 1, 44100, 16, tone[:63], extra_chunks=b"LIST" + struct.pack("<I", 5) + b"INFOx\0"))
write("wav", "ulaw-8k.wav", wav(7, 1, 8000, 8, bytes(range(0, 256, 4)), fact=True))
write("wav", "alaw-8k-extensible.wav", wav(6, 1, 8000, 8, bytes(range(0, 255, 5)), extensible=True, fact=True))

# --- auth: Basic header, a media stream token, a Vonage JWT, Telnyx headers ---------------------------
write("auth", "basic", "Basic " + base64.b64encode(b"asterisk:s3cret").decode())
now = 1_800_000_000
secret = b"fuzz-token-secret-0123456789"  # AuthFuzzer's
token_body = bytes([1]) + struct.pack(">q", now + 60) + bytes([16]) + bytes(range(16)) + b"CA0123456789abcdef0123456789abcdef"
mac = hmac.new(secret, b"voicebridge.media-stream-token.v1\0" + token_body, hashlib.sha256).digest()
write("auth", "stream-token", base64.urlsafe_b64encode(token_body + mac).rstrip(b"="))
def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
jwt_head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
jwt_claims = b64url(json.dumps({"iat": now, "jti": "j-1", "iss": "Vonage", "payload_hash": hashlib.sha256(b"").hexdigest()}).encode())
jwt_sig = b64url(hmac.new(b"fuzz-vonage-signature-secret", f"{jwt_head}.{jwt_claims}".encode(), hashlib.sha256).digest())
write("auth", "vonage-jwt", f"Bearer {jwt_head}.{jwt_claims}.{jwt_sig}")
write("auth", "telnyx-headers", f"{now}\n{base64.b64encode(bytes(64)).decode()}\n" + '{"data":{"event_type":"call.initiated"}}')

total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(OUT, "*", "*")))
print(f"{len(glob.glob(os.path.join(OUT, '*', '*')))} seeds, {total} bytes", file=sys.stderr)
