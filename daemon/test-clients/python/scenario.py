"""Runs one scenario against Sluice with redis-py and prints its results as JSON.

Usage: scenario.py PORT SCENARIO ARGS...
  transaction KEY   two RL.HIT in redis-py's default pipeline (MULTI/EXEC), then RL.PEEK
  scan PATTERN      every key scan_iter() yields for MATCH PATTERN
  cluster N         a RedisCluster hits N keys 3 times each (LIMIT 2), then TOK.COUNT on any node
"""
import json
import sys

import redis


def main() -> None:
    port, scenario, *args = sys.argv[1:]
    r = redis.Redis(host="127.0.0.1", port=int(port))
    if scenario == "transaction":
        key = args[0]
        pipe = r.pipeline()  # transaction=True: MULTI ... EXEC
        pipe.execute_command("RL.HIT", key, "LIMIT", 5, "PER", 60000)
        pipe.execute_command("RL.HIT", key, "LIMIT", 5, "PER", 60000)
        replies = pipe.execute()
        peek = r.execute_command("RL.PEEK", key, "LIMIT", 5, "PER", 60000)
        print(json.dumps({"exec": replies, "peek": peek}))
    elif scenario == "scan":
        keys = sorted(k.decode("latin1") for k in r.scan_iter(match=args[0], count=100))
        print(json.dumps({"keys": keys}))
    elif scenario == "cluster":
        from redis.cluster import RedisCluster

        rc = RedisCluster(host="127.0.0.1", port=int(port))
        admitted = {}
        for i in range(int(args[0])):
            key = f"py:{i}"
            admitted[key] = sum(rc.execute_command("RL.HIT", key, "LIMIT", 2, "PER", 600000)[0] for _ in range(3))
        # redis-py needs a target for a command without keys.
        tokens = rc.execute_command("TOK.COUNT", "cl100k_base", "hello world", target_nodes=rc.get_random_node())
        print(json.dumps({"admitted": admitted, "tokens": tokens}))
    else:
        raise SystemExit(f"unknown scenario {scenario}")


if __name__ == "__main__":
    main()
