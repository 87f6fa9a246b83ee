package annotations

import "testing"

func TestRenderBody(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"plain", "<p>plain</p>"},
		{"**bold** and *em* and `a<b`", "<p><strong>bold</strong> and <em>em</em> and <code>a&lt;b</code></p>"},
		{"<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{"<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"},
		{"[site](https://example.org/a?b=1&c=2)", `<p><a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">site</a></p>`},
		{"[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"},
		{`[x](https://e.org/"onmouseover=alert(1))`, "<p>[x](https://e.org/&#34;onmouseover=alert(1))</p>"},
		{"[**b**](http://e.org)", `<p><a href="http://e.org" rel="nofollow noopener noreferrer"><strong>b</strong></a></p>`},
		{"- one\n- two\n\n1. first\n2. second", "<ul><li>one</li><li>two</li></ul><ol><li>first</li><li>second</li></ol>"},
		{"line one\nline two\n\nnext", "<p>line one<br>line two</p><p>next</p>"},
		{"unclosed **bold and `code", "<p>unclosed **bold and `code</p>"},
		{"a * b * c", "<p>a * b * c</p>"},
		{"&amp; \"quotes\" 'apos'", "<p>&amp;amp; &#34;quotes&#34; &#39;apos&#39;</p>"},
		{"", ""},
	}
	for _, c := range cases {
		if got := RenderBody(c.in); got != c.want {
			t.Errorf("RenderBody(%q)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

func TestParseNPTAndFragments(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{{"12.5", 12500, true}, {"0", 0, true}, {"1:02:03.25", 3723250, true}, {"2:05", 125000, true}, {"-1", 0, false}, {"1e3", 0, false}, {"abc", 0, false}, {"1.5:00", 0, false}} {
		got, err := parseNPT(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseNPT(%q) = %d, %v", c.in, got, err)
		}
	}
	for ms, want := range map[int64]string{0: "0", 12500: "12.5", 20000: "20", 1: "0.001", 61010: "61.01"} {
		if got := seconds(ms); got != want {
			t.Errorf("seconds(%d) = %q, want %q", ms, got, want)
		}
	}
}
