// Runs one scenario against Sluice with go-redis and prints its results as JSON.
//
// Usage: scenario PORT SCENARIO ARGS...
//
//	transaction KEY   two RL.HIT in a TxPipeline (MULTI/EXEC), then RL.PEEK
//	scan PATTERN      every key the scan iterator yields for MATCH PATTERN
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/redis/go-redis/v9"
)

func main() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + os.Args[1]})
	defer rdb.Close()
	out := map[string]interface{}{}
	switch os.Args[2] {
	case "transaction":
		key := os.Args[3]
		cmds, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Do(ctx, "RL.HIT", key, "LIMIT", 5, "PER", 60000)
			p.Do(ctx, "RL.HIT", key, "LIMIT", 5, "PER", 60000)
			return nil
		})
		if err != nil {
			fail(err)
		}
		replies := []interface{}{}
		for _, c := range cmds {
			v, err := c.(*redis.Cmd).Result()
			if err != nil {
				fail(err)
			}
			replies = append(replies, v)
		}
		peek, err := rdb.Do(ctx, "RL.PEEK", key, "LIMIT", 5, "PER", 60000).Result()
		if err != nil {
			fail(err)
		}
		out["exec"] = replies
		out["peek"] = peek
	case "scan":
		keys := []string{}
		it := rdb.Scan(ctx, 0, os.Args[3], 100).Iterator()
		for it.Next(ctx) {
			keys = append(keys, it.Val())
		}
		if err := it.Err(); err != nil {
			fail(err)
		}
		sort.Strings(keys)
		out["keys"] = keys
	default:
		fail(fmt.Errorf("unknown scenario %s", os.Args[2]))
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
