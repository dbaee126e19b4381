package elevcode

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary text and clocks to Parse and Verify: they must
// not panic, must fail with one of the sentinel errors, and whatever parses
// must format back to the same code.
func FuzzVerify(f *testing.F) {
	valid, err := Issue(testSecret, Claims{DeviceID: "dev-1", User: "alice", Duration: time.Hour, IssuedAt: t0, Nonce: 3})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{valid, strings.ToLower(valid), "", "0000-0000-0000", "ZZZZ-ZZZZ-ZZZZ", "oooo-iiii-llll", "U", "----", "ÄÖÜ", valid + "X", "\x00\xff"} {
		f.Add(s, t0.Unix(), "alice")
	}
	f.Add(valid, int64(0), "")
	f.Add(valid, int64(-1<<62), "bob")
	f.Fuzz(func(t *testing.T, code string, nowUnix int64, user string) {
		c, perr := Parse(code)
		if perr == nil {
			back, err := Parse(c.String())
			if err != nil || back != c {
				t.Fatalf("Parse(%q) = %+v, reparse %+v %v", code, c, back, err)
			}
		} else if !errors.Is(perr, ErrMalformed) {
			t.Fatalf("Parse error %v is not ErrMalformed", perr)
		}
		g, err := Verify(testSecret, "dev-1", user, code, time.Unix(nowUnix, 0), 0)
		switch {
		case err == nil:
			if perr != nil || g.Key == "" || g.Duration <= 0 || g.Duration > MaxDuration {
				t.Fatalf("Verify accepted %q: %+v (parse err %v)", code, g, perr)
			}
		case errors.Is(err, ErrMalformed), errors.Is(err, ErrBadCode), errors.Is(err, ErrExpired):
		default:
			t.Fatalf("Verify(%q) = unexpected error %v", code, err)
		}
	})
}
