// Routing scenarios (issue #11): ROUTE.PICK / ROUTE.DONE under load.
//
//	route-pipeline  closed loop, no arrival rate: -vus connections, each sends -pipeline
//	                ROUTE.PICKs in one write, reads the leases, sends as many ROUTE.DONEs in one
//	                write, reads their replies, until -requests pairs are done in all. Measures
//	                pairs/s and commands/s (redis-benchmark cannot do this: a DONE needs the
//	                lease its PICK returned).
//	gateway-route   open model through the common executor: each iteration is one app instance's
//	                request: PICK (rotating over the five strategies), hold the lease a random
//	                few ms, DONE with a mixed status (200, 429, 500). The loadgen records, per
//	                deployment, the most leases it held at once and the picks and tokens per
//	                minute; after the run it checks those and ROUTE.LIST against each
//	                deployment's max_parallel_requests, rpm and tpm.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fields turns a ROUTE.PICK / ROUTE.LIST map (RESP3 map or RESP2 flat field/value array, both
// read as one flat array) into name -> value.
func fields(v value) (map[string]value, error) {
	if v.kind != '*' || len(v.arr)%2 != 0 {
		return nil, fmt.Errorf("expected a map or flat field/value array, got %s", v)
	}
	m := make(map[string]value, len(v.arr)/2)
	for i := 0; i < len(v.arr); i += 2 {
		m[v.arr[i].str] = v.arr[i+1]
	}
	return m, nil
}

func (v value) asInt() (int64, bool) {
	switch v.kind {
	case ':':
		return v.num, true
	case '$', '+':
		n, err := strconv.ParseInt(v.str, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(v.str, 64)
			return int64(f), ferr == nil
		}
		return n, true
	}
	return 0, false
}

func deploymentJSON(group string, params map[string]any) string {
	data, _ := json.Marshal(map[string]any{"model_name": group, "litellm_params": params})
	return string(data)
}

// routeSet replaces the group's deployments (ROUTE.DEL first: a rerun with the same prefix
// must not inherit live state).
func routeSet(c *conn, group string, deployments []string) error {
	if v, err := c.do("ROUTE.DEL", group); err != nil {
		return err
	} else if v.isErr() && !strings.Contains(v.str, "no such group") {
		return fmt.Errorf("ROUTE.DEL: %s", v.str)
	}
	v, err := c.do(append([]string{"ROUTE.SET", group}, deployments...)...)
	if err != nil {
		return err
	}
	if v.isErr() {
		return fmt.Errorf("ROUTE.SET: %s", v.str)
	}
	if v.kind != '*' || len(v.arr) != len(deployments) {
		return fmt.Errorf("ROUTE.SET: expected %d ids, got %s", len(deployments), v)
	}
	return nil
}

// ---- route-pipeline -------------------------------------------------------------------------

type pipelineResult struct {
	Scenario      string           `json:"scenario"`
	Addr          string           `json:"addr"`
	Connections   int              `json:"connections"`
	Pipeline      int              `json:"pipeline"`
	Deployments   int              `json:"deployments"`
	Pairs         int64            `json:"pairs"`
	Commands      int64            `json:"commands"`
	ElapsedS      float64          `json:"elapsed_s"`
	PairsPerS     float64          `json:"pairs_per_s"`
	CommandsPerS  float64          `json:"commands_per_s"`
	Errors        int64            `json:"errors"`
	ErrorSamples  []string         `json:"error_samples"`
	PerDeployment map[string]int64 `json:"picks_per_deployment"`
	PickCommand   []string         `json:"pick_command"`
	DoneCommand   []string         `json:"done_command"`
}

// commandBytes is a command as RESP, to write again and again.
func commandBytes(args []string) []byte {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return []byte(b.String())
}

// The route-pipeline DONE after its lease: STATUS 200 LATENCY 800 INPUT 100 OUTPUT 50.
var doneHead = []byte("*10\r\n$10\r\nROUTE.DONE\r\n")
var doneTail = commandBytes([]string{"STATUS", "200", "LATENCY", "800", "INPUT", "100", "OUTPUT", "50"})[len("*8\r\n"):]

func writeDone(c *conn, lease string) {
	c.w.Write(doneHead)
	c.w.WriteString("$" + strconv.Itoa(len(lease)) + "\r\n")
	c.w.WriteString(lease)
	c.w.WriteString("\r\n")
	c.w.Write(doneTail)
}

// replyError is an error reply (the connection can go on).
type replyError struct{ text string }

func (e replyError) Error() string { return "ROUTE.PICK: " + e.text }

// readPick reads one ROUTE.PICK reply (a RESP3 map or a RESP2 flat array of field, value) in
// place: the lease (a new string: it is sent back) and the deployment id (valid until the next
// read). Values other than bulk strings, nil and integers are not in a PICK reply.
func (c *conn) readPick() (lease string, deployment []byte, err error) {
	head, err := c.r.ReadSlice('\n')
	if err != nil {
		return "", nil, err
	}
	if head[0] == '-' {
		return "", nil, replyError{strings.TrimSpace(string(head[1:]))}
	}
	n, err := strconv.Atoi(string(head[1 : len(head)-2]))
	if err != nil || (head[0] != '%' && head[0] != '*') {
		return "", nil, fmt.Errorf("ROUTE.PICK: expected a map, got %q", head)
	}
	if head[0] == '*' {
		n /= 2
	}
	for i := 0; i < n; i++ {
		key, err := c.readBulk()
		if err != nil {
			return "", nil, err
		}
		isLease, isDeployment := string(key) == "lease", string(key) == "deployment"
		value, err := c.readBulk()
		if err != nil {
			return "", nil, err
		}
		if isLease {
			lease = string(value)
		} else if isDeployment {
			deployment = append(deployment[:0], value...)
		}
	}
	if lease == "" || len(deployment) == 0 {
		return "", nil, replyError{"a reply without lease or deployment"}
	}
	return lease, deployment, nil
}

// readBulk reads a bulk string, nil or integer in place (valid until the next read).
func (c *conn) readBulk() ([]byte, error) {
	head, err := c.r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	switch head[0] {
	case '_', ':':
		return nil, nil
	case '$':
		n, err := strconv.Atoi(string(head[1 : len(head)-2]))
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		body, err := c.r.Peek(n + 2)
		if err != nil {
			return nil, err
		}
		c.r.Discard(n + 2)
		return body[:n], nil
	}
	return nil, fmt.Errorf("ROUTE.PICK: unexpected %q in a reply", head)
}

// writeCommand buffers one command (sent on the next Flush).
func writeCommand(c *conn, args []string) {
	c.w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		c.w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n")
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
}

func runRoutePipeline(o opts, requests int64, pipeline, deployments int) (*pipelineResult, error) {
	group := o.prefix + "route-pipe"
	setup, err := dial(o.addr)
	if err != nil {
		return nil, err
	}
	defer setup.c.Close()
	list := make([]string, deployments)
	for i := range list {
		// No limits: this measures the command path, not refusals.
		list[i] = deploymentJSON(group, map[string]any{"model": fmt.Sprintf("azure/gpt-4o-%d", i), "api_base": fmt.Sprintf("https://d%d.example.invalid", i)})
	}
	if err := routeSet(setup, group, list); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	pick := []string{"ROUTE.PICK", group, "TOKENS", "150"}
	res := &pipelineResult{Scenario: "route-pipeline", Addr: o.addr, Connections: o.vus, Pipeline: pipeline, Deployments: deployments,
		ErrorSamples: []string{}, PerDeployment: map[string]int64{}, PickCommand: pick,
		DoneCommand: []string{"ROUTE.DONE", "<lease>", "STATUS", "200", "LATENCY", "800", "INPUT", "100", "OUTPUT", "50"}}
	// Probe one pair: a server without the commands fails here, loudly.
	v, err := setup.do(pick...)
	if err != nil {
		return nil, err
	}
	f, err := fields(v)
	if err != nil || v.isErr() {
		return nil, fmt.Errorf("probe ROUTE.PICK: %s", v)
	}
	if v, err = setup.do("ROUTE.DONE", f["lease"].str, "STATUS", "200"); err != nil || v.kind != ':' || v.num != 1 {
		return nil, fmt.Errorf("probe ROUTE.DONE %q: %s %v", f["lease"].str, v, err)
	}

	conns := make([]*conn, o.vus)
	for i := range conns {
		if conns[i], err = dial(o.addr); err != nil {
			return nil, err
		}
		defer conns[i].c.Close()
	}
	var claimed, pairs, errCount atomic.Int64
	var mu sync.Mutex
	fail := func(err error) {
		errCount.Add(1)
		mu.Lock()
		if len(res.ErrorSamples) < 5 {
			res.ErrorSamples = append(res.ErrorSamples, err.Error())
		}
		mu.Unlock()
	}
	// The commands go out as prepared bytes and the replies are read in place (readPick): the
	// load generator shares the machine's two cores with the daemon, and the first version,
	// which built a map per reply, left the daemon idle half the time (a CPU profile showed it).
	pickBytes := commandBytes(pick)
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func(c *conn) {
			defer wg.Done()
			perDeployment := map[string]int64{}
			leases := make([]string, 0, pipeline)
			for {
				if claimed.Add(int64(pipeline))-int64(pipeline) >= requests {
					break
				}
				for i := 0; i < pipeline; i++ {
					c.w.Write(pickBytes)
				}
				if err := c.w.Flush(); err != nil {
					fail(err)
					return
				}
				c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
				leases = leases[:0]
				for i := 0; i < pipeline; i++ {
					lease, deployment, err := c.readPick()
					var replyErr replyError
					if errors.As(err, &replyErr) {
						fail(err)
						continue
					}
					if err != nil {
						fail(err)
						return
					}
					leases = append(leases, lease)
					// Indexing with string(bytes) does not allocate; the key is copied only when new.
					perDeployment[string(deployment)]++
				}
				for _, l := range leases {
					writeDone(c, l)
				}
				if err := c.w.Flush(); err != nil {
					fail(err)
					return
				}
				for range leases {
					line, err := c.r.ReadSlice('\n')
					if err != nil {
						fail(err)
						return
					}
					if string(line) != ":1\r\n" {
						fail(fmt.Errorf("ROUTE.DONE: expected 1 (lease open), got %q", strings.TrimSpace(string(line))))
						continue
					}
					pairs.Add(1)
				}
			}
			mu.Lock()
			for k, n := range perDeployment {
				res.PerDeployment[k] += n
			}
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Pairs = pairs.Load()
	res.Commands = 2 * res.Pairs
	res.Errors = errCount.Load()
	res.ElapsedS = round3(elapsed.Seconds())
	res.PairsPerS = round3(float64(res.Pairs) / elapsed.Seconds())
	res.CommandsPerS = round3(float64(res.Commands) / elapsed.Seconds())
	return res, nil
}

// ---- gateway-route --------------------------------------------------------------------------

var routeStrategies = []string{"simple-shuffle", "least-busy", "usage-based-routing-v2", "latency-based-routing", "cost-based-routing"}

// Picks within this many ms of a minute boundary (by the client's clock, between sending the
// PICK and reading its reply) are not assigned to a minute: the daemon's minute comes from its
// monotonic clock plus an offset taken at start, which may differ from the wall clock by a
// little. Leaving them out of the per-minute counts keeps the check sound (it can only count
// fewer picks than the daemon did, never more).
const minuteMarginMs = 500

type minuteUse struct {
	picks  int64
	tokens int64 // charged: the reported actual tokens, or the reserve when DONE reported none
}

type deploymentTrack struct {
	mu          sync.Mutex
	holding     int64
	maxHolding  int64
	picks       int64
	byStatus    map[int]int64
	perMinute   map[int64]*minuteUse
	ambiguous   int64           // picks too close to a minute boundary to assign
	crossMinute map[int64]int64 // tokens settled in a later minute than the pick's (they count there)
}

type routeLimits struct {
	rpm, tpm, maxParallel int64 // 0 = none
}

type gatewayRouteScenario struct {
	o        opts
	group    string
	mix      []statusShare
	limits   map[string]routeLimits
	tracks   sync.Map // id -> *deploymentTrack
	refused  sync.Map // "refusals naming: <reason>" -> *atomic.Int64
	refusals atomic.Int64
	picked   atomic.Int64
}

type statusShare struct {
	status int
	share  float64
}

func parseMix(s string) ([]statusShare, error) {
	var out []statusShare
	total := 0.0
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), ":")
		st, err1 := strconv.Atoi(k)
		w, err2 := strconv.ParseFloat(v, 64)
		if !ok || err1 != nil || err2 != nil || w < 0 {
			return nil, fmt.Errorf("-mix wants status:weight[,status:weight...], got %q", s)
		}
		total += w
		out = append(out, statusShare{st, w})
	}
	if total <= 0 {
		return nil, errors.New("-mix weights sum to 0")
	}
	for i := range out {
		out[i].share /= total
	}
	return out, nil
}

func (g *gatewayRouteScenario) status() int {
	r := rand.Float64()
	for _, s := range g.mix {
		if r < s.share {
			return s.status
		}
		r -= s.share
	}
	return g.mix[len(g.mix)-1].status
}

func (g *gatewayRouteScenario) track(id string) *deploymentTrack {
	t, _ := g.tracks.LoadOrStore(id, &deploymentTrack{byStatus: map[int]int64{}, perMinute: map[int64]*minuteUse{}, crossMinute: map[int64]int64{}})
	return t.(*deploymentTrack)
}

// minuteOf returns the Unix minute both instants fall in, away from its edges, or -1.
func minuteOf(a, b time.Time) int64 {
	ma := (a.UnixMilli() - minuteMarginMs) / 60_000
	mb := (b.UnixMilli() + minuteMarginMs) / 60_000
	if ma != mb {
		return -1
	}
	return ma
}

// The deployments: each limited in one way (rpm, tpm, max parallel, or all three), with limits
// small enough that they bind within a few seconds at the scenario's rates (the quick run's
// 1500 picks exhaust every rpm/tpm and leave three parallel slots), so the check after the run
// is about limits that were reached. A short cooldown per deployment (100 ms) keeps the
// 429s from cooling the whole group for LiteLLM's default 5 s.
func (g *gatewayRouteScenario) deployments() []string {
	specs := []map[string]any{
		{"rpm": 60}, {"rpm": 100},
		{"tpm": 15_000}, {"tpm": 25_000},
		{"max_parallel_requests": 1}, {"max_parallel_requests": 2},
		{"rpm": 150, "tpm": 40_000, "max_parallel_requests": 3}, {"rpm": 250, "tpm": 60_000, "max_parallel_requests": 4},
	}
	out := make([]string, len(specs))
	for i, s := range specs {
		s["model"] = fmt.Sprintf("openai/gpt-4o-%d", i)
		s["api_base"] = fmt.Sprintf("https://d%d.example.invalid/v1", i)
		s["cooldown_time"] = 0.1
		s["input_cost_per_token"] = 1e-6 * float64(1+i%3)
		s["output_cost_per_token"] = 4e-6
		out[i] = deploymentJSON(g.group, s)
	}
	return out
}

func (g *gatewayRouteScenario) list(c *conn) ([]map[string]value, error) {
	v, err := c.do("ROUTE.LIST", g.group)
	if err != nil {
		return nil, err
	}
	if v.isErr() || v.kind != '*' {
		return nil, fmt.Errorf("ROUTE.LIST: %s", v)
	}
	out := make([]map[string]value, 0, len(v.arr))
	for _, e := range v.arr {
		f, err := fields(e)
		if err != nil {
			return nil, fmt.Errorf("ROUTE.LIST: %w", err)
		}
		out = append(out, f)
	}
	return out, nil
}

func (g *gatewayRouteScenario) setup(c *conn) error {
	var err error
	if g.mix, err = parseMix(g.o.mix); err != nil {
		return err
	}
	g.group = g.o.prefix + "gw-route"
	if err := routeSet(c, g.group, g.deployments()); err != nil {
		return err
	}
	// The limits come back from ROUTE.LIST: the check below uses what the daemon says it enforces.
	rows, err := g.list(c)
	if err != nil {
		return err
	}
	g.limits = map[string]routeLimits{}
	for _, r := range rows {
		var l routeLimits
		l.rpm, _ = r["rpm"].asInt()
		l.tpm, _ = r["tpm"].asInt()
		l.maxParallel, _ = r["max_parallel_requests"].asInt()
		g.limits[r["id"].str] = l
	}
	if len(g.limits) != 8 {
		return fmt.Errorf("ROUTE.LIST listed %d deployments, want 8", len(g.limits))
	}
	// One request through the whole flow (counted like the others).
	return g.iterate(c, 0, &recorder{lat: map[string][]float64{}})
}

func (g *gatewayRouteScenario) iterate(c *conn, i int64, rec *recorder) error {
	reserve := 50 + rand.Int64N(450)
	strategy := routeStrategies[int(i)%len(routeStrategies)]
	t0 := time.Now()
	v, err := c.do("ROUTE.PICK", g.group, "TOKENS", strconv.FormatInt(reserve, 10), "STRATEGY", strategy)
	t1 := time.Now()
	rec.add("ROUTE.PICK", t1.Sub(t0))
	if err != nil {
		return err
	}
	if v.isErr() {
		if !strings.HasPrefix(v.str, "NODEPLOYMENT") {
			return fmt.Errorf("ROUTE.PICK: %s", v.str)
		}
		// Count refusals by the reasons the daemon gave: "no deployment of 'g' available
		// (2 cooling down, 5 at rpm limit, ...); retry in N ms" counts once for each reason named.
		g.refusals.Add(1)
		why := v.str
		if open, end := strings.LastIndex(why, "("), strings.LastIndex(why, ")"); open >= 0 && end > open {
			why = why[open+1 : end]
		} else {
			why = "other"
		}
		for _, part := range strings.Split(why, ", ") {
			if _, what, ok := strings.Cut(part, " "); ok {
				part = what // drop the count of deployments
			}
			n, _ := g.refused.LoadOrStore("refusals naming: "+part, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}
		return nil
	}
	f, err := fields(v)
	if err != nil {
		return fmt.Errorf("ROUTE.PICK: %w", err)
	}
	id, lease := f["deployment"].str, f["lease"].str
	if _, known := g.limits[id]; !known || lease == "" {
		return fmt.Errorf("ROUTE.PICK: unexpected reply %s", v)
	}
	g.picked.Add(1)
	t := g.track(id)
	minute := minuteOf(t0, t1)
	t.mu.Lock()
	t.holding++
	t.maxHolding = max(t.maxHolding, t.holding)
	t.picks++
	if minute < 0 {
		t.ambiguous++
	} else {
		mu := t.perMinute[minute]
		if mu == nil {
			mu = &minuteUse{}
			t.perMinute[minute] = mu
		}
		mu.picks++
		mu.tokens += reserve // until DONE says otherwise
	}
	t.mu.Unlock()

	// The "request to the provider".
	time.Sleep(time.Duration(1+rand.IntN(g.o.holdMs)) * time.Millisecond)

	status := g.status()
	args := []string{"ROUTE.DONE", lease, "STATUS", strconv.Itoa(status)}
	actual := reserve // a failed request reports no tokens: its reserve stays charged
	if status < 400 {
		// What the provider really used: never more than the reserve, so the sum of what the
		// loadgen charges a minute is a lower bound of what the daemon counted for it.
		input := reserve * 2 / 3
		output := rand.Int64N(reserve - input + 1)
		actual = input + output
		args = append(args, "LATENCY", strconv.Itoa(200+rand.IntN(800)), "INPUT", strconv.FormatInt(input, 10), "OUTPUT", strconv.FormatInt(output, 10))
	}
	// Released on the client side before the DONE is sent: the loadgen's count of leases held
	// at once can only be lower than the daemon's, never higher.
	t.mu.Lock()
	t.holding--
	t.byStatus[status]++
	if minute >= 0 {
		t.perMinute[minute].tokens += actual - reserve
	}
	t.mu.Unlock()
	t2 := time.Now()
	v, err = c.do(args...)
	t3 := time.Now()
	rec.add("ROUTE.DONE", t3.Sub(t2))
	if err != nil {
		return err
	}
	if v.kind != ':' || v.num != 1 {
		return fmt.Errorf("ROUTE.DONE %s: expected 1 (the lease was open), got %s", lease, v)
	}
	if status < 400 {
		// Settled in another minute than the pick's: the daemon adds the actual tokens to the
		// minute of the DONE, uncapped. Record them (in both candidate minutes when unsure) so
		// the ROUTE.LIST check allows for them.
		d0, d1 := (t2.UnixMilli()-minuteMarginMs)/60_000, (t3.UnixMilli()+minuteMarginMs)/60_000
		t.mu.Lock()
		for dm := d0; dm <= d1; dm++ {
			if dm != minute {
				t.crossMinute[dm] += actual
			}
		}
		t.mu.Unlock()
	}
	return nil
}

type deploymentResult struct {
	ID            string           `json:"id"`
	RPM           int64            `json:"rpm"`
	TPM           int64            `json:"tpm"`
	MaxParallel   int64            `json:"max_parallel_requests"`
	Picks         int64            `json:"picks"`
	MaxHolding    int64            `json:"max_holding"`
	MaxMinutePick int64            `json:"max_picks_in_a_minute"`
	MaxMinuteTok  int64            `json:"max_tokens_in_a_minute"`
	Ambiguous     int64            `json:"picks_near_minute_edge"`
	ByStatus      map[string]int64 `json:"by_status"`
	ListInFlight  int64            `json:"list_in_flight"`
	ListRPMUsed   int64            `json:"list_rpm_used"`
	ListTPMUsed   int64            `json:"list_tpm_used"`
}

// audit compares what the loadgen saw and what ROUTE.LIST says (rows) with each deployment's
// limits; every problem found is one line.
func (g *gatewayRouteScenario) audit(rows []map[string]value, nowMinute int64) ([]deploymentResult, map[int]int64, []string) {
	var problems []string
	var deployments []deploymentResult
	statuses := map[int]int64{}
	listed := map[string]bool{}
	for _, r := range rows {
		id := r["id"].str
		listed[id] = true
		lim, known := g.limits[id]
		if !known {
			problems = append(problems, fmt.Sprintf("ROUTE.LIST lists %q, which was not there after ROUTE.SET", id))
			continue
		}
		t := g.track(id)
		t.mu.Lock()
		d := deploymentResult{ID: id, RPM: lim.rpm, TPM: lim.tpm, MaxParallel: lim.maxParallel, Picks: t.picks, MaxHolding: t.maxHolding, Ambiguous: t.ambiguous, ByStatus: map[string]int64{}}
		for s, n := range t.byStatus {
			d.ByStatus[strconv.Itoa(s)] = n
			statuses[s] += n
		}
		minutes := make([]int64, 0, len(t.perMinute))
		for m := range t.perMinute {
			minutes = append(minutes, m)
		}
		sort.Slice(minutes, func(a, b int) bool { return minutes[a] < minutes[b] })
		for _, m := range minutes {
			u := t.perMinute[m]
			d.MaxMinutePick = max(d.MaxMinutePick, u.picks)
			d.MaxMinuteTok = max(d.MaxMinuteTok, u.tokens)
			if lim.rpm > 0 && u.picks > lim.rpm {
				problems = append(problems, fmt.Sprintf("%s: %d picks in minute %d > rpm %d", id, u.picks, m, lim.rpm))
			}
			if lim.tpm > 0 && u.tokens > lim.tpm {
				problems = append(problems, fmt.Sprintf("%s: %d tokens in minute %d > tpm %d", id, u.tokens, m, lim.tpm))
			}
		}
		if lim.maxParallel > 0 && t.maxHolding > lim.maxParallel {
			problems = append(problems, fmt.Sprintf("%s: %d leases held at once > max_parallel_requests %d", id, t.maxHolding, lim.maxParallel))
		}
		crossAllowance := max(t.crossMinute[nowMinute], t.crossMinute[nowMinute-1])
		t.mu.Unlock()
		d.ListInFlight, _ = r["in_flight"].asInt()
		d.ListRPMUsed, _ = r["rpm_used"].asInt()
		d.ListTPMUsed, _ = r["tpm_used"].asInt()
		if d.ListInFlight != 0 {
			problems = append(problems, fmt.Sprintf("%s: ROUTE.LIST in_flight %d after every lease was done", id, d.ListInFlight))
		}
		if lim.rpm > 0 && d.ListRPMUsed > lim.rpm {
			problems = append(problems, fmt.Sprintf("%s: ROUTE.LIST rpm_used %d > rpm %d", id, d.ListRPMUsed, lim.rpm))
		}
		if lim.tpm > 0 && d.ListTPMUsed > lim.tpm+crossAllowance {
			problems = append(problems, fmt.Sprintf("%s: ROUTE.LIST tpm_used %d > tpm %d (+%d settled across a minute edge)", id, d.ListTPMUsed, lim.tpm, crossAllowance))
		}
		deployments = append(deployments, d)
	}
	for id := range g.limits {
		if !listed[id] {
			problems = append(problems, fmt.Sprintf("ROUTE.LIST no longer lists %q", id))
		}
	}
	sort.Strings(problems)
	return deployments, statuses, problems
}

func (g *gatewayRouteScenario) finish(c *conn, elapsed time.Duration, res *result) error {
	rows, err := g.list(c)
	if err != nil {
		return err
	}
	deployments, statuses, problems := g.audit(rows, time.Now().UnixMilli()/60_000)
	refusedTotal := g.refusals.Load()
	g.refused.Range(func(k, v any) bool {
		res.Counters[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	res.Counters["picked"] = g.picked.Load()
	res.Counters["refused"] = refusedTotal
	for s, n := range statuses {
		res.Counters["done status "+strconv.Itoa(s)] = n
	}
	res.Routes = deployments

	detail := fmt.Sprintf("%d deployments, %d picks, %d refused; per deployment most leases held at once, picks and tokens per minute, and ROUTE.LIST (in_flight 0, rpm_used, tpm_used) within max_parallel_requests, rpm, tpm", len(deployments), g.picked.Load(), refusedTotal)
	if len(problems) > 0 {
		detail = strings.Join(problems, "; ")
	}
	res.Checks = append(res.Checks, check{Name: "no deployment's rpm, tpm or max parallel limit was exceeded", Passed: len(problems) == 0 && g.picked.Load() > 0, Detail: detail})
	// Without refusals the limits never bound and the check above proved nothing.
	res.Checks = append(res.Checks, check{Name: "limits were reached (some picks refused)", Passed: refusedTotal > 0,
		Detail: fmt.Sprintf("%d of %d picks refused", refusedTotal, refusedTotal+g.picked.Load())})
	return nil
}
