// Runs one scenario against Sluice with go-redis and prints its results as JSON.
//
// Usage: scenario PORT SCENARIO ARGS...
//
//	transaction KEY   two RL.HIT in a TxPipeline (MULTI/EXEC), then RL.PEEK
//	scan PATTERN      every key the scan iterator yields for MATCH PATTERN
//	cluster N         a ClusterClient hits N keys 3 times each (LIMIT 2), then TOK.COUNT on any node
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"

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
	case "cluster":
		n, err := strconv.Atoi(os.Args[3])
		if err != nil {
			fail(err)
		}
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:" + os.Args[1]}})
		defer cc.Close()
		admitted := map[string]int64{}
		for i := 0; i < n; i++ {
			key := fmt.Sprintf("go:%d", i)
			for j := 0; j < 3; j++ {
				v, err := cc.Do(ctx, "RL.HIT", key, "LIMIT", 2, "PER", 600000).Slice()
				if err != nil {
					fail(err)
				}
				admitted[key] += v[0].(int64)
			}
		}
		tokens, err := cc.Do(ctx, "TOK.COUNT", "cl100k_base", "hello world").Int64()
		if err != nil {
			fail(err)
		}
		out["admitted"] = admitted
		out["tokens"] = tokens
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
