package wire

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeInput checks that DecodeInput never panics, only fails with the
// package's sentinel errors, and that whatever it accepts re-encodes to a
// message that decodes to the same Input and re-encodes byte for byte.
// The seed corpus lives in testdata/fuzz/FuzzDecodeInput and runs with go test.
func FuzzDecodeInput(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := DecodeInput(data)
		if err != nil {
			if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrMalformed) &&
				!errors.Is(err, ErrVersion) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeInput error %v wraps no sentinel", err)
			}
			return
		}
		b, err := EncodeInput(in)
		if err != nil {
			t.Fatalf("EncodeInput(%+v) of a decoded input: %v", in, err)
		}
		if len(b) > MaxInputSize {
			t.Fatalf("EncodeInput made %d bytes", len(b))
		}
		again, err := DecodeInput(b)
		if err != nil {
			t.Fatalf("DecodeInput(EncodeInput(%+v)) = %v (%s)", in, err, b)
		}
		if d := cmp.Diff(in, again); d != "" {
			t.Fatalf("round trip changed the input (-first +second):\n%s", d)
		}
		b2, err := EncodeInput(again)
		if err != nil || string(b2) != string(b) {
			t.Fatalf("encoding not stable: %s then %s (%v)", b, b2, err)
		}
	})
}
