package main

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Ack is one annotation write the server acknowledged (a 200/201 REST
// answer, or a websocket ack): after it, the write must be in the database.
type Ack struct {
	ID    string // annotation id from the answer
	Key   string // idempotency key the driver sent (one per logical create)
	Body  string // body the write set
	Via   string // "rest" or "ws"
	Op    string // "create" or "update"
	Order int    // order of acknowledgement, to find the last write of an id
}

// Row is one annotation as the database holds it.
type Row struct {
	ID      string
	Key     string
	Body    string
	Deleted bool
}

// Reconciliation is the verdict on acknowledged annotation writes.
type Reconciliation struct {
	Acked       int      // acknowledged writes
	Annotations int      // distinct annotations those writes made
	Lost        []string // acknowledged, but missing (or deleted) in the database
	Duplicated  []string // one logical create stored more than once (same idempotency key)
	Mismatched  []string // present, but its body is not the last acknowledged one
	Unacked     int      // rows from the driver whose create was never acknowledged (allowed)
	// Uncertain ids had an update sent whose answer never came: their body
	// may be either version, so only their presence is checked.
	Uncertain int
}

// OK reports whether nothing acknowledged was lost, duplicated or changed.
func (r Reconciliation) OK() bool {
	return len(r.Lost) == 0 && len(r.Duplicated) == 0 && len(r.Mismatched) == 0
}

// Reconcile compares the driver's acknowledged writes with the rows the
// database holds. rows must be every annotation of the soak's clips whose
// idempotency key starts with the driver's prefix (rows of other writers are
// ignored by the caller). uncertain names ids whose last update went
// unanswered.
func Reconcile(acks []Ack, rows []Row, uncertain map[string]bool) Reconciliation {
	var r Reconciliation
	r.Acked = len(acks)
	last := map[string]Ack{} // id -> last acknowledged write
	ackedKeys := map[string]bool{}
	for _, a := range acks {
		if p, ok := last[a.ID]; !ok || a.Order > p.Order {
			last[a.ID] = a
		}
		if a.Op == "create" {
			ackedKeys[a.Key] = true
		}
	}
	r.Annotations = len(last)
	byID := map[string][]Row{}
	byKey := map[string][]Row{}
	for _, row := range rows {
		byID[row.ID] = append(byID[row.ID], row)
		if row.Key != "" {
			byKey[row.Key] = append(byKey[row.Key], row)
		}
	}
	for id, a := range last {
		found := byID[id]
		switch {
		case len(found) == 0:
			r.Lost = append(r.Lost, id)
			continue
		case len(found) > 1:
			r.Duplicated = append(r.Duplicated, id)
			continue
		case found[0].Deleted:
			r.Lost = append(r.Lost, id+" (deleted)")
			continue
		}
		if uncertain[id] {
			r.Uncertain++
		} else if found[0].Body != a.Body {
			r.Mismatched = append(r.Mismatched, fmt.Sprintf("%s: want %q, have %q", id, a.Body, found[0].Body))
		}
	}
	for k, rs := range byKey {
		if len(rs) > 1 {
			r.Duplicated = append(r.Duplicated, fmt.Sprintf("key %s stored %d times", k, len(rs)))
		}
		if !ackedKeys[k] {
			r.Unacked++
		}
	}
	sort.Strings(r.Lost)
	sort.Strings(r.Duplicated)
	sort.Strings(r.Mismatched)
	return r
}

// Sample is what the driver reads from the server's /metrics after a
// settle.
type Sample struct {
	Goroutines float64
	HeapInuse  float64
	HeapAlloc  float64
	GCCount    float64
}

// ParseMetrics reads the few Go runtime series the soak needs from a
// Prometheus text exposition.
func ParseMetrics(r io.Reader) (Sample, error) {
	var s Sample
	seen := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "go_goroutines":
			dst = &s.Goroutines
		case "go_memstats_heap_inuse_bytes":
			dst = &s.HeapInuse
		case "go_memstats_heap_alloc_bytes":
			dst = &s.HeapAlloc
		case "go_gc_duration_seconds_count":
			dst = &s.GCCount
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return s, fmt.Errorf("metric %s: %w", name, err)
		}
		*dst = v
		seen++
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if seen < 4 {
		return s, fmt.Errorf("metrics: found %d of go_goroutines, go_memstats_heap_inuse_bytes, go_memstats_heap_alloc_bytes, go_gc_duration_seconds_count", seen)
	}
	return s, nil
}

// Resources is the verdict on goroutines and heap: the final settled sample
// against the post-warm-up one.
type Resources struct {
	Base, Final    Sample
	GoroutineSlack float64 // goroutines allowed above the base
	HeapTolerance  float64 // fraction of the base heap allowed above it
	HeapMetric     string  // "alloc" or "inuse": which figure is judged
	GoroutinesOK   bool
	HeapOK         bool
}

// JudgeResources applies the soak's rule: no goroutine growth (beyond a
// small slack for connections the runtime still winds down) and the heap
// within tolerance (0.10: 10 %) of the post-warm-up level. metric "alloc"
// judges the live heap after a collection (what a leak grows); "inuse"
// judges bytes in in-use spans, which also moves with fragmentation.
func JudgeResources(base, final Sample, goroutineSlack, heapTolerance float64, metric string) Resources {
	b, f := base.HeapAlloc, final.HeapAlloc
	if metric == "inuse" {
		b, f = base.HeapInuse, final.HeapInuse
	}
	return Resources{
		Base: base, Final: final, GoroutineSlack: goroutineSlack, HeapTolerance: heapTolerance, HeapMetric: metric,
		GoroutinesOK: final.Goroutines <= base.Goroutines+goroutineSlack,
		HeapOK:       b > 0 && f <= b*(1+heapTolerance),
	}
}

// OK reports whether both resource checks passed.
func (r Resources) OK() bool { return r.GoroutinesOK && r.HeapOK }
