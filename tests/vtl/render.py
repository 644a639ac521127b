"""Render an API Gateway mapping template the way API Gateway would, with LocalStack's airspeed-ext
(a Velocity engine) and small shims for API Gateway's `$input`, `$util` and `$context`.

stdin: {"template": "...", "body": "...", "path": {"eventId": "..."}, "context": {"requestId": "...",
        "requestTimeEpoch": 1, "sourceIp": "..."}}
stdout: {"output": "...", "status": <the $context.responseOverride.status the template set, or null>}
"""

import base64
import json
import sys

import airspeed


def escape_javascript(s):
    """Java's StringEscapeUtils.escapeJavaScript (commons-lang 2), which $util.escapeJavaScript is."""
    out = []
    for ch in s:
        code = ord(ch)
        if code > 0xFFFF:
            # A supplementary character: Java works on UTF-16 units.
            hi, lo = divmod(code - 0x10000, 0x400)
            out.append("\\u%04X\\u%04X" % (0xD800 + hi, 0xDC00 + lo))
        elif code > 0x7F:
            out.append("\\u%04X" % code)
        elif code < 32:
            out.append({8: "\\b", 10: "\\n", 9: "\\t", 12: "\\f", 13: "\\r"}.get(code, "\\u%04X" % code))
        elif ch in "'\"\\/":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


class Util:
    def base64Encode(self, s):
        return base64.b64encode(str(s).encode("utf-8")).decode("ascii")

    def base64Decode(self, s):
        return base64.b64decode(s).decode("utf-8")

    def escapeJavaScript(self, s):
        return escape_javascript("" if s is None else str(s))


def json_path(doc, path):
    """The subset of JSONPath mapping templates use here: $, $.a, $.a.b."""
    if path == "$":
        return doc
    cur = doc
    for part in path[2:].split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


class Input:
    def __init__(self, body, path_params):
        self.body = body
        self._params = {"path": path_params, "querystring": {}, "header": {}}
        try:
            self._doc = json.loads(body)
        except ValueError:
            self._doc = None

    def params(self, name=None):
        if name is None:
            return self._params
        for kind in ("path", "querystring", "header"):
            if name in self._params[kind]:
                return self._params[kind][name]
        return ""

    def path(self, p):
        return json_path(self._doc, p)

    def json(self, p):
        return json.dumps(json_path(self._doc, p))


def render(req):
    ctx = req.get("context", {})
    context = {
        "requestId": ctx.get("requestId", "req-1"),
        "requestTimeEpoch": ctx.get("requestTimeEpoch", 0),
        "identity": {"sourceIp": ctx.get("sourceIp", "127.0.0.1")},
        "responseOverride": {"status": None, "header": {}},
    }
    namespace = {
        "input": Input(req.get("body", ""), req.get("path", {})),
        "util": Util(),
        "context": context,
    }
    output = airspeed.Template(req["template"]).merge(namespace)
    return {"output": output, "status": context["responseOverride"]["status"]}


if __name__ == "__main__":
    request = json.loads(sys.stdin.read())
    if isinstance(request, list):
        print(json.dumps([render(r) for r in request]))
    else:
        print(json.dumps(render(request)))
