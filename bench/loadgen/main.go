// sluice-loadgen: a constant-arrival-rate load generator for RESP servers.
//
// It plays the role the issue gave to k6 + xk6-redis (k6 is AGPL-licensed and this machine's
// package notes say not to use it), with the same model: an open workload that starts
// iterations at a fixed rate, served by a fixed pool of virtual users (VUs), each with its own
// connection; an iteration that finds no idle VU is dropped and counted (k6's
// dropped_iterations). Latency percentiles per command and per iteration, a p99 threshold, and
// scenario checks (admissions per shared key never exceed what the limit allows).
//
// Standard library only, so `go build` works offline in seconds. Only loopback addresses are
// accepted. Every run is bounded by -duration (plus a drain timeout).
//
// Scenarios:
//
//	shared   many instances share a few keys: one limiter call per iteration on key (i % keys);
//	         -cmd rlhit (RL.HIT ... LIMIT n PER ms BURST b), throttle (CL.THROTTLE), lua (EVALSHA
//	         of a token bucket in Redis). After the run: admitted per key <= what the limit allows.
//	gateway  per iteration: RL.ALL (user RPM + model TPM), TOK.CHAT, RL.ADJUST (settle tokens).
//	soak     RL.HIT over a large key space with short periods (keys come and go) plus a
//	         TOK.COUNT every 10th iteration; the runner samples the server's RSS meanwhile.
//	gateway-route, route-pipeline: ROUTE.PICK / ROUTE.DONE (routing.go).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ---- RESP client --------------------------------------------------------------------------

type value struct {
	kind byte // '+', '-', ':', '$', '*', '_' (nil)
	str  string
	num  int64
	arr  []value
}

func (v value) isErr() bool { return v.kind == '-' }

type conn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func dial(addr string) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

func (c *conn) do(args ...string) (value, error) {
	writeCommand(c, args)
	if err := c.w.Flush(); err != nil {
		return value{}, err
	}
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c.read()
}

func (c *conn) line() (string, error) {
	s, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(s) < 3 {
		return "", errors.New("protocol: short line")
	}
	return s[:len(s)-2], nil
}

func (c *conn) read() (value, error) {
	l, err := c.line()
	if err != nil {
		return value{}, err
	}
	t, rest := l[0], l[1:]
	switch t {
	case '+', '-':
		return value{kind: t, str: rest}, nil
	case ':':
		n, err := strconv.ParseInt(rest, 10, 64)
		return value{kind: ':', num: n}, err
	case '_':
		return value{kind: '_'}, nil
	case ',': // RESP3 double: keep as string
		return value{kind: '+', str: rest}, nil
	case '#':
		if rest == "t" {
			return value{kind: ':', num: 1}, nil
		}
		return value{kind: ':', num: 0}, nil
	case '$':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return value{}, err
		}
		if n < 0 {
			return value{kind: '_'}, nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(c.r, buf); err != nil {
			return value{}, err
		}
		return value{kind: '$', str: string(buf[:n])}, nil
	case '*', '%', '~', '>':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return value{}, err
		}
		if n < 0 {
			return value{kind: '_'}, nil
		}
		if t == '%' {
			n *= 2
		}
		arr := make([]value, n)
		for i := range arr {
			if arr[i], err = c.read(); err != nil {
				return value{}, err
			}
		}
		return value{kind: '*', arr: arr}, nil
	}
	return value{}, fmt.Errorf("protocol: unexpected reply type %q", t)
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (v value) int(i int) (int64, bool) {
	if v.kind != '*' || i >= len(v.arr) {
		return 0, false
	}
	e := v.arr[i]
	switch e.kind {
	case ':':
		return e.num, true
	case '$', '+':
		n, err := strconv.ParseInt(e.str, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func (v value) String() string {
	switch v.kind {
	case '*':
		parts := make([]string, len(v.arr))
		for i, e := range v.arr {
			parts[i] = e.String()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case ':':
		return strconv.FormatInt(v.num, 10)
	case '_':
		return "(nil)"
	case '-':
		return "(error) " + v.str
	}
	return strconv.Quote(v.str)
}

// ---- measurements -------------------------------------------------------------------------

type recorder struct {
	lat map[string][]float64 // ms
}

func (r *recorder) add(name string, d time.Duration) {
	r.lat[name] = append(r.lat[name], float64(d.Nanoseconds())/1e6)
}

type latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func summarize(xs []float64) latency {
	if len(xs) == 0 {
		return latency{}
	}
	sort.Float64s(xs)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(xs)))) - 1
		if i < 0 {
			i = 0
		}
		return round3(xs[i])
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return latency{Count: len(xs), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: round3(xs[len(xs)-1]), Mean: round3(sum / float64(len(xs)))}
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

type check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

type keyResult struct {
	Key        string `json:"key"`
	Admitted   int64  `json:"admitted"`
	Refused    int64  `json:"refused"`
	AllowedMax int64  `json:"allowed_max"`
}

type result struct {
	Scenario      string             `json:"scenario"`
	Cmd           string             `json:"cmd"`
	Addr          string             `json:"addr"`
	Rate          int                `json:"rate"`
	DurationS     float64            `json:"duration_s"`
	ElapsedS      float64            `json:"elapsed_s"`
	VUs           int                `json:"vus"`
	Iterations    int64              `json:"iterations"`
	Dropped       int64              `json:"dropped_iterations"`
	IterPerSec    float64            `json:"iterations_per_s"`
	Errors        int64              `json:"errors"`
	ErrorSamples  []string           `json:"error_samples"`
	Latency       map[string]latency `json:"latency"`
	P99Threshold  float64            `json:"p99_threshold_ms"`
	ThresholdPass bool               `json:"threshold_passed"`
	Checks        []check            `json:"checks"`
	Keys          []keyResult        `json:"keys,omitempty"`
	Counters      map[string]int64   `json:"counters"`
	Routes        []deploymentResult `json:"routes,omitempty"`
}

// ---- scenarios ----------------------------------------------------------------------------

type opts struct {
	addr, scenario, cmd, prefix, sha, messagesFile, text string
	rate, vus, keys, limit, burst, users, models         int
	mix                                                  string // gateway-route: status:weight,...
	holdMs                                               int    // gateway-route: longest hold of a lease
	perMs                                                int64
	duration                                             time.Duration
	p99                                                  float64
}

type scenario interface {
	setup(c *conn) error
	iterate(c *conn, i int64, rec *recorder) error
	finish(c *conn, elapsed time.Duration, res *result) error
}

type sharedScenario struct {
	o        opts
	admitted []atomic.Int64
	refused  []atomic.Int64
}

func (s *sharedScenario) key(i int64) string {
	return s.o.prefix + "shared:" + strconv.FormatInt(i%int64(s.o.keys), 10)
}

func (s *sharedScenario) setup(c *conn) error {
	s.admitted = make([]atomic.Int64, s.o.keys)
	s.refused = make([]atomic.Int64, s.o.keys)
	// Probe once on a key of its own: a server without the command fails here, loudly.
	probe := &sharedScenario{o: s.o, admitted: make([]atomic.Int64, 1), refused: make([]atomic.Int64, 1)}
	probe.o.keys = 1
	probe.o.prefix = s.o.prefix + "probe:"
	return probe.iterate(c, 0, &recorder{lat: map[string][]float64{}})
}

// capacity and emission interval (ms per token) of the configured limit, per command's semantics.
func (s *sharedScenario) shape() (capacity int64, intervalMs float64) {
	switch s.o.cmd {
	case "throttle": // CL.THROTTLE key max_burst count period: capacity max_burst+1, T = period/count
		return int64(s.o.burst) + 1, float64(s.o.perMs) / float64(s.o.limit)
	default: // RL.HIT LIMIT n PER ms BURST b and the Lua bucket: capacity b, refill n per ms
		return int64(s.o.burst), float64(s.o.perMs) / float64(s.o.limit)
	}
}

func (s *sharedScenario) iterate(c *conn, i int64, rec *recorder) error {
	k := s.key(i)
	var args []string
	var allowedIdx int
	var allowedWhen int64
	switch s.o.cmd {
	case "rlhit":
		args = []string{"RL.HIT", k, "LIMIT", strconv.Itoa(s.o.limit), "PER", strconv.FormatInt(s.o.perMs, 10), "BURST", strconv.Itoa(s.o.burst)}
		allowedIdx, allowedWhen = 0, 1
	case "throttle":
		periodS := s.o.perMs / 1000
		args = []string{"CL.THROTTLE", k, strconv.Itoa(s.o.burst), strconv.Itoa(s.o.limit), strconv.FormatInt(periodS, 10)}
		allowedIdx, allowedWhen = 0, 0 // limited flag: 0 = allowed
	case "lua":
		perMs := float64(s.o.limit) / float64(s.o.perMs)
		args = []string{"EVALSHA", s.o.sha, "1", k, strconv.Itoa(s.o.burst), strconv.FormatFloat(perMs, 'f', -1, 64), "1"}
		allowedIdx, allowedWhen = 0, 1
	default:
		return fmt.Errorf("unknown -cmd %q", s.o.cmd)
	}
	t0 := time.Now()
	v, err := c.do(args...)
	rec.add(args[0], time.Since(t0))
	if err != nil {
		return err
	}
	if v.isErr() {
		return fmt.Errorf("%s: %s", args[0], v.str)
	}
	flag, ok := v.int(allowedIdx)
	if !ok {
		return fmt.Errorf("%s: unexpected reply %s", args[0], v)
	}
	idx := i % int64(s.o.keys)
	if flag == allowedWhen {
		s.admitted[idx].Add(1)
	} else {
		s.refused[idx].Add(1)
	}
	return nil
}

func (s *sharedScenario) finish(c *conn, elapsed time.Duration, res *result) error {
	capacity, interval := s.shape()
	// Upper bound for any GCRA/token bucket that starts full: every admission after the first
	// `capacity` needs one emission interval of elapsed time. The client's elapsed time (first
	// send to last reply) contains the server's, so this bound is safe.
	allowed := capacity + int64(math.Floor(float64(elapsed.Milliseconds()+1)/interval))
	ok := true
	var worst string
	for i := 0; i < s.o.keys; i++ {
		kr := keyResult{Key: s.key(int64(i)), Admitted: s.admitted[i].Load(), Refused: s.refused[i].Load(), AllowedMax: allowed}
		res.Keys = append(res.Keys, kr)
		if kr.Admitted > allowed {
			ok = false
			worst = fmt.Sprintf("%s admitted %d > %d allowed", kr.Key, kr.Admitted, allowed)
		}
	}
	detail := fmt.Sprintf("each of %d keys admitted <= %d (capacity %d + %.0f ms elapsed / %.3f ms per token)", s.o.keys, allowed, capacity, float64(elapsed.Milliseconds()), interval)
	if !ok {
		detail = worst
	}
	var total int64
	for _, k := range res.Keys {
		total += k.Admitted + k.Refused
	}
	if total == 0 {
		ok = false
		detail = "no limiter call completed"
	}
	res.Checks = append(res.Checks, check{Name: "admissions per shared key never exceed the limit", Passed: ok, Detail: detail})
	return nil
}

type gatewayScenario struct {
	o        opts
	messages []string
	counters sync.Map
}

func (g *gatewayScenario) inc(name string, d int64) {
	v, _ := g.counters.LoadOrStore(name, new(atomic.Int64))
	v.(*atomic.Int64).Add(d)
}

var gatewayModels = []string{"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-3.5-turbo"}

func (g *gatewayScenario) setup(c *conn) error {
	data, err := os.ReadFile(g.o.messagesFile)
	if err != nil {
		return fmt.Errorf("reading -messages: %w", err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("-messages must be a JSON array of message arrays: %w", err)
	}
	for _, m := range raw {
		g.messages = append(g.messages, string(m))
	}
	if len(g.messages) == 0 {
		return errors.New("-messages is empty")
	}
	// Policies: per-user requests per minute, per-model tokens per minute.
	for _, p := range [][]string{
		{"RL.POLICY", "SET", "bench-user-rpm", "LIMIT", strconv.Itoa(g.o.limit), "PER", "60000"},
		{"RL.POLICY", "SET", "bench-model-tpm", "LIMIT", "2000000", "PER", "60000"},
	} {
		v, err := c.do(p...)
		if err != nil {
			return err
		}
		if v.isErr() {
			return fmt.Errorf("%s: %s", strings.Join(p[:2], " "), v.str)
		}
	}
	// Probe the whole flow once.
	probe := &gatewayScenario{o: g.o, messages: g.messages}
	probe.o.prefix = g.o.prefix + "probe:"
	return probe.iterate(c, 0, &recorder{lat: map[string][]float64{}})
}

func (g *gatewayScenario) iterate(c *conn, i int64, rec *recorder) error {
	user := g.o.prefix + "user:" + strconv.FormatInt(i%int64(g.o.users), 10)
	modelName := gatewayModels[int(i/7)%min(len(gatewayModels), g.o.models)]
	model := g.o.prefix + "model:" + modelName
	msgs := g.messages[int(i)%len(g.messages)]
	const maxTokens = 256
	estimate := int64(len(msgs)/4 + maxTokens) // reserve before counting: a cheap estimate

	t0 := time.Now()
	v, err := c.do("RL.ALL", "2", user, "bench-user-rpm", "1", model, "bench-model-tpm", strconv.FormatInt(estimate, 10))
	rec.add("RL.ALL", time.Since(t0))
	if err != nil {
		return err
	}
	if v.isErr() {
		return fmt.Errorf("RL.ALL: %s", v.str)
	}
	allowed, ok := v.int(0)
	if !ok {
		if v.kind == ':' {
			allowed, ok = v.num, true
		}
	}
	if !ok {
		return fmt.Errorf("RL.ALL: unexpected reply %s", v)
	}
	if allowed != 1 {
		g.inc("refused", 1)
		return nil
	}
	g.inc("admitted", 1)

	t1 := time.Now()
	v, err = c.do("TOK.CHAT", modelName, msgs)
	rec.add("TOK.CHAT", time.Since(t1))
	if err != nil {
		return err
	}
	if v.isErr() || v.kind != ':' {
		return fmt.Errorf("TOK.CHAT: unexpected reply %s", v)
	}
	g.inc("prompt_tokens", v.num)
	completion := int64(17 + i%200) // what the model "answered"
	delta := v.num + completion - estimate

	t2 := time.Now()
	v, err = c.do("RL.ADJUST", model, "bench-model-tpm", strconv.FormatInt(delta, 10))
	rec.add("RL.ADJUST", time.Since(t2))
	if err != nil {
		return err
	}
	if v.isErr() {
		return fmt.Errorf("RL.ADJUST: %s", v.str)
	}
	return nil
}

func (g *gatewayScenario) finish(c *conn, elapsed time.Duration, res *result) error {
	g.counters.Range(func(k, v any) bool {
		res.Counters[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	// Every user's RPM: admitted per user <= limit + refills over the elapsed time.
	admitted := res.Counters["admitted"]
	ok := admitted > 0
	res.Checks = append(res.Checks, check{Name: "gateway flow admitted requests and settled tokens", Passed: ok,
		Detail: fmt.Sprintf("%d admitted, %d refused, %d prompt tokens counted", admitted, res.Counters["refused"], res.Counters["prompt_tokens"])})
	return nil
}

type soakScenario struct {
	o       opts
	hits    atomic.Int64
	counted atomic.Int64
}

func (s *soakScenario) setup(c *conn) error {
	probe := &soakScenario{o: s.o}
	probe.o.prefix = s.o.prefix + "probe:"
	return probe.iterate(c, 0, &recorder{lat: map[string][]float64{}})
}

func (s *soakScenario) iterate(c *conn, i int64, rec *recorder) error {
	// A cheap pseudo-random key over a large space: keys are created, go idle and expire.
	k := s.o.prefix + "soak:" + strconv.FormatUint((uint64(i)*2654435761)%uint64(s.o.keys), 10)
	t0 := time.Now()
	v, err := c.do("RL.HIT", k, "LIMIT", strconv.Itoa(s.o.limit), "PER", strconv.FormatInt(s.o.perMs, 10))
	rec.add("RL.HIT", time.Since(t0))
	if err != nil {
		return err
	}
	if v.isErr() || v.kind != '*' {
		return fmt.Errorf("RL.HIT: unexpected reply %s", v)
	}
	s.hits.Add(1)
	if i%10 == 0 {
		t1 := time.Now()
		v, err = c.do("TOK.COUNT", "gpt-4o", s.o.text)
		rec.add("TOK.COUNT", time.Since(t1))
		if err != nil {
			return err
		}
		if v.isErr() || v.kind != ':' {
			return fmt.Errorf("TOK.COUNT: unexpected reply %s", v)
		}
		s.counted.Add(1)
	}
	return nil
}

func (s *soakScenario) finish(c *conn, elapsed time.Duration, res *result) error {
	res.Counters["rl_hits"] = s.hits.Load()
	res.Counters["tok_counts"] = s.counted.Load()
	return nil
}

// ---- executor -----------------------------------------------------------------------------

func run(o opts, sc scenario) (*result, error) {
	setupConn, err := dial(o.addr)
	if err != nil {
		return nil, err
	}
	defer setupConn.c.Close()
	if err := sc.setup(setupConn); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	conns := make([]*conn, o.vus)
	for i := range conns {
		if conns[i], err = dial(o.addr); err != nil {
			return nil, fmt.Errorf("VU %d: %w", i, err)
		}
		defer conns[i].c.Close()
	}

	res := &result{Scenario: o.scenario, Cmd: o.cmd, Addr: o.addr, Rate: o.rate, DurationS: o.duration.Seconds(), VUs: o.vus,
		Latency: map[string]latency{}, P99Threshold: o.p99, Counters: map[string]int64{}, ErrorSamples: []string{}}
	work := make(chan int64) // unbuffered: a send succeeds only if a VU is idle
	var iterations, errCount, dropped atomic.Int64
	var errMu sync.Mutex
	recs := make([]*recorder, o.vus)
	var wg sync.WaitGroup
	for v := 0; v < o.vus; v++ {
		recs[v] = &recorder{lat: map[string][]float64{}}
		wg.Add(1)
		go func(c *conn, rec *recorder) {
			defer wg.Done()
			broken := false
			for i := range work {
				if broken {
					errCount.Add(1)
					continue
				}
				t0 := time.Now()
				err := sc.iterate(c, i, rec)
				rec.add("iteration", time.Since(t0))
				iterations.Add(1)
				if err != nil {
					errCount.Add(1)
					errMu.Lock()
					if len(res.ErrorSamples) < 5 {
						res.ErrorSamples = append(res.ErrorSamples, err.Error())
					}
					errMu.Unlock()
					var ne net.Error
					if errors.As(err, &ne) || strings.Contains(err.Error(), "EOF") || strings.HasPrefix(err.Error(), "protocol") {
						broken = true // the connection's state is unknown now
					}
				}
			}
		}(conns[v], recs[v])
	}

	start := time.Now()
	interval := time.Duration(float64(time.Second) / float64(o.rate))
	total := int64(o.duration.Seconds() * float64(o.rate))
	for i := int64(0); i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case work <- i:
		default:
			dropped.Add(1)
		}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)

	merged := map[string][]float64{}
	for _, r := range recs {
		for k, xs := range r.lat {
			merged[k] = append(merged[k], xs...)
		}
	}
	for k, xs := range merged {
		res.Latency[k] = summarize(xs)
	}
	res.Iterations = iterations.Load()
	res.Dropped = dropped.Load()
	res.Errors = errCount.Load()
	res.ElapsedS = round3(elapsed.Seconds())
	res.IterPerSec = round3(float64(res.Iterations) / elapsed.Seconds())
	res.ThresholdPass = res.Latency["iteration"].P99 <= o.p99 && res.Latency["iteration"].Count > 0
	if err := sc.finish(setupConn, elapsed, res); err != nil {
		return nil, err
	}
	return res, nil
}

func main() {
	var o opts
	var durS float64
	out := flag.String("out", "", "write the JSON result here (default: stdout)")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:6380", "server address (loopback only)")
	flag.StringVar(&o.scenario, "scenario", "shared", "shared | gateway | soak | gateway-route | route-pipeline")
	flag.StringVar(&o.cmd, "cmd", "rlhit", "shared: rlhit | throttle | lua")
	flag.StringVar(&o.prefix, "prefix", "bench:", "key prefix (make it unique per run)")
	flag.StringVar(&o.sha, "sha", "", "lua: SHA1 of the loaded token-bucket script")
	flag.StringVar(&o.messagesFile, "messages", "", "gateway: JSON file, an array of chat message arrays")
	flag.StringVar(&o.text, "text", "The quick brown fox jumps over the lazy dog.", "soak: text for TOK.COUNT")
	flag.IntVar(&o.rate, "rate", 1000, "iterations started per second (constant arrival rate)")
	flag.Float64Var(&durS, "duration", 10, "seconds")
	flag.IntVar(&o.vus, "vus", 100, "virtual users (one connection each)")
	flag.IntVar(&o.keys, "keys", 4, "shared: number of shared keys; soak: key space")
	flag.IntVar(&o.limit, "limit", 100, "tokens per period (shared/soak), requests per minute per user (gateway)")
	flag.Int64Var(&o.perMs, "per", 1000, "period in ms")
	flag.IntVar(&o.burst, "burst", 50, "bucket capacity (CL.THROTTLE: max_burst)")
	flag.IntVar(&o.users, "users", 50, "gateway: users")
	flag.IntVar(&o.models, "models", 4, "gateway: models")
	flag.Float64Var(&o.p99, "p99", 50, "threshold on the iteration's p99 latency, ms")
	flag.StringVar(&o.mix, "mix", "200:94,429:2,500:4", "gateway-route: DONE statuses, status:weight,...")
	flag.IntVar(&o.holdMs, "hold", 30, "gateway-route: a lease is held 1..hold ms")
	requests := flag.Int64("requests", 200000, "route-pipeline: PICK+DONE pairs in all")
	pipeline := flag.Int("pipeline", 16, "route-pipeline: PICKs (then DONEs) per write")
	deployments := flag.Int("deployments", 10, "route-pipeline: deployments in the group")
	flag.Parse()
	o.duration = time.Duration(durS * float64(time.Second))

	host, _, err := net.SplitHostPort(o.addr)
	if err != nil || !(host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1") {
		fmt.Fprintln(os.Stderr, "sluice-loadgen: -addr must be a loopback address")
		os.Exit(2)
	}
	if o.duration <= 0 || o.duration > 30*time.Minute || o.rate <= 0 || o.vus <= 0 || o.keys <= 0 {
		fmt.Fprintln(os.Stderr, "sluice-loadgen: need 0 < duration <= 1800 s, rate > 0, vus > 0, keys > 0")
		os.Exit(2)
	}
	if o.scenario == "route-pipeline" {
		if *requests <= 0 || *pipeline <= 0 || *deployments <= 0 {
			fmt.Fprintln(os.Stderr, "sluice-loadgen: need -requests, -pipeline, -deployments > 0")
			os.Exit(2)
		}
		res, err := runRoutePipeline(o, *requests, *pipeline, *deployments)
		writeResult(res, err, *out)
		return
	}
	var sc scenario
	switch o.scenario {
	case "shared":
		sc = &sharedScenario{o: o}
	case "gateway":
		sc = &gatewayScenario{o: o}
	case "soak":
		sc = &soakScenario{o: o}
	case "gateway-route":
		if o.holdMs <= 0 {
			fmt.Fprintln(os.Stderr, "sluice-loadgen: need -hold > 0")
			os.Exit(2)
		}
		sc = &gatewayRouteScenario{o: o}
	default:
		fmt.Fprintf(os.Stderr, "sluice-loadgen: unknown -scenario %q\n", o.scenario)
		os.Exit(2)
	}
	res, err := run(o, sc)
	writeResult(res, err, *out)
}

func writeResult(res any, err error, out string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "sluice-loadgen: %v\n", err)
		os.Exit(1)
	}
	data, _ := json.MarshalIndent(res, "", "  ")
	if out != "" {
		if err := os.WriteFile(out, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	} else {
		os.Stdout.Write(append(data, '\n'))
	}
}
