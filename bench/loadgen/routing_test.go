package main

import (
	"strings"
	"testing"
	"time"
)

func listRow(id string, inFlight, rpmUsed, tpmUsed int64) map[string]value {
	return map[string]value{
		"id":        {kind: '$', str: id},
		"in_flight": {kind: ':', num: inFlight},
		"rpm_used":  {kind: ':', num: rpmUsed},
		"tpm_used":  {kind: ':', num: tpmUsed},
	}
}

func scenarioWith(l routeLimits) *gatewayRouteScenario {
	return &gatewayRouteScenario{limits: map[string]routeLimits{"d1": l}}
}

func TestAuditPassesAtTheLimits(t *testing.T) {
	g := scenarioWith(routeLimits{rpm: 3, tpm: 100, maxParallel: 2})
	tr := g.track("d1")
	tr.perMinute[7] = &minuteUse{picks: 3, tokens: 100}
	tr.maxHolding = 2
	_, _, problems := g.audit([]map[string]value{listRow("d1", 0, 3, 100)}, 7)
	if len(problems) != 0 {
		t.Fatalf("limits reached but not exceeded, got problems %q", problems)
	}
}

func TestAuditFindsEveryExceededLimit(t *testing.T) {
	g := scenarioWith(routeLimits{rpm: 3, tpm: 100, maxParallel: 2})
	tr := g.track("d1")
	tr.perMinute[7] = &minuteUse{picks: 4, tokens: 101}
	tr.maxHolding = 3
	_, _, problems := g.audit([]map[string]value{listRow("d1", 1, 4, 101)}, 7)
	want := []string{"picks in minute 7 > rpm 3", "tokens in minute 7 > tpm 100", "leases held at once > max_parallel_requests 2",
		"in_flight 1", "rpm_used 4 > rpm 3", "tpm_used 101 > tpm 100"}
	if len(problems) != len(want) {
		t.Fatalf("want %d problems, got %q", len(want), problems)
	}
	all := strings.Join(problems, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no problem says %q in %q", w, problems)
		}
	}
}

func TestAuditAllowsTokensSettledAcrossAMinuteEdge(t *testing.T) {
	g := scenarioWith(routeLimits{tpm: 100})
	g.track("d1").crossMinute[8] = 20
	if _, _, p := g.audit([]map[string]value{listRow("d1", 0, 0, 120)}, 8); len(p) != 0 {
		t.Fatalf("120 <= 100 + 20 settled across the edge, got %q", p)
	}
	if _, _, p := g.audit([]map[string]value{listRow("d1", 0, 0, 121)}, 8); len(p) != 1 {
		t.Fatalf("121 > 100 + 20, want one problem, got %q", p)
	}
}

func TestAuditNoticesMissingAndUnknownDeployments(t *testing.T) {
	g := scenarioWith(routeLimits{rpm: 3})
	_, _, problems := g.audit([]map[string]value{listRow("d9", 0, 0, 0)}, 1)
	if len(problems) != 2 {
		t.Fatalf("want a problem for d9 (unknown) and d1 (gone), got %q", problems)
	}
}

func TestMinuteOfLeavesOutPicksNearAnEdge(t *testing.T) {
	edge := time.UnixMilli(60_000 * 1000)
	if m := minuteOf(edge.Add(-10*time.Second), edge.Add(-9*time.Second)); m != 999 {
		t.Errorf("well inside minute 999, got %d", m)
	}
	if m := minuteOf(edge.Add(-200*time.Millisecond), edge.Add(-100*time.Millisecond)); m != -1 {
		t.Errorf("100 ms before the edge, got %d, want -1", m)
	}
	if m := minuteOf(edge.Add(100*time.Millisecond), edge.Add(200*time.Millisecond)); m != -1 {
		t.Errorf("100 ms after the edge, got %d, want -1", m)
	}
	if m := minuteOf(edge.Add(-time.Second), edge.Add(time.Second)); m != -1 {
		t.Errorf("straddling the edge, got %d, want -1", m)
	}
}

func TestParseMix(t *testing.T) {
	mix, err := parseMix("200:3,429:1")
	if err != nil || len(mix) != 2 || mix[0].share != 0.75 || mix[1].status != 429 {
		t.Fatalf("got %v %v", mix, err)
	}
	for _, bad := range []string{"", "200", "200:x", "200:-1", "200:0"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestFieldsReadsAFlatMap(t *testing.T) {
	v := value{kind: '*', arr: []value{{kind: '$', str: "lease"}, {kind: '$', str: "{g}:1"}, {kind: '$', str: "tokens"}, {kind: ':', num: 5}}}
	f, err := fields(v)
	if err != nil || f["lease"].str != "{g}:1" || f["tokens"].num != 5 {
		t.Fatalf("got %v %v", f, err)
	}
	if _, err := fields(value{kind: '*', arr: []value{{kind: '$', str: "odd"}}}); err == nil {
		t.Fatal("an odd-length array is not a map")
	}
}
