# A judge stand-in for the WildBench loopback test: a real HTTP server on loopback (http.server) that
# answers every /v1/chat/completions with one fixed verdict, fenced as ```json like chat models do.
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERDICT = '```json\n{\n  "strengths": "fixed",\n  "weaknesses": "fixed",\n  "score": "8"\n}\n```'
seen = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply({"object": "list", "data": [{"id": "fixed-judge", "object": "model"}]})

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        # The request as the official judge sends it; anything else is refused.
        ok = (req.get("temperature") == 0 and req.get("max_tokens") == 1024
              and req.get("response_format") == {"type": "json_object"}
              and len(req.get("messages", [])) == 1 and req["messages"][0]["role"] == "user"
              and "<|begin_of_checklist|>" in req["messages"][0]["content"])
        if not ok:
            self.send_response(400)
            self.end_headers()
            return
        self.reply({"choices": [{"index": 0, "message": {"role": "assistant", "content": VERDICT},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
