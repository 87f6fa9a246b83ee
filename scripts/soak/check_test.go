package main

import (
	"slices"
	"strings"
	"testing"
)

func TestReconcile(t *testing.T) {
	t.Parallel()
	create := func(id, key, body string, order int) Ack {
		return Ack{ID: id, Key: key, Body: body, Op: "create", Via: "rest", Order: order}
	}
	update := func(id, body string, order int) Ack {
		return Ack{ID: id, Body: body, Op: "update", Via: "rest", Order: order}
	}
	tests := []struct {
		name      string
		acks      []Ack
		rows      []Row
		uncertain map[string]bool
		ok        bool
		lost      int
		dup       int
		mismatch  int
		unacked   int
		uncert    int
	}{
		{name: "every write stored once", ok: true,
			acks: []Ack{create("a1", "k1", "one", 1), create("a2", "k2", "two", 2)},
			rows: []Row{{ID: "a1", Key: "k1", Body: "one"}, {ID: "a2", Key: "k2", Body: "two"}}},
		{name: "an acknowledged create is missing", lost: 1,
			acks: []Ack{create("a1", "k1", "one", 1), create("a2", "k2", "two", 2)},
			rows: []Row{{ID: "a1", Key: "k1", Body: "one"}}},
		{name: "an acknowledged create was deleted", lost: 1,
			acks: []Ack{create("a1", "k1", "one", 1)},
			rows: []Row{{ID: "a1", Key: "k1", Body: "one", Deleted: true}}},
		{name: "a retried create stored twice under one key", dup: 1, unacked: 0,
			acks: []Ack{create("a1", "k1", "one", 1)},
			rows: []Row{{ID: "a1", Key: "k1", Body: "one"}, {ID: "a9", Key: "k1", Body: "one"}}},
		{name: "the last acknowledged edit wins", ok: true,
			acks: []Ack{create("a1", "k1", "one", 1), update("a1", "edit 1", 2), update("a1", "edit 2", 3)},
			rows: []Row{{ID: "a1", Key: "k1", Body: "edit 2"}}},
		{name: "an acknowledged edit is missing", mismatch: 1,
			acks: []Ack{create("a1", "k1", "one", 1), update("a1", "edit 1", 2)},
			rows: []Row{{ID: "a1", Key: "k1", Body: "one"}}},
		{name: "an unanswered edit makes the body uncertain", ok: true, uncert: 1,
			acks:      []Ack{create("a1", "k1", "one", 1)},
			rows:      []Row{{ID: "a1", Key: "k1", Body: "edit never answered"}},
			uncertain: map[string]bool{"a1": true}},
		{name: "a stored create whose ack never came is allowed", ok: true, unacked: 1,
			acks: []Ack{create("a1", "k1", "one", 1)},
			rows: []Row{{ID: "a1", Key: "k1", Body: "one"}, {ID: "a2", Key: "k2", Body: "two"}}},
		{name: "nothing written, nothing stored", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Reconcile(tt.acks, tt.rows, tt.uncertain)
			if r.OK() != tt.ok || len(r.Lost) != tt.lost || len(r.Duplicated) != tt.dup || len(r.Mismatched) != tt.mismatch ||
				r.Unacked != tt.unacked || r.Uncertain != tt.uncert {
				t.Errorf("got ok=%v lost=%v dup=%v mismatch=%v unacked=%d uncertain=%d",
					r.OK(), r.Lost, r.Duplicated, r.Mismatched, r.Unacked, r.Uncertain)
			}
		})
	}
}

func TestReconcileNamesTheLost(t *testing.T) {
	t.Parallel()
	r := Reconcile([]Ack{{ID: "b", Key: "kb", Op: "create"}, {ID: "a", Key: "ka", Op: "create"}}, nil, nil)
	if !slices.Equal(r.Lost, []string{"a", "b"}) || r.Annotations != 2 || r.Acked != 2 {
		t.Fatalf("got %+v", r)
	}
}

func TestJudgeResources(t *testing.T) {
	t.Parallel()
	base := Sample{Goroutines: 40, HeapInuse: 20 << 20, HeapAlloc: 10 << 20}
	tests := []struct {
		name           string
		final          Sample
		metric         string
		goroutines, hp bool
	}{
		{"steady", Sample{Goroutines: 40, HeapInuse: 20 << 20, HeapAlloc: 10 << 20}, "alloc", true, true},
		{"smaller at the end", Sample{Goroutines: 30, HeapInuse: 15 << 20, HeapAlloc: 8 << 20}, "alloc", true, true},
		{"within the slack and tolerance", Sample{Goroutines: 45, HeapAlloc: 11 << 20}, "alloc", true, true},
		{"goroutines grew", Sample{Goroutines: 46, HeapAlloc: 10 << 20}, "alloc", false, true},
		{"heap alloc grew 11 %", Sample{Goroutines: 40, HeapAlloc: 10 << 20 * 111 / 100}, "alloc", true, false},
		{"in use grew, judged on alloc", Sample{Goroutines: 40, HeapInuse: 30 << 20, HeapAlloc: 10 << 20}, "alloc", true, true},
		{"in use grew, judged on in use", Sample{Goroutines: 40, HeapInuse: 30 << 20, HeapAlloc: 10 << 20}, "inuse", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := JudgeResources(base, tt.final, 5, 0.10, tt.metric)
			if r.GoroutinesOK != tt.goroutines || r.HeapOK != tt.hp || r.OK() != (tt.goroutines && tt.hp) {
				t.Errorf("got goroutines ok %v, heap ok %v", r.GoroutinesOK, r.HeapOK)
			}
		})
	}
	if r := JudgeResources(Sample{}, Sample{}, 5, 0.1, "alloc"); r.HeapOK {
		t.Error("a missing base heap passed")
	}
}

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
go_gc_duration_seconds{quantile="0.5"} 0.0001
go_gc_duration_seconds_sum 0.01
go_gc_duration_seconds_count 17
go_memstats_heap_alloc_bytes 1.048576e+07
go_memstats_heap_inuse_bytes 2.097152e+07
filmroom_live_rooms 3
`
	s, err := ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if s != (Sample{Goroutines: 42, HeapInuse: 20 << 20, HeapAlloc: 10 << 20, GCCount: 17}) {
		t.Fatalf("got %+v", s)
	}
	if _, err := ParseMetrics(strings.NewReader("go_goroutines 1\n")); err == nil {
		t.Fatal("metrics without the heap series were accepted")
	}
}
