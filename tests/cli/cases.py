#!/usr/bin/env python3
"""Command-line cases: the real tweetmatch binary on real files.

    cases.py --list      the case names (CMake registers one ctest each)
    cases.py NAME        runs one case; exit 0 when it holds

Each case is a row of CASES: the arguments, optional stdin and environment,
and what must come out: the exit code, stdout exactly (or a file holding
it), and stderr exactly or lines (or regular expressions) that must appear in it;
max_seconds bounds the run's wall time. Paths are relative
to the repository root (ctest runs us there). $TWEETMATCH is the binary.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

D = "tests/data"
S = "tests/data/scripts"
SUMMARY0 = "tweets: 0, matched: 0, items: 0, deletes: 0, control: 0, errors: 0\n"
ONE = '{"id_str":"7","text":"hello"}\n'
BUDGET_RE = r"(\S+:\d+: )?instruction budget exceeded"
C_LOOPS = ["move", "move_far", "insert_len", "sort", "sort_len", "unpack", "concat", "byte", "utf8_len", "collect",
           "load", "rep"]

# Lines of big inputs are made here rather than stored.
def two_mib_line():
    return ONE + '{"id_str":"8","text":"' + "x" * (2 << 20) + '"}\n' + '{"id_str":"9","text":"after"}\n'


CASES = [
    # --- usage ---
    dict(name="help", args=["--help"], exit=0, stdout_has=["usage: tweetmatch [COMMAND]"]),
    dict(name="test_help", args=["test", "--help"], exit=0,
         stdout_has=["usage: tweetmatch test [--expect FILE] [--plain] SCRIPT [INPUT...]"]),
    dict(name="check_help", args=["check", "--help"], exit=0, stdout_has=["usage: tweetmatch check SCRIPT"]),
    dict(name="version", args=["version"], exit=0, stdout_has=["tweetmatch 0.1.0", "Lua 5.4", "libcurl ", "OpenSSL "]),
    dict(name="unknown_command", args=["frobnicate"], exit=2, stderr_has=["tweetmatch: unknown command 'frobnicate'"]),
    dict(name="test_no_script", args=["test"], exit=2, stderr_has=["tweetmatch test: no SCRIPT given"]),
    dict(name="test_unknown_option", args=["test", "--fast", f"{S}/examples_ok.lua"], exit=2,
         stderr_has=["tweetmatch test: unknown option '--fast'"]),
    dict(name="test_expect_needs_file", args=["test", f"{S}/examples_ok.lua", "--expect"], exit=2,
         stderr_has=["tweetmatch test: --expect needs a FILE"]),
    dict(name="check_no_script", args=["check"], exit=2, stderr_has=["tweetmatch check: no SCRIPT given"]),
    dict(name="check_two_scripts", args=["check", "a.lua", "b.lua"], exit=2,
         stderr_has=["tweetmatch check: one SCRIPT only ('b.lua' is extra)"]),

    # --- scripts that do not load: exit 2 with file and line ---
    dict(name="syntax_error", args=["test", f"{S}/syntax.lua", f"{D}/hostile.ndjson"], exit=2, stdout="",
         stderr=f"tweetmatch test: cannot load the script: {S}/syntax.lua:3: '}}' expected near 'end'\n"),
    dict(name="check_syntax_error", args=["check", f"{S}/syntax.lua"], exit=2, stdout="",
         stderr=f"tweetmatch check: cannot load the script: {S}/syntax.lua:3: '}}' expected near 'end'\n"),
    dict(name="load_error", args=["test", f"{S}/load_error.lua"], stdin="", exit=2,
         stderr=f"tweetmatch test: cannot load the script: {S}/load_error.lua:3: attempt to index a nil value (local 'cfg')\n"),
    dict(name="no_match_function", args=["test", f"{S}/no_match.lua"], stdin="", exit=2,
         stderr=f"tweetmatch test: cannot load the script: {S}/no_match.lua: no 'match' function: the script must "
                "return a table with match = function(tweet) ... end, or define a global function match\n"),
    dict(name="missing_script", args=["test", f"{S}/nope.lua"], stdin="", exit=2,
         stderr=f"tweetmatch test: cannot load the script: {S}/nope.lua: cannot open the script: No such file or directory\n"),

    # --- inputs ---
    dict(name="empty_input", args=["test", f"{S}/examples_ok.lua"], stdin="", exit=0, stdout="", stderr=SUMMARY0),
    dict(name="empty_input_file", args=["test", f"{S}/examples_ok.lua", "/dev/null"], exit=0, stdout="", stderr=SUMMARY0),
    dict(name="missing_input_file", args=["test", f"{S}/examples_ok.lua", f"{D}/v11_tweets.ndjson", f"{D}/nope.ndjson"],
         exit=2, stdout="",
         stderr=f"tweetmatch test: cannot open input {D}/nope.ndjson: No such file or directory\n"),
    dict(name="stdin_dash", args=["test", f"{S}/examples_ok.lua", "-"], stdin=ONE, exit=0,
         stdout='{"id":{"S":"7"}}\n', stderr="tweets: 1, matched: 1, items: 1, deletes: 0, control: 0, errors: 0\n"),
    dict(name="stdin_twice", args=["test", f"{S}/examples_ok.lua", "-", "-"], stdin=ONE, exit=2,
         stderr_has=["tweetmatch test: stdin ('-') given more than once"]),
    dict(name="no_final_newline", args=["test", f"{S}/examples_ok.lua"], stdin=ONE + '{"id_str":"8"}', exit=0,
         stdout='{"id":{"S":"7"}}\n{"id":{"S":"8"}}\n'),
    dict(name="crlf_and_keepalives", args=["test", f"{S}/examples_ok.lua"],
         stdin='\r\n{"id_str":"1","text":"a"}\r\n\r\n\r\n{"id_str":"2","text":"b"}\r\n', exit=0,
         stdout='{"id":{"S":"1"}}\n{"id":{"S":"2"}}\n',
         stderr="tweets: 2, matched: 2, items: 2, deletes: 0, control: 0, errors: 0\n"),
    dict(name="broken_json_line", args=["test", f"{S}/examples_ok.lua"],
         stdin=ONE + '{"id_str":"8","text":\n' + '{"id_str":"9","text":"ok"}\n', exit=1,
         stdout='{"id":{"S":"7"}}\n{"id":{"S":"9"}}\n',
         stderr="<stdin>:2: bad input: invalid JSON: Expected value but found T_END at character 22\n"
                "tweets: 2, matched: 2, items: 2, deletes: 0, control: 0, errors: 1\n"),
    dict(name="not_an_object", args=["test", f"{S}/examples_ok.lua"], stdin='[1,2]\n"text"\n42\nnull\n' + ONE, exit=1,
         stdout='{"id":{"S":"7"}}\n',
         stderr="<stdin>:1: bad input: not a JSON object (a JSON array)\n"
                "<stdin>:2: bad input: not a JSON object (a JSON string)\n"
                "<stdin>:3: bad input: not a JSON object (a JSON number)\n"
                "<stdin>:4: bad input: not a JSON object (a JSON null)\n"
                "tweets: 1, matched: 1, items: 1, deletes: 0, control: 0, errors: 4\n"),
    dict(name="lone_surrogate_escape", args=["test", f"{S}/examples_ok.lua"],
         stdin='{"id_str":"1","text":"\\udc00"}\n' + ONE, exit=1, stdout='{"id":{"S":"7"}}\n',
         stderr_has=["<stdin>:1: bad input: invalid JSON: Expected value but found invalid unicode escape code at character 23"]),
    dict(name="nan_literal_is_bad_input", args=["test", f"{S}/examples_ok.lua"], stdin='{"id_str":"1","n":NaN}\n', exit=1,
         stderr_has=["<stdin>:1: bad input: invalid JSON: Expected value but found invalid token at character 19"]),
    dict(name="line_of_2_mib", args=["test", f"{S}/examples_ok.lua"], stdin=two_mib_line(), exit=1,
         stdout='{"id":{"S":"7"}}\n{"id":{"S":"9"}}\n',
         stderr="<stdin>:2: bad input: line is 2097176 bytes, over the limit of 1048576 (MAX_LINE_BYTES)\n"
                "tweets: 2, matched: 2, items: 2, deletes: 0, control: 0, errors: 1\n"),
    dict(name="max_line_bytes_setting", args=["test", f"{S}/examples_ok.lua"], env={"MAX_LINE_BYTES": "2048"},
         stdin='{"id_str":"1","text":"' + "y" * 3000 + '"}\n' + ONE, exit=1, stdout='{"id":{"S":"7"}}\n',
         stderr_has=["<stdin>:1: bad input: line is 3024 bytes, over the limit of 2048 (MAX_LINE_BYTES)"]),
    dict(name="bad_setting_named", args=["test", f"{S}/examples_ok.lua"], env={"RULE_MEMORY_MB": "lots"}, stdin="",
         exit=2, stdout="",
         stderr="tweetmatch test: RULE_MEMORY_MB=lots: must be a whole number from 1 to 65536\n"),
    dict(name="control_messages", args=["test", f"{S}/examples.lua"],
         stdin='{"limit":{"track":12}}\n{"disconnect":{"code":7,"reason":"x"}}\n{"warning":{"code":"FALLING_BEHIND"}}\n'
               '{"delete":{"status":{"id":4,"id_str":"4"}}}\n{"errors":[{"title":"operational-disconnect"}]}\n{"something":1}\n',
         exit=0, stdout='{"DeleteRequest":{"Key":{"id":{"S":"4"}}}}\n',
         stderr="tweets: 0, matched: 0, items: 0, deletes: 1, control: 5, errors: 0\n"),
    dict(name="delete_without_on_delete", args=["test", f"{S}/examples_ok.lua"],
         stdin='{"delete":{"status":{"id":4,"id_str":"4"}}}\n', exit=0, stdout="",
         stderr="tweets: 0, matched: 0, items: 0, deletes: 1, control: 0, errors: 0\n"),
    dict(name="delete_plain", args=["test", "--plain", f"{S}/examples.lua"],
         stdin='{"delete":{"status":{"id":4,"id_str":"4"}}}\n', exit=0,
         stdout='{"DeleteRequest":{"Key":{"id":"4"}}}\n'),

    # --- rule errors: reported with the tweet id, the run goes on, exit 1 ---
    dict(name="hostile_rules_contained", args=["test", f"{S}/hostile.lua", f"{D}/hostile.ndjson"],
         env={"RULE_MEMORY_MB": "16"}, exit=1,
         stdout='{"id":{"S":"1000"},"kind":{"S":"ok_before"}}\n{"r":{"BOOL":true}}\n{"id":{"S":"1020"},"kind":{"S":"ok_after"}}\n',
         stderr_has=[
             f"{D}/hostile.ndjson:2: rule error (tweet 1001): {S}/hostile.lua:7: no field 'x' in tweet 1001",
             f"{D}/hostile.ndjson:3: rule error (tweet 1002): (error object is a table value)",
             f"{D}/hostile.ndjson:4: rule error (tweet 1003): {S}/hostile.lua:9: again",
             f"{D}/hostile.ndjson:5: rule error (tweet 1004): instruction budget exceeded (1000000 instructions; RULE_INSTRUCTION_BUDGET)",
             f"{D}/hostile.ndjson:6: rule error (tweet 1005): instruction budget exceeded (1000000 instructions; RULE_INSTRUCTION_BUDGET)",
             f"{D}/hostile.ndjson:8: rule error (tweet 1007): out of memory: the rule's state reached its cap of 16777216 bytes",
             f"{D}/hostile.ndjson:9: rule error (tweet 1008): out of memory: the rule's state reached its cap of 16777216 bytes",
             f"{D}/hostile.ndjson:10: rule error (tweet 1009): {S}/hostile.lua:18: resulting string too large",
             f"{D}/hostile.ndjson:11: rule error (tweet 1010): out of memory: the rule's state reached its cap of 16777216 bytes",
             f'{D}/hostile.ndjson:12: rule error (tweet 1011): item: attribute "f": a function cannot be stored (only strings, numbers, booleans, tables, tm.null, tm.list, tm.set and tm.binary)',
             f'{D}/hostile.ndjson:13: rule error (tweet 1012): item: attribute "m": the table mixes string keys and integer keys',
             f'{D}/hostile.ndjson:14: rule error (tweet 1013): item: attribute "s": the string is not valid UTF-8 (byte 4)',
             f'{D}/hostile.ndjson:15: rule error (tweet 1014): item: attribute "s": the item is larger than DynamoDB\'s 400 KB item limit (409600 bytes)',
             f'{D}/hostile.ndjson:16: rule error (tweet 1015): item: attribute "d[1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1]": nested deeper than DynamoDB\'s limit of 32 levels',
             f'{D}/hostile.ndjson:17: rule error (tweet 1016): item: attribute "x": NaN is not a number DynamoDB can store',
             f'{D}/hostile.ndjson:18: rule error (tweet 1017): item: attribute "tags": a set cannot be empty (DynamoDB has no empty sets)',
             f"{D}/hostile.ndjson:19: rule error (tweet 1018): match returned 10000 items, over the limit of 1000 per message",
             "tweets: 21, matched: 3, items: 3, deletes: 0, control: 0, errors: 18",
         ],
         # The coroutine and the main thread both count; which one's hook
         # passes the budget (and so whether the message has a position)
         # depends on a few units of allocation.
         stderr_has_re=[r"hostile\.ndjson:7: rule error \(tweet 1006\): (\S+:\d+: )?instruction budget exceeded "
                        r"\(1000000 instructions; RULE_INSTRUCTION_BUDGET\)"]),
    dict(name="budget_setting", args=["test", f"{S}/hostile.lua"], env={"RULE_INSTRUCTION_BUDGET": "5000"},
         stdin='{"id_str":"1","kind":"loop"}\n{"id_str":"2","kind":"fine"}\n', exit=1,
         stdout='{"id":{"S":"2"},"kind":{"S":"fine"}}\n',
         stderr_has=["<stdin>:1: rule error (tweet 1): instruction budget exceeded (5000 instructions; RULE_INSTRUCTION_BUDGET)"]),
    dict(name="memory_bomb_then_next_tweet_fine", args=["test", f"{S}/hostile.lua"], env={"RULE_MEMORY_MB": "8"},
         stdin='{"id_str":"1","kind":"memory_kept"}\n{"id_str":"2","kind":"fine"}\n{"id_str":"3","kind":"memory"}\n{"id_str":"4","kind":"fine"}\n',
         exit=1, stdout='{"id":{"S":"2"},"kind":{"S":"fine"}}\n{"id":{"S":"4"},"kind":{"S":"fine"}}\n',
         stderr_has=["<stdin>:1: rule error (tweet 1): out of memory: the rule's state reached its cap of 8388608 bytes",
                     "<stdin>:3: rule error (tweet 3): out of memory: the rule's state reached its cap of 8388608 bytes",
                     "tweets: 4, matched: 2, items: 2, deletes: 0, control: 0, errors: 2"]),
    dict(name="max_items_setting", args=["test", f"{S}/hostile.lua"], env={"RULE_MAX_ITEMS": "20000"},
         stdin='{"id_str":"1","kind":"many"}\n', exit=0, stdout_lines=10000,
         stderr="tweets: 1, matched: 1, items: 10000, deletes: 0, control: 0, errors: 0\n"),

    # --- what the count hook cannot see: C work, metered (core/rule_pattern.c, rule_cjson.c) ---
    dict(name="pathological_patterns_stopped", args=["test", f"{S}/hostile.lua"], max_seconds=4,
         stdin='{"id_str":"1","kind":"pattern_find"}\n{"id_str":"2","kind":"fine"}\n'
               '{"id_str":"3","kind":"pattern_method"}\n{"id_str":"4","kind":"fine"}\n'
               '{"id_str":"5","kind":"pattern_pcall"}\n{"id_str":"6","kind":"fine"}\n', exit=1,
         stdout='{"id":{"S":"2"},"kind":{"S":"fine"}}\n{"id":{"S":"4"},"kind":{"S":"fine"}}\n'
                '{"id":{"S":"6"},"kind":{"S":"fine"}}\n',
         stderr_has=[f"<stdin>:1: rule error (tweet 1): {S}/hostile.lua:34: instruction budget exceeded in pattern "
                     "matching (1000000 instructions; RULE_INSTRUCTION_BUDGET)",
                     f"<stdin>:3: rule error (tweet 3): {S}/hostile.lua:35: instruction budget exceeded in pattern "
                     "matching (1000000 instructions; RULE_INSTRUCTION_BUDGET)",
                     # pcall caught the first error; the next instruction failed again
                     "<stdin>:5: rule error (tweet 5): instruction budget exceeded in pattern matching (1000000 "
                     "instructions; RULE_INSTRUCTION_BUDGET)",
                     "tweets: 6, matched: 3, items: 3, deletes: 0, control: 0, errors: 3"]),
    dict(name="pathological_pattern_small_budget", args=["test", f"{S}/hostile.lua"], max_seconds=4,
         env={"RULE_INSTRUCTION_BUDGET": "5000"},
         stdin='{"id_str":"1","kind":"pattern_gsub"}\n{"id_str":"2","kind":"fine"}\n', exit=1,
         stdout='{"id":{"S":"2"},"kind":{"S":"fine"}}\n',
         stderr_has=[f"<stdin>:1: rule error (tweet 1): {S}/hostile.lua:40: instruction budget exceeded in pattern "
                     "matching (5000 instructions; RULE_INSTRUCTION_BUDGET)"]),
    dict(name="patterns_as_stock", args=["test", "--plain", f"{S}/patterns.lua"],
         stdin='{"id_str":"1","text":"RT @cloud_ops: Cloud computing (at #AWS) costs 42.5 in 2024, cloud!"}\n', exit=0,
         stdout='{"r":"5|nil|22|50|50|cloud_ops|AWS|56|2024|60|cloud_ops:|Cloud|computing|(at|#AWS)|costs|42.5|in|'
                '2024,|cloud!|RT @cloud_ops: Cloud computing (at #AWS) costs 42.5 in 2024, cloud!|<RT> @<cloud>_<ops>: '
                'Cloud computing (at #AWS) costs 42.5 in 2024, cloud!|RT @CLOUD_ops: Cloud computing (at #AWS) costs '
                '42.5 in 2024, CLOUD!|13|RT [@]cloud[_]ops[:] Cloud computing [(]at [#]AWS[)] costs 42[.]5 in 2024[,] '
                'cloud[!]|-x-x-x-|4|(at #AWS)|RT @Cloud_Ops: Cloud Computing (At #AWS) Costs 42.5 In 2024, Cloud!|10|'
                'unfinished capture|invalid capture index %2|malformed pattern (missing \']\')|pattern too complex"}\n'),
    dict(name="cjson_guard", args=["test", "--plain", f"{S}/cjson_guard.lua"], env={"RULE_MEMORY_MB": "16"},
         stdin="".join('{"id_str":"%d","kind":"%s"}\n' % (i + 1, k) for i, k in enumerate(
             ["small", "fits", "refused", "safe_refused", "new_refused", "sparse_refused", "sparse_default",
              "own_depth_limit", "settings", "keep_off_string", "decode_depth", "decode_small", "error_position",
              "safe_error", "fine"])), exit=1,
         stdout=(lambda sample: '{"new":%s,"num":"42","plain":%s,"safe":%s,"safe_new":%s,"str":"\\"x\\\\n\\\\u0000\\""}\n'
                 % (sample, sample, sample, sample))(json.dumps(
                     '[1,2.5,-0.125,"a\\"b\\/\\\\\\u0001\\u007f\u00e9",true,null,{"x":[1e+300,-3]},{},[1,null,3]]',
                     ensure_ascii=False))
                + '{"len":1500004}\n'
                '{"err":"cjson.encode: output could exceed the rule\'s memory cap (16 MB)","v":true}\n'
                '{"err":"cjson.encode: output could exceed the rule\'s memory cap (16 MB)","ok":false}\n'
                '{"err":"Cannot serialise table: excessively sparse array"}\n'
                '{"err":"Cannot serialise, excessive nesting (6)","ok":false}\n'
                '{"ddepth":999,"depth":1000,"keep":true,"keep_on":true,"p":3,"pi":"3.14"}\n'
                '{"v":"x"}\n'
                '{"err":"Cannot serialise function: type not supported"}\n'
                '{"id":"15"}\n',
         stderr_has=[f"<stdin>:3: rule error (tweet 3): {S}/cjson_guard.lua:13: cjson.encode: output could exceed the "
                     "rule's memory cap (16 MB)",
                     f"<stdin>:5: rule error (tweet 5): {S}/cjson_guard.lua:15: cjson.encode: output could exceed the "
                     "rule's memory cap (16 MB)",
                     f"<stdin>:10: rule error (tweet 10): {S}/cjson_guard.lua:36: cjson.encode_keep_buffer: a rule cannot "
                     "turn the encode buffer off (the rule's memory cap depends on it)",
                     f"<stdin>:11: rule error (tweet 11): {S}/cjson_guard.lua:37: cjson.decode_max_depth: at most 1000 in "
                     "a rule (deeper nesting could overflow the C stack)",
                     f"<stdin>:13: rule error (tweet 13): {S}/cjson_guard.lua:39: Cannot serialise function: type not "
                     "supported",
                     "tweets: 15, matched: 10, items: 10, deletes: 0, control: 0, errors: 5"]),
    dict(name="c_loops_stopped", args=["test", f"{S}/c_loops.lua"], max_seconds=8,
         stdin="".join('{"id_str":"%d","kind":"%s"}\n{"id_str":"%d","kind":"fine"}\n' % (2 * i + 1, k, 2 * i + 2)
                       for i, k in enumerate(C_LOOPS)), exit=1,
         stdout="".join('{"id":{"S":"%d"}}\n' % (2 * i + 2) for i in range(len(C_LOOPS))),
         stderr_has_re=[r"<stdin>:%d: rule error \(tweet %d\): %s( in [a-z0-9_.]+)? \(1000000 instructions; "
                        r"RULE_INSTRUCTION_BUDGET\)" % (2 * i + 1, 2 * i + 1, BUDGET_RE) for i in range(len(C_LOOPS))]
                       + [r"tweets: %d, matched: %d, items: %d, deletes: 0, control: 0, errors: %d\n$" % (
                           2 * len(C_LOOPS), len(C_LOOPS), len(C_LOOPS), len(C_LOOPS))]),
    dict(name="string_compare_time_limit", args=["test", f"{S}/c_loops.lua"], max_seconds=15,
         stdin='{"id_str":"1","kind":"equal"}\n{"id_str":"2","kind":"fine"}\n', exit=1, stdout='{"id":{"S":"2"}}\n',
         stderr_has=["<stdin>:1: rule error (tweet 1): instruction budget exceeded: the call ran for over 10000 ms "
                     "(1000000 instructions; RULE_INSTRUCTION_BUDGET)"]),
    dict(name="library_errors_as_stock", args=["test", "--plain", f"{S}/library_errors.lua"], stdin=ONE, exit=0,
         stdout=json.dumps({"r": "\n".join(f"{S}/library_errors.lua:{n}: {m}" for n, m in (
             (5, "bad argument #1 to 'insert' (table expected, got nil)"),
             (6, "wrong number of arguments to 'insert'"),
             (7, "bad argument #2 to 'insert' (position out of bounds)"),
             (8, "bad argument #2 to 'tinsert' (position out of bounds)"),
             (9, "cmp"),
             (10, "invalid value (table) at index 1 in table for 'concat'"),
             (11, "bad argument #2 to 'byte' (number expected, got table)"),
             (12, "bad argument #1 to 'len' (string expected, got nil)"),
             (13, "too many results to unpack"),
             (14, "bad argument #1 to 'collectgarbage' (invalid option 'nope')"),
             (15, "bad argument #5 to 'move' (table expected, got number)"))) + "\n0,1,2,3,4;4;4;65\u00e9H5"},
             ensure_ascii=False, separators=(",", ":")) + "\n"),
    dict(name="hostile_sandbox_contained", args=["test", f"{S}/hostile.lua", f"{D}/hostile_sandbox.ndjson"],
         env={"RULE_MEMORY_MB": "16"}, exit=1, max_seconds=10,
         stdout="".join(('{"id":{"S":"2032"}}\n' if k == "index_trap_item" else "") +  # read raw: no trap ran
                        '{"id":{"S":"%d"},"kind":{"S":"ok_after_%s"}}\n' % (2001 + 2 * i, k) for i, k in enumerate(
             ["bytecode_assert", "rep_loop", "coroutine_forever", "pattern_find", "pattern_method", "pattern_pcall",
              "pattern_gsub", "cjson_big", "cjson_shared", "cjson_depth", "cjson_keep_buffer", "cjson_decode_big",
              "gc_loop", "gc_error", "gc_alloc", "index_trap", "index_trap_item", "error_nil", "error_function",
              "error_light_userdata", "error_userdata", "error_tostring_loop", "error_huge", "cycle", "cycle_list"])),
         stderr_has=[
             f"{D}/hostile_sandbox.ndjson:1: rule error (tweet 2000): {S}/hostile.lua:31: attempt to load a binary chunk (mode is 't')",
             f"{D}/hostile_sandbox.ndjson:7: rule error (tweet 2006): {S}/hostile.lua:34: instruction budget exceeded in pattern matching (1000000 instructions; RULE_INSTRUCTION_BUDGET)",
             f"{D}/hostile_sandbox.ndjson:9: rule error (tweet 2008): {S}/hostile.lua:35: instruction budget exceeded in pattern matching (1000000 instructions; RULE_INSTRUCTION_BUDGET)",
             f"{D}/hostile_sandbox.ndjson:11: rule error (tweet 2010): instruction budget exceeded in pattern matching (1000000 instructions; RULE_INSTRUCTION_BUDGET)",
             f"{D}/hostile_sandbox.ndjson:13: rule error (tweet 2012): {S}/hostile.lua:40: instruction budget exceeded in pattern matching (1000000 instructions; RULE_INSTRUCTION_BUDGET)",
             f"{D}/hostile_sandbox.ndjson:15: rule error (tweet 2014): {S}/hostile.lua:43: cjson.encode: output could exceed the rule's memory cap (16 MB)",
             f"{D}/hostile_sandbox.ndjson:17: rule error (tweet 2016): {S}/hostile.lua:48: cjson.encode: output could exceed the rule's memory cap (16 MB)",
             f"{D}/hostile_sandbox.ndjson:19: rule error (tweet 2018): {S}/hostile.lua:50: cjson.encode_max_depth: at most 1000 in a rule (deeper nesting could overflow the C stack)",
             f"{D}/hostile_sandbox.ndjson:21: rule error (tweet 2020): {S}/hostile.lua:51: cjson.encode_keep_buffer: a rule cannot turn the encode buffer off (the rule's memory cap depends on it)",
             f"{D}/hostile_sandbox.ndjson:23: rule error (tweet 2022): {S}/hostile.lua:52: cjson.decode: decoding 1572868 bytes could exceed the rule's memory cap (16 MB)",
             f"{D}/hostile_sandbox.ndjson:25: rule error (tweet 2024): {S}/hostile.lua:53: setmetatable: a rule may not set a __gc metamethod (finalizers run where the instruction budget cannot stop them)",
             f"{D}/hostile_sandbox.ndjson:27: rule error (tweet 2026): {S}/hostile.lua:54: setmetatable: a rule may not set a __gc metamethod",
             f"{D}/hostile_sandbox.ndjson:29: rule error (tweet 2028): {S}/hostile.lua:56: setmetatable: a rule may not set a __gc metamethod",
             f'{D}/hostile_sandbox.ndjson:31: rule error (tweet 2030): item: attribute "m": the table mixes string keys and integer keys',
             f"{D}/hostile_sandbox.ndjson:35: rule error (tweet 2034): (error object is a nil value)",
             f"{D}/hostile_sandbox.ndjson:37: rule error (tweet 2036): (error object is a function value)",
             f"{D}/hostile_sandbox.ndjson:39: rule error (tweet 2038): (error object is a userdata value)",
             f"{D}/hostile_sandbox.ndjson:41: rule error (tweet 2040): (error object is a userdata value)",
             f'{D}/hostile_sandbox.ndjson:47: rule error (tweet 2046): item: attribute "t{".self" * 32}": nested deeper than DynamoDB\'s limit of 32 levels',
             f'{D}/hostile_sandbox.ndjson:49: rule error (tweet 2048): item: attribute "t{"[1]" * 32}": nested deeper than DynamoDB\'s limit of 32 levels',
             "tweets: 50, matched: 26, items: 26, deletes: 0, control: 0, errors: 24",
         ],
         stderr_has_re=[
             r"hostile_sandbox\.ndjson:3: rule error \(tweet 2002\): %s \(1000000 instructions; RULE_INSTRUCTION_BUDGET\)" % BUDGET_RE,
             r"hostile_sandbox\.ndjson:5: rule error \(tweet 2004\): %s \(1000000 instructions; RULE_INSTRUCTION_BUDGET\)" % BUDGET_RE,
             r"hostile_sandbox\.ndjson:43: rule error \(tweet 2042\): %s \(1000000 instructions; RULE_INSTRUCTION_BUDGET\)" % BUDGET_RE,
             r"hostile_sandbox\.ndjson:45: rule error \(tweet 2044\): \S+/hostile\.lua:72: x{4000}x*\.\.\. \(\d+ bytes in all\)\n",
         ],
         stderr_lacks=["collected", "len trap", "pairs trap", "index trap"]),

    # --- the sandbox ---
    dict(name="sandbox", args=["test", "--plain", f"{S}/sandbox.lua"],
         env={"TM_TEST_VISIBLE": "yes", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value", "CONSUMERSECRETKEY": "c0nsumer",
              "BEARERTOKEN": "b3arer", "ACCESSTOKENSECRET": "t0ken"},
         stdin='{"id_str":"5","text":"x","dir":"tests/data/scripts"}\n', exit=0,
         stdout='{"append_open":"io.open: mode \'a+\' is not allowed: rule scripts may only read files",'
                '"bytecode":"tests/data/scripts/sandbox.lua:17: attempt to load a binary chunk (mode is \'t\')",'
                '"bytecode_default_mode":"attempt to load a binary chunk (mode is \'t\')","c_module":true,"cjson":"[1]",'
                '"cpath":"","debug":true,"dofile":true,"globals_libs":true,"io_popen":true,"io_read":true,"io_write":true,'
                '"lines":true,"loadfile":true,"loadlib":true,"not_secret":"yes","os_execute":true,"os_exit":true,'
                '"os_kept":true,"os_remove":true,"read_open":"-- Reports what the sandbox lets a rule see.","secret":true,'
                '"stdin_lines":"bad argument #1 to \'io.lines\' (string expected, got no value)","string_dump":true,'
                '"text_load":2,"write_open":"io.open: mode \'w\' is not allowed: rule scripts may only read files"}\n',
         no_secrets=["s3cr3t-value", "c0nsumer", "b3arer", "t0ken"]),
    dict(name="os_execute_absent", args=["test", "--plain", f"{S}/os_execute.lua"], stdin=ONE, exit=1,
         stderr_has=["<stdin>:1: rule error (tweet 7): tests/data/scripts/os_execute.lua:2: attempt to call a nil value (field 'execute')"]),
    dict(name="require_beside_script", args=["test", f"{S}/uses_module.lua"], stdin=ONE, exit=0,
         stdout='{"id":{"S":"7"},"shout":{"S":"HELLO!"}}\n'),
    dict(name="global_match_style", args=["test", f"{S}/global_match.lua"], stdin=ONE, exit=0, stdout='{"id":{"S":"7"}}\n'),
    dict(name="print_goes_to_stderr", args=["test", f"{S}/printer.lua"], stdin=ONE, exit=0, stdout='{"id":{"S":"7"}}\n',
         stderr="seen\t7\tnil\ntweets: 1, matched: 1, items: 1, deletes: 0, control: 0, errors: 0\n"),

    # --- run: every configuration problem is named, not just the first ---
    dict(name="run_names_every_missing_variable", args=["run"],
         env={k: "" for k in ("DYNAMODBTABLE", "AWSREGION", "AWS_REGION", "AWS_DEFAULT_REGION", "STREAM_URL",
                              "CONSUMERKEY", "CONSUMERSECRETKEY", "ACCESSTOKEN", "ACCESSTOKENSECRET", "BEARERTOKEN",
                              "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB")},
         exit=2,
         stderr="tweetmatch run: DYNAMODBTABLE is not set: it must name the DynamoDB table to write to; no AWS region: "
                "set AWSREGION (or AWS_REGION, or AWS_DEFAULT_REGION)\n"
                "tweetmatch run: no stream configured: set CONSUMERKEY, CONSUMERSECRETKEY, ACCESSTOKEN and "
                "ACCESSTOKENSECRET (v1.1), or BEARERTOKEN (v2), or STREAM_URL (any NDJSON stream)\n"),
    dict(name="run_help", args=["run", "--help"], exit=0, stdout_has=["usage: tweetmatch [run]"]),
    dict(name="health_without_heartbeat", args=["health"], env={"HEALTH_FILE": "/nonexistent/tm.health"}, exit=1,
         stdout="", stderr="unhealthy: cannot read /nonexistent/tm.health: No such file or directory\n"),

    # --- check ---
    dict(name="check_examples_pass", args=["check", f"{S}/examples_ok.lua"], exit=0, stdout="",
         stderr=f"{S}/examples_ok.lua: examples: 1, passed: 1, failed: 0\n"),
    dict(name="check_examples_fail", args=["check", f"{S}/examples.lua"], exit=1,
         stdout_has=["example 6 (wrong on purpose) failed:\n"
                     '  expected: {"id":{"S":"6"},"n":{"N":"4"}}\n'
                     '  actual:   {"id":{"S":"6"},"n":{"N":"3"}}\n',
                     f"example 7 (unexpected error) failed: rule error: {S}/examples.lua:6: boom\n"],
         stdout_lacks=["example 1 ", "example 2 ", "example 3 ", "example 4 ", "example 5 "],
         stderr=f"{S}/examples.lua: examples: 7, passed: 5, failed: 2\n"),
    dict(name="check_no_examples", args=["check", f"{S}/printer.lua"], exit=0,
         stderr=f"{S}/printer.lua: loads; it declares no examples\n"),

    # --- the native matcher agrees with the Lua one (tm.track_match) ---
    dict(name="track_norm_sweep", args=["test", f"{S}/track_norm_sweep.lua"], stdin="",
         env={"RULE_INSTRUCTION_BUDGET": "2000000000"}, exit=0, stdout="",
         stderr_re=r"^track_norm_sweep: \d+ sequences and \d+ texts normalise alike\n" + re.escape(SUMMARY0) + "$"),
    dict(name="track_differential", args=["test", f"{S}/track_diff.lua", f"{D}/v11_tweets.ndjson", f"{D}/v2_stream.ndjson",
                                          f"{D}/track_fuzz.ndjson", f"{D}/control.ndjson", f"{D}/hostile.ndjson",
                                          f"{D}/invalid_utf8.ndjson"],
         env={"RULE_INSTRUCTION_BUDGET": "10000000000", "FILTER": "cloud computing,#aws,@awscloud,example.com/blog"},
         exit=0, stdout="", stderr_re=r"^tweets: \d+, matched: 0, items: 0, deletes: \d+, control: \d+, errors: 0\n$"),
    dict(name="track_differential_bad_lines", args=["test", f"{S}/track_diff.lua", f"{D}/mixed.ndjson", f"{D}/broken.ndjson"],
         env={"RULE_INSTRUCTION_BUDGET": "10000000000"}, exit=1, stdout="", stderr_lacks=["rule error"]),
    dict(name="track_differential_bench_corpus", args=["test", f"{S}/track_diff.lua", "{tmp}/corpus.ndjson"],
         files={"corpus.ndjson": lambda: subprocess.run([sys.executable, "tests/bench/gen_corpus.py", "1500", "-"],
                                                        capture_output=True, text=True, check=True).stdout},
         env={"RULE_INSTRUCTION_BUDGET": "10000000000"}, exit=0, stdout="",
         stderr="tweets: 1500, matched: 0, items: 0, deletes: 0, control: 0, errors: 0\n"),
]


# --- the bundled rule scripts on the bundled data: exact output ---
def _expect_rows():
    rows = []
    with open(os.path.join(os.path.dirname(__file__), "..", "data", "expect", "cases.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            exp, script, filt, inp = line.rstrip("\n").split("\t")
            rows.append((exp, script, None if filt == "-" else filt, inp))
    return rows


for exp, script, filt, inp in _expect_rows():
    bad_lines = "mixed" in inp  # mixed.ndjson holds broken lines on purpose
    CASES.append(dict(name="expect." + os.path.basename(exp)[:-len(".ndjson")],
                      args=["test", "--expect", exp, script, inp], env={"FILTER": filt} if filt else {},
                      exit=1 if bad_lines else 0, stdout_file=exp, stderr_lacks=["differs"]))

for script in ("filter", "hashtags", "lang_followers", "scoring", "deletes"):
    for filt in (None, "cloud computing", "serverless, #aws,@awscloud"):
        tag = "nofilter" if filt is None else filt.split(",")[0].replace(" ", "_")
        CASES.append(dict(name=f"check.{script}.{tag}", args=["check", f"scripts/{script}.lua"],
                          env={"FILTER": filt} if filt else {}, exit=0, stdout="",
                          stderr_re=rf"^scripts/{script}\.lua: examples: (\d+), passed: \1, failed: 0\n$"))


def _changed_expect():
    lines = open("tests/data/expect/filter.v11_tweets.cloud_computing.ndjson", encoding="utf-8").read().split("\n")
    lines[2] = lines[2].replace('"ops_ollie"', '"someone_else"')
    return "\n".join(lines)


CASES.append(dict(
    name="expect_shows_changed_line",
    files={"changed.ndjson": _changed_expect},
    args=["test", "--expect", "{tmp}/changed.ndjson", "scripts/filter.lua", "tests/data/v11_tweets.ndjson"],
    env={"FILTER": "cloud computing"}, exit=1,
    stdout_file="tests/data/expect/filter.v11_tweets.cloud_computing.ndjson",
    stderr_re=r'^\S+/changed\.ndjson:3: differs from the output\n'
              r'  expected: \{.*"user":\{"S":"someone_else"\}\}\n'
              r'  actual:   \{.*"user":\{"S":"ops_ollie"\}\}\n'
              r'tweets: 25, matched: 15, items: 15, deletes: 0, control: 0, errors: 0\n$'))

CASES.append(dict(
    name="expect_shows_missing_and_extra_lines",
    files={"short.ndjson": '{"id":{"S":"1"}}\n', "long.ndjson": '{"id":{"S":"7"}}\n{"id":{"S":"8"}}\n'},
    args=["test", "--expect", "{tmp}/long.ndjson", f"{S}/examples_ok.lua"], stdin=ONE, exit=1,
    stdout='{"id":{"S":"7"}}\n',
    stderr_re=r'^\S+/long\.ndjson:2: differs from the output\n  expected: \{"id":\{"S":"8"\}\}\n  actual:   \(no line\)\n'))

CASES.append(dict(
    name="expect_missing_file", args=["test", "--expect", "tests/data/expect/nope.ndjson", f"{S}/examples_ok.lua"],
    stdin=ONE, exit=2, stdout="",
    stderr="tweetmatch test: --expect tests/data/expect/nope.ndjson: cannot open: No such file or directory\n"))


def _av_to_plain(v):
    (t, x), = v.items()
    if t in ("S", "B"):
        return x
    if t == "N":
        return float(x) if any(ch in x for ch in ".eE") else int(x)
    if t == "BOOL":
        return x
    if t == "NULL":
        return None
    if t == "L":
        return [_av_to_plain(e) for e in x]
    if t == "M":
        return {k: _av_to_plain(e) for k, e in x.items()}
    if t == "SS" or t == "BS":
        return list(x)
    if t == "NS":
        return [float(e) if any(ch in e for ch in ".eE") else int(e) for e in x]
    raise ValueError(t)


for script, inp in (("scoring", "v11_tweets"), ("lang_followers", "v2_stream"), ("hashtags", "v11_tweets")):
    CASES.append(dict(name=f"plain_agrees_with_av.{script}", args=["test", "--plain", f"scripts/{script}.lua", f"{D}/{inp}.ndjson"],
                      exit=0, plain_of=f"{D}/expect/{script}.{inp}.ndjson"))


def run_case(c):
    with tempfile.TemporaryDirectory() as tmp:
        return run_case_in(c, tmp)


def run_case_in(c, tmp):
    exe = os.environ.get("TWEETMATCH", "build/tweetmatch")
    for name, make in c.get("files", {}).items():
        with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
            f.write(make() if callable(make) else make)
    args = [a.replace("{tmp}", tmp) for a in c["args"]]
    env = dict(os.environ)
    for k in ("FILTER", "RULE_MEMORY_MB", "RULE_INSTRUCTION_BUDGET", "MAX_LINE_BYTES", "RULE_MAX_ITEMS"):
        env.pop(k, None)
    env.update(c.get("env", {}))
    env["LC_ALL"] = "C.UTF-8"
    t0 = time.monotonic()
    p = subprocess.run([exe] + args, input=c.get("stdin", "").encode() if "stdin" in c else None,
                       stdin=None if "stdin" in c else subprocess.DEVNULL, capture_output=True, env=env, timeout=120)
    took = time.monotonic() - t0
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    problems = []
    if p.returncode != c["exit"]:
        problems.append(f"exit code {p.returncode}, expected {c['exit']}")
    if "stdout" in c and out != c["stdout"]:
        problems.append(f"stdout differs:\n--- expected\n{c['stdout']}--- actual\n{out}---")
    if "stdout_file" in c:
        want = open(c["stdout_file"], encoding="utf-8").read()
        if out != want:
            problems.append(f"stdout differs from {c['stdout_file']}:\n--- actual\n{out}---")
    if "stdout_lines" in c and out.count("\n") != c["stdout_lines"]:
        problems.append(f"stdout has {out.count(chr(10))} lines, expected {c['stdout_lines']}")
    for s in c.get("stdout_has", []):
        if s not in out:
            problems.append(f"stdout lacks {s!r}")
    if "plain_of" in c:
        want = [_av_to_plain({"M": json.loads(l)}) for l in open(c["plain_of"], encoding="utf-8") if l.strip()]
        got = [json.loads(l) for l in out.splitlines()]
        if want != got:
            problems.append(f"--plain output is not the plain form of {c['plain_of']}")
        if any(list(o.keys()) != sorted(o.keys()) for o in got):
            problems.append("--plain keys are not sorted")
    if "stderr_re" in c and not re.search(c["stderr_re"], err, re.S):
        problems.append(f"stderr does not match {c['stderr_re']!r}")
    for s in c.get("stderr_lacks", []):
        if s in err:
            problems.append(f"stderr has {s!r}")
    for s in c.get("stdout_lacks", []):
        if s in out:
            problems.append(f"stdout has {s!r}")
    if "stderr" in c and err != c["stderr"]:
        problems.append(f"stderr differs:\n--- expected\n{c['stderr']}--- actual\n{err}---")
    for s in c.get("stderr_has", []):
        if s not in err:
            problems.append(f"stderr lacks {s!r}")
    for r in c.get("stderr_has_re", []):
        if not re.search(r, err):
            problems.append(f"stderr has nothing matching {r!r}")
    if "max_seconds" in c and took > c["max_seconds"] and "valgrind" not in exe:
        problems.append(f"took {took:.1f} s, over {c['max_seconds']} s")
    for s in c.get("no_secrets", []):
        if s in out or s in err:
            problems.append(f"a secret value reached the output: {s!r}")
    for s in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        if s in err:
            problems.append(f"a sanitizer reported an error ({s})")
    if problems:
        print(f"case {c['name']}: {' '.join(c['args'])}")
        for pr in problems:
            print("  " + pr)
        if "stderr" not in c:
            print("--- stderr\n" + err[:4000])
        return 1
    return 0


def main():
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    if sys.argv[1:] == ["--list"]:
        print("\n".join(names))
        return 0
    if sys.argv[1:] == ["--all"]:
        return max(run_case(c) for c in CASES)
    by = {c["name"]: c for c in CASES}
    if len(sys.argv) != 2 or sys.argv[1] not in by:
        print("usage: cases.py --list | --all | NAME", file=sys.stderr)
        return 2
    return run_case(by[sys.argv[1]])


if __name__ == "__main__":
    sys.exit(main())
