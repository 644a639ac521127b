#!/usr/bin/env python3
"""Writes corpus.jsonl: sluice's own (schema, body) cases, then the draft-4 JSON-Schema-Test-Suite's cases whose
schema makes no remote reference. Usage: corpus.py <JSON-Schema-Test-Suite checkout>. Schemas and bodies are kept
as JSON texts so that number spellings (1.0, 1e2, 10000000000000000000000) reach both validators as written."""
import json
import os
import sys

OWN = []  # (schema text, [body texts])


def case(schema, *bodies):
    OWN.append((schema, list(bodies)))


# type, one and many, every primitive
ALL = ['{}', '[]', '"s"', '1', '1.0', '1.5', '-0', '0.0', '1e2', '1E+2', '2.50', 'true', 'false', 'null',
       '12345678901234567890', '-12345678901234567890', '123456789012345678901234567890', '1e20', '1e400',
       '0.000001', '0.0000001', '123456789.123456789', '9223372036854775807', '9223372036854775808']
for t in ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']:
    case('{"type":"%s"}' % t, *ALL)
for ts in ['["string","null"]', '["integer","string"]', '["number","boolean"]', '["null","object","array"]',
           '["integer"]', '["string","number","integer"]']:
    case('{"type":%s}' % ts, *ALL)
# numbers: minimum/maximum/exclusive, number printing
for lim in ['5', '5.0', '5.5', '0', '-1', '1e1', '0.1', '100', '100.00', '12345678901234567890', '1E-7']:
    bodies = ['4', '5', '6', '5.0', '5.5', '5.50', '-2', '0', '0.1', '10', '1e1', '100', '1e2', '1E-8',
              '12345678901234567891', '0.10', '99.999']
    case('{"minimum":%s}' % lim, *bodies)
    case('{"maximum":%s}' % lim, *bodies)
    case('{"minimum":%s,"exclusiveMinimum":true}' % lim, *bodies)
    case('{"maximum":%s,"exclusiveMaximum":true}' % lim, *bodies)
for d in ['2', '0.5', '0.01', '3', '1.5', '1e-2', '10', '0.0001']:
    case('{"multipleOf":%s}' % d, '4', '5', '7.5', '0.02', '0.03', '1', '1.0', '30', '1e3', '0.3', '4.5000', '"x"',
         '12345678901234567890')
case('{"type":"integer","minimum":1,"maximum":10,"multipleOf":2}', '0', '11', '3', '12', '1.5', '"a"')
# strings
for n in ['0', '1', '3', '5']:
    case('{"minLength":%s}' % n, '""', '"a"', '"abc"', '"abcdef"', '"\\ud83d\\ude00"', '"\\u00e9t\\u00e9"', '5', '"a\\nb"')
    case('{"maxLength":%s}' % n, '""', '"a"', '"abc"', '"abcdef"', '"\\ud83d\\ude00\\ud83d\\ude00"', '"h\\u00e9llo"',
         '"tab\\there"', '"q\\"uote"', '"back\\\\slash"')
PATTERNS = ['^[a-z]+$', '[0-9]', '^\\\\d{3}-\\\\d{4}$', '^\\\\p{L}+$', '\\\\p{L}', '^\\\\w+$', '^.$', '^a|b$',
            '(?:ab)+', '^[^\\\\s]+$', '^\\\\S+@\\\\S+$', 'a{2,}', '^\\\\u00e9', '^[\\\\u0041-\\\\u005A]+$', '\\\\bword\\\\b',
            '^(\\\\d+)\\\\.\\\\1$', '^$', 'x*', '^\\\\x41', '^[\\\\w-]+$', '^\\\\D', '^\\\\cJ', '[\\\\]]', '^.{2}$']
PBODIES = ['"abc"', '"ABC"', '"123-4567"', '"a1"', '""', '"caf\\u00e9"', '"\\u00e9t\\u00e9"', '"x@y"', '"ab ab"',
           '"aa"', '"a word here"', '"12.12"', '"A"', '"\\ud83d\\ude00"', '"\\n"', '"line\\nline"', '"p{L}"', '"]"', 7]
for p in PATTERNS:
    case('{"pattern":"%s"}' % p, *[str(b) for b in PBODIES])
# enum
case('{"enum":["a","b",1,null,{"x":1,"y":2},[1,2]]}', '"a"', '"c"', '1', '1.0', '1.00', '2', 'null', '{"y":2,"x":1}',
     '{"x":1}', '[1,2]', '[2,1]', 'true', '{"b":1,"a":[1.50,2e3]}', '"\\u00e9"')
case('{"enum":[1.5,2.50,1e2,7]}', '1.5', '2.5', '100', '100.0', '1E+2', '3')
case('{"enum":[{"b":1,"a":2}]}', '{"a":2,"b":1}', '{"a":2,"b":1,"c":3}', '{"z":"\\u00fc","a":[true,null]}')
# required, properties, additionalProperties, patternProperties, min/maxProperties, dependencies
case('{"type":"object","required":["message","eventId"]}', '{}', '{"eventId":1}', '{"message":1}', '[]',
     '{"message":1,"eventId":2}')
case('{"required":["zeta","Alpha","beta","_u","\\u00e9"]}', '{}', '{"beta":1}', '{"zeta":1,"Alpha":1,"beta":1,"_u":1,"\\u00e9":1}')
OBJ = '{"type":"object","required":["a"],"properties":{"a":{"type":"integer"},"b":{"type":"object","properties":{"c":{"type":"integer"}}},"d":{"type":"string","minLength":2}}}'
case(OBJ, '{"a":1}', '{"a":"x"}', '{"a":"x","b":{"c":"x"}}', '{"a":1,"b":{"c":"x"}}', '{"b":{"c":"x"}}',
     '{"a":1,"d":"x","b":{"c":"y"}}', '{"a":1,"d":1,"b":2}', '{"d":"x","a":"y"}', '{"a":1,"b":{"c":1},"d":"xy"}',
     '{"a":1.0}', '{"a":12345678901234567890}', '{"a":1e2}')
for ap in ['false', '{"type":"string"}', 'true']:
    case('{"properties":{"a":{},"b":{}},"additionalProperties":%s}' % ap, '{"a":1}', '{"a":1,"c":2}',
         '{"z":1,"c":2,"b":3}', '{"c":"x"}', '{"C":1,"c":1,"_":1,"\\u00e9":1}', '[]', '{}')
    case('{"patternProperties":{"^x-":{"type":"integer"},"[0-9]":{"minimum":5}},"additionalProperties":%s}' % ap,
         '{"x-a":1}', '{"x-a":"s"}', '{"x-1":3}', '{"x-1":7}', '{"q":1}', '{"q":1,"x-b":"b","a1":0}', '{"Q":null}')
case('{"properties":{"a":{"type":"string"}},"patternProperties":{"^a":{"minLength":3}},"additionalProperties":{"type":"integer"}}',
     '{"a":"xy"}', '{"a":1}', '{"ab":"x"}', '{"b":"x"}', '{"b":1,"a":"xyz"}')
for n in ['0', '1', '2']:
    case('{"minProperties":%s}' % n, '{}', '{"a":1}', '{"a":1,"b":2,"c":3}', '[]')
    case('{"maxProperties":%s}' % n, '{}', '{"a":1}', '{"a":1,"b":2,"c":3}', '"x"')
case('{"dependencies":{"b":["c","a"],"a":["z"],"x":{"required":["y"]},"w":{"properties":{"y":{"type":"string"}}}}}',
     '{}', '{"b":1}', '{"b":1,"a":2}', '{"b":1,"a":2,"c":3,"z":4}', '{"x":1}', '{"x":1,"y":2,"w":1}', '{"w":1,"y":"s"}',
     '{"b":1,"x":1}')
# arrays
for it in ['{"type":"integer"}', '[{"type":"integer"},{"type":"string"}]']:
    for add in ['', ',"additionalItems":false', ',"additionalItems":{"type":"boolean"}']:
        case('{"items":%s%s}' % (it, add), '[]', '[1]', '[1,"a"]', '[1,"a",true]', '["a",1]', '[1,"a",true,null]',
             '[1.5]', '{}', '[1,2,3]')
for n in ['0', '1', '2']:
    case('{"minItems":%s}' % n, '[]', '[1]', '[1,2,3]', '{}')
    case('{"maxItems":%s}' % n, '[]', '[1]', '[1,2,3]', '"x"')
case('{"uniqueItems":true}', '[]', '[1,1]', '[1,1.0]', '[1,"1"]', '[{"a":1,"b":2},{"b":2,"a":1}]', '[{"a":1},{"a":1}]',
     '[[1,2],[1,2]]', '[[1],[2]]', '[1.0,1.00]', '[null,null]', '[true,1]', '[0,false]', '[{"a":1,"b":2},{"a":1,"b":2}]')
case('{"uniqueItems":false}', '[1,1]')
case('{"type":"array","items":{"type":"object","required":["id"],"properties":{"id":{"type":"string"}}}}',
     '[{"id":"a"},{"id":1},{}]', '[{},{"id":2}]', '[{"id":"a"},5]', '[{"id":"a","x":{"y":1}}]')
# combinators
SUBS = '[{"type":"string"},{"type":"integer","minimum":2},{"minLength":3}]'
for k in ['anyOf', 'allOf', 'oneOf']:
    case('{"%s":%s}' % (k, SUBS), '"ab"', '"abc"', '1', '3', '1.5', 'null', '{}', '[]')
case('{"not":{"type":"string"}}', '"x"', '1', 'null')
case('{"not":{"properties":{"a":{"type":"string"}}}}', '{"a":"x"}', '{"a":1}', '{}', '1')
case('{"type":"object","properties":{"a":{"anyOf":[{"type":"string"},{"type":"null"}]},"b":{"oneOf":[{"minimum":2},{"multipleOf":2}]}}}',
     '{"a":1}', '{"a":null,"b":4}', '{"a":"s","b":3}', '{"b":1}', '{"a":true,"b":1}')
# $ref / definitions
case('{"definitions":{"pos":{"type":"integer","minimum":1}},"properties":{"n":{"$ref":"#/definitions/pos"},"m":{"$ref":"#/definitions/pos"}}}',
     '{"n":1}', '{"n":0}', '{"n":"x","m":0}', '{"m":-1}')
case('{"type":"object","properties":{"child":{"$ref":"#"},"v":{"type":"integer"}}}', '{"child":{"child":{"v":"x"}}}',
     '{"child":{"v":1}}', '{"child":5}')
case('{"definitions":{"a":{"type":"string"}},"items":{"$ref":"#/definitions/a","minLength":5}}', '["x"]', '[1]')
# traversal order, stopping, many failures at once
case('{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"string"},"c":{"type":"object","required":["z"]}}}',
     '{"b":1,"a":2}', '{"c":{},"b":1}', '{"c":{},"a":"x"}', '{"a":"x","b":"y","c":{"z":1}}', '{"B":1,"a":1,"_":1}')
case('{"type":"object","minProperties":3,"required":["a"],"additionalProperties":false,"properties":{"b":{"type":"string"}}}',
     '{"b":1}', '{"c":1}', '{"a":1,"b":"x","c":1}', '{"a":1}')
case('{"type":"string","minLength":5,"pattern":"^[0-9]+$","maxLength":2,"enum":["abc"]}', '"xyz"', '"abc"', '"123"')
case('{"type":["string","integer"],"minLength":5,"minimum":10}', '"ab"', '3', '3.5', '12', 'true')
# a realistic request model
REQ = ('{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","required":["eventId","message"],'
       '"additionalProperties":false,"properties":{"eventId":{"type":"string","pattern":"^[A-Za-z0-9-]{8,64}$"},'
       '"message":{"type":"string","minLength":1,"maxLength":256},"priority":{"type":"integer","minimum":0,"maximum":9},'
       '"amount":{"type":"number","minimum":0,"exclusiveMinimum":true,"multipleOf":0.01},'
       '"tags":{"type":"array","maxItems":3,"uniqueItems":true,"items":{"type":"string","enum":["a","b","c"]}},'
       '"meta":{"type":["object","null"],"maxProperties":2}}}')
case(REQ, '{}', '{"message":"hi"}', '{"eventId":"abc","message":"hi"}', '{"eventId":"abcdefgh","message":""}',
     '{"eventId":"abcdefgh","message":"hi","priority":10}', '{"eventId":"abcdefgh","message":"hi","amount":0}',
     '{"eventId":"abcdefgh","message":"hi","amount":1.005}', '{"eventId":"abcdefgh","message":"hi","amount":20.10}',
     '{"eventId":"abcdefgh","message":"hi","tags":["a","a"]}', '{"eventId":"abcdefgh","message":"hi","tags":["a","d"]}',
     '{"eventId":"abcdefgh","message":"hi","tags":["a","b","c","a"]}', '{"eventId":"abcdefgh","message":"hi","meta":null}',
     '{"eventId":"abcdefgh","message":"hi","meta":{"a":1,"b":2,"c":3}}', '{"eventId":"abcdefgh","message":"hi","x":1}',
     '{"eventId":"abcdefgh","message":"hi","priority":2.0}', '{"eventId":"abcdefgh","message":"hi","priority":1e0}',
     '{"eventId":"abcdefgh","message":5,"priority":"x"}', '{"eventId":"abcdefgh","message":"\\u00fcber \\ud83d\\ude00"}')

# more: HashMap order of property dependencies, printing of odd strings, UTF-16 order, regex corners
DEPS = ",".join('"k%d":["d%d"]' % (i, i) for i in range(15))
case('{"dependencies":{%s}}' % DEPS, '{%s}' % ",".join('"k%d":1' % i for i in range(15)),
     '{"k3":1,"k11":1,"k7":1,"d7":1}')
case('{"dependencies":{"zeta":["a"],"Alpha":["b"],"beta":["c"],"\\u00e9":["d"],"aa":["e","a"]}}',
     '{"zeta":1,"Alpha":1,"beta":1,"\\u00e9":1,"aa":1}')
case('{"enum":["tab\\there","nl\\nx","q\\"uote","sl/ash","bs\\\\x","\\u0001\\u001f\\u007f","\\u00e9\\ud83d\\ude00"]}',
     '"x"', '{"k\\u0002":"\\u0003"}', '["\\t"]')
case('{"required":["\\ud83d\\ude00","\\uffff","\\ue000","a\\"b","c\\\\d"]}', '{}', '{"\\uffff":1}')
case('{"additionalProperties":false}', '{"\\ud83d\\ude00":1,"\\uffff":2,"\\ue000":3,"z":4,"\\u00e9":5}')
case('{"properties":{"\\ud83d\\ude00":{"type":"string"},"\\uffff":{"type":"string"},"\\ue000":{"type":"string"}}}',
     '{"\\ud83d\\ude00":1,"\\uffff":2,"\\ue000":3}')
for p in ['^(?=.*\\\\d)(?=.*[a-z]).{6,}$', '^\\\\s+$', '^[^]*$', '^\\\\u{1F600}$', '(?<name>x)', '\\\\k<n>', 'a{,3}',
          '^x{2}$', '{', '}', '^[\\\\d-z]+$', '\\\\1(a)', '^(a)\\\\1$', '[\\\\b]', '\\\\Bx', '^\\\\0$', '^\\\\08$', '^\\\\8$',
          '(?i)abc', '(?<=a)b', '(?<!a)b', '[(?<]', '[\\\\u{41}]', '^\\\\/$', '[a-', '*a', 'a**', '(?=a)*', '\\\\p{Lu}', '^.+$', '\\\\cj', '^[\\\\s\\\\S]$', '^\\\\W$']:
    case('{"pattern":"%s"}' % p, '"abc123"', '" \\u00a0\\ufeff\\u2028"', '"x"', '"aa"', '"\\ud83d\\ude00"', '"u{1F600}"',
         '"a{,3}"', '"{"', '"}"', '"xx"', '"\\u0000"', '"/"', '"\\n"', '"aaa"', '"ABC"', '"\\u00e9"', '"\\b"')
for lim, inst in [('0.1', ['0.10000000000000001', '0.1', '0.09999999999999999']), ('1e-400', ['0', '1e-401', '1e-399']),
                  ('-1.5E+3', ['-1500', '-1501', '-1.5e3', '-1499.99'])]:
    case('{"minimum":%s}' % lim, *inst)
    case('{"maximum":%s,"exclusiveMaximum":true}' % lim, *inst)
case('{"multipleOf":0.1}', '0.3', '0.30000000000000004', '1e1', '1e-1', '12345678901234567890.1')
case('{"multipleOf":1e-400}', '1', '1e-401')
case('{"uniqueItems":true}', '[{"a":1,"b":1},{"b":1,"a":1}]', '[{"a":"x","b":"y"},{"b":"y","a":"x"}]',
     '[{"a":[1,{"c":2,"d":3}]},{"a":[1,{"d":3,"c":2}]}]', '[1e400,1e401]', '[0.1,0.10000000000000001]',
     '[12345678901234567890,12345678901234567891]', '[-0,0]', '[-0.0,0]')
case('{"type":"array","items":{"anyOf":[{"type":"integer"},{"type":"string","minLength":2}]},"maxItems":2}',
     '[1,"a",3]', '["ab",true]', '[1.5]')
case('{"type":"object","properties":{"a":{"type":"object","properties":{"x":{"type":"integer"}}},"b":{"type":"integer"},"c":{"type":"object","properties":{"y":{"type":"integer"}}}}}',
     '{"a":{"x":"s"},"b":"s","c":{"y":"s"}}', '{"a":{"x":1},"b":"s","c":{"y":"s"}}', '{"a":{"x":"s"},"c":{"y":"s"}}')
case('{"items":{"type":"object","required":["id"]},"minItems":2}', '[{},{}]', '[{}]', '[{"id":1},{},{"x":2}]')
case('{"type":"integer"}', '1.0', '-0', '1E0', '0e0', '-12345678901234567890123', '1.5e1')


def main():
    out = []
    n = 0
    for schema, bodies in OWN:
        json.loads(schema)
        for b in bodies:
            json.loads(b)
            n += 1
            out.append({"id": "own-%d" % n, "schema": schema, "body": b})
    suite = os.path.join(sys.argv[1], "tests", "draft4")
    for name in sorted(os.listdir(suite)):
        if not name.endswith(".json") or name == "refRemote.json":
            continue
        with open(os.path.join(suite, name)) as f:
            groups = json.load(f)
        for gi, g in enumerate(groups):
            text = json.dumps(g["schema"], ensure_ascii=False, separators=(",", ":"))
            if '"http' in text.replace('"http://json-schema.org/draft-04/schema#"', ''):
                continue  # a remote reference
            for ti, t in enumerate(g["tests"]):
                out.append({"id": "suite-%s-%d-%d" % (name[:-5], gi, ti), "schema": text,
                            "body": json.dumps(t["data"], ensure_ascii=False, separators=(",", ":")),
                            "suite_valid": t["valid"]})
    for c in out:
        print(json.dumps(c, ensure_ascii=False))


main()
