package live

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/filmroom/filmroom/internal/apperr"
)

func TestDecodeClientMessage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw  string
		typ  string
		code string // "" when valid
	}{
		{`{"type":"hello","v":1}`, MsgHello, ""},
		{`{"type":"hello","v":1,"since":12}`, MsgHello, ""},
		{`{"type":"hello"}`, "", "invalid_input"},
		{`{"type":"hello","v":1,"since":-1}`, "", "invalid_input"},
		{`{"type":"ping","t":5}`, MsgPing, ""},
		{`{"type":"annotation.create","ref":"r1","body":{"text":"x"}}`, MsgAnnotationCreate, ""},
		{`{"type":"annotation.create","body":[1]}`, "", "invalid_input"},
		{`{"type":"annotation.update","id":"a","body":{}}`, MsgAnnotationUpdate, ""},
		{`{"type":"annotation.delete"}`, "", "invalid_input"},
		{`{"type":"sync.seek","position_ms":100,"at_ms":5}`, MsgSyncSeek, ""},
		{`{"type":"sync.seek","position_ms":-1}`, "", "invalid_input"},
		{`{"type":"sync.rate","rate":9}`, "", "invalid_input"},
		{`{"type":"sync.rate","rate":0.5}`, MsgSyncRate, ""},
		{`{"type":"sync.end","rate":1}`, "", "invalid_input"},
		{`{"type":"pointer","x":0,"y":1}`, MsgPointer, ""},
		{`{"type":"pointer","x":0}`, "", "invalid_input"},
		{`{"type":"nope"}`, "", "unknown_type"},
		{`{"type":"ping","t":1}{"type":"ping","t":1}`, "", "invalid_json"},
		{`{"type":"ping","t":1,"extra":true}`, "", "invalid_input"},
		{`{}`, "", "invalid_input"},
		{`null`, "", "invalid_input"},
		{``, "", "invalid_json"},
		{`{"type":"ping","t":"soon"}`, "", "invalid_input"},
	}
	for _, tc := range cases {
		m, err := DecodeClientMessage([]byte(tc.raw))
		if tc.code == "" {
			if err != nil || m.Type != tc.typ {
				t.Errorf("%s: %+v, %v", tc.raw, m, err)
			}
			continue
		}
		if code := errCode(err); code != tc.code {
			t.Errorf("%s: error %v (code %q), want code %q", tc.raw, err, code, tc.code)
		}
	}
}

func errCode(err error) string {
	var v *apperr.Validation
	if errors.As(err, &v) {
		return "invalid_input"
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// FuzzDecodeClientMessage: the decoder never panics, every failure is a
// typed error a client can be told, and what it accepts survives a round
// trip.
func FuzzDecodeClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","v":1,"since":3}`, `{"type":"ping","t":1}`, `{"type":"sync.seek","position_ms":5,"ref":"x"}`,
		`{"type":"annotation.create","body":{"text":"hi"}}`, `{"type":"pointer","x":0.5,"y":0.5}`, `{"type":`, `[]`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeClientMessage(data)
		if err != nil {
			if errCode(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := DecodeClientMessage(b)
		if err != nil || m2.Type != m.Type || m2.Ref != m.Ref {
			t.Fatalf("round trip of %s: %+v, %v", b, m2, err)
		}
	})
}
