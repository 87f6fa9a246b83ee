package annotations

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"strings"

	"github.com/filmroom/filmroom/internal/sqldb"
)

// RenderBody turns an annotation body written in our small Markdown subset
// into HTML that is safe to insert into a page. It is an escaping renderer:
// every character of the input is escaped, and only the constructs below
// produce tags, so no HTML written by a user ever reaches a browser.
//
// Supported: paragraphs (blank line), line breaks, "- ", "* " and "1. "
// lists, **bold**, *emphasis*, `code`, and [text](url) links whose URL is
// http or https (anything else stays literal text).
func RenderBody(src string) string {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	lines := strings.Split(src, "\n")
	var b strings.Builder
	var para []string
	listKind := "" // "ul" or "ol" while inside a list
	flushPara := func() {
		if len(para) == 0 {
			return
		}
		b.WriteString("<p>")
		for i, l := range para {
			if i > 0 {
				b.WriteString("<br>")
			}
			b.WriteString(renderInline(l))
		}
		b.WriteString("</p>")
		para = para[:0]
	}
	closeList := func() {
		if listKind != "" {
			b.WriteString("</" + listKind + ">")
			listKind = ""
		}
	}
	for _, line := range lines {
		trim := strings.TrimSpace(line)
		if trim == "" {
			flushPara()
			closeList()
			continue
		}
		kind, item := listItem(trim)
		if kind != "" {
			flushPara()
			if listKind != kind {
				closeList()
				b.WriteString("<" + kind + ">")
				listKind = kind
			}
			b.WriteString("<li>" + renderInline(item) + "</li>")
			continue
		}
		closeList()
		para = append(para, trim)
	}
	flushPara()
	closeList()
	return b.String()
}

// PlainText turns a body into plain text for places that show no markup,
// such as WebVTT chapter titles: what RenderBody would format loses its
// markers (a link keeps its text), and everything else stays as written.
// It strips RenderBody's own output so the two always agree on what is
// Markdown: RenderBody escapes every "<" of the input, so each "<" in its
// output opens a tag it wrote, and no ">" occurs inside one (attribute
// values are escaped too).
func PlainText(src string) string {
	h := RenderBody(src)
	var b strings.Builder
	for {
		lt := strings.IndexByte(h, '<')
		if lt < 0 {
			b.WriteString(h)
			break
		}
		b.WriteString(h[:lt])
		gt := strings.IndexByte(h[lt:], '>')
		if gt < 0 { // cannot happen, see above; keep the rest rather than lose it
			b.WriteString(h[lt:])
			break
		}
		// Paragraphs, line breaks and list items end a run of words.
		switch h[lt : lt+gt+1] {
		case "</p>", "<br>", "</li>":
			b.WriteByte(' ')
		}
		h = h[lt+gt+1:]
	}
	return strings.TrimSpace(html.UnescapeString(b.String()))
}

// listItem recognises "- x", "* x", "+ x" and "12. x".
func listItem(line string) (kind, rest string) {
	if len(line) >= 2 && (line[0] == '-' || line[0] == '*' || line[0] == '+') && line[1] == ' ' {
		return "ul", strings.TrimSpace(line[2:])
	}
	i := 0
	for i < len(line) && i < 9 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i > 0 && i+1 < len(line) && line[i] == '.' && line[i+1] == ' ' {
		return "ol", strings.TrimSpace(line[i+2:])
	}
	return "", ""
}

func renderInline(s string) string {
	var b strings.Builder
	inline(&b, s, true)
	return b.String()
}

// inline renders s; links are not allowed inside link text.
func inline(b *strings.Builder, s string, links bool) {
	for i := 0; i < len(s); {
		switch {
		case s[i] == '`':
			if j := strings.IndexByte(s[i+1:], '`'); j > 0 {
				b.WriteString("<code>" + html.EscapeString(s[i+1:i+1+j]) + "</code>")
				i += j + 2
				continue
			}
		case s[i] == '[' && links:
			if text, href, n, ok := link(s[i:]); ok {
				b.WriteString(`<a href="` + html.EscapeString(href) + `" rel="nofollow noopener noreferrer">`)
				inline(b, text, false)
				b.WriteString("</a>")
				i += n
				continue
			}
		case strings.HasPrefix(s[i:], "**"):
			if j := strings.Index(s[i+2:], "**"); j > 0 {
				b.WriteString("<strong>")
				inline(b, s[i+2:i+2+j], links)
				b.WriteString("</strong>")
				i += j + 4
				continue
			}
		case s[i] == '*' && i+1 < len(s) && s[i+1] != ' ':
			if j := strings.IndexByte(s[i+1:], '*'); j > 0 {
				b.WriteString("<em>")
				inline(b, s[i+1:i+1+j], links)
				b.WriteString("</em>")
				i += j + 2
				continue
			}
		}
		// Copy up to the next character that might start markup, escaped.
		j := i + 1
		for j < len(s) && !strings.ContainsRune("`[*", rune(s[j])) {
			j++
		}
		b.WriteString(html.EscapeString(s[i:j]))
		i = j
	}
}

// link parses "[text](url)" at the start of s and returns its parts and
// length; only absolute http(s) URLs qualify.
func link(s string) (text, href string, n int, ok bool) {
	close := strings.Index(s, "](")
	if close <= 1 {
		return "", "", 0, false
	}
	end := strings.IndexByte(s[close+2:], ')')
	if end <= 0 {
		return "", "", 0, false
	}
	text = s[1:close]
	href = strings.TrimSpace(s[close+2 : close+2+end])
	if strings.ContainsAny(text, "[]") || strings.ContainsAny(href, " \t<>\"'") {
		return "", "", 0, false
	}
	u, err := url.Parse(href)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", 0, false
	}
	return text, u.String(), close + 2 + end + 1, true
}

// backfillBatch is how many bodies one backfill transaction renders.
const backfillBatch = 500

// BackfillBodyHTML renders and stores body_html for annotations written
// before it was stored (migration 0007), in batches of backfillBatch rows,
// and returns how many it rendered. Reads stay correct without it (they
// render a missing body_html themselves), only slower, so it can run at
// any time, also while the server serves: a row whose body changed
// meanwhile already has its body_html and is skipped.
func (s *Service) BackfillBodyHTML(ctx context.Context) (int, error) {
	total := 0
	for {
		type row struct{ id, body string }
		var batch []row
		rows, err := s.db.Reader().Query(ctx, `SELECT id, body FROM annotations WHERE body_html IS NULL LIMIT ?`, backfillBatch)
		if err != nil {
			return total, fmt.Errorf("backfill body_html: %w", err)
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.body); err != nil {
				rows.Close()
				return total, fmt.Errorf("backfill body_html: %w", err)
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("backfill body_html: %w", err)
		}
		if len(batch) == 0 {
			return total, nil
		}
		err = s.db.Tx(ctx, func(q sqldb.Q) error {
			for _, r := range batch {
				// body = ? keeps a concurrent edit's own rendering.
				if _, err := q.Exec(ctx, `UPDATE annotations SET body_html = ? WHERE id = ? AND body = ? AND body_html IS NULL`,
					RenderBody(r.body), r.id, r.body); err != nil {
					return fmt.Errorf("backfill body_html of %s: %w", r.id, err)
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(batch)
		if len(batch) < backfillBatch {
			return total, nil
		}
	}
}
