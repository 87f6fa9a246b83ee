package annotations

import (
	"context"
	"errors"
	"testing"
)

func TestViewCacheStaysWithinItsBound(t *testing.T) {
	t.Parallel()
	c := newViewCache(1000)
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		c.put(k, i, 240)
	}
	if c.size > 1000 {
		t.Fatalf("size %d over the bound", c.size)
	}
	if _, ok := c.get("a"); ok {
		t.Fatal("the least recently used entry survived")
	}
	c.get("b") // b is now the most recently used
	c.put("f", 5, 240)
	if _, ok := c.get("b"); !ok {
		t.Fatal("a recently used entry was evicted")
	}
	if _, ok := c.get("c"); ok {
		t.Fatal("c should have been evicted before b")
	}
	c.put("huge", 5, 600)
	if _, ok := c.get("huge"); ok {
		t.Fatal("an entry over a quarter of the bound was cached")
	}
}

func TestViewCacheDoesNotKeepErrors(t *testing.T) {
	t.Parallel()
	c := newViewCache(1 << 20)
	ctx := context.Background()
	calls := 0
	fail := errors.New("database gone")
	compute := func(context.Context) (any, int64, error) {
		calls++
		if calls == 1 {
			return nil, 0, fail
		}
		return "ok", 10, nil
	}
	if _, err := c.load(ctx, "k", compute); !errors.Is(err, fail) {
		t.Fatalf("first load = %v", err)
	}
	for range 2 {
		if v, err := c.load(ctx, "k", compute); err != nil || v != "ok" {
			t.Fatalf("load = %v, %v", v, err)
		}
	}
	if calls != 2 {
		t.Fatalf("computed %d times, want 2 (the error is retried, the value kept)", calls)
	}
}
